//go:build integration

package clickhouse

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationModernDDLWithChdb applies the modern-dialect migrations on a current
// ClickHouse engine (PyPI's chdb, in-process), since the 18.16 server of these machines
// cannot run them, and checks that the writer's INSERT column lists match the modern tables.
// Skipped when python3 cannot import chdb (deploy/ci/chdb.sh install).
func TestIntegrationModernDDLWithChdb(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: the modern DDL check needs python3 with chdb")
	}
	if out, err := exec.Command(py, "-c", "import chdb").CombinedOutput(); err != nil {
		t.Skipf("python3 cannot import chdb (install it with deploy/ci/chdb.sh install): %v: %s",
			err, strings.TrimSpace(string(out)))
	}
	args := []string{filepath.Join("testdata", "chdb_modern.py")}
	for table, cols := range map[string][]string{
		"trades":    tradeColumns(DialectModern),
		"integrity": integrityColumns(DialectModern),
		"coverage":  coverageColumns(DialectModern),
		"offsets":   offsetColumns,
	} {
		args = append(args, table+"="+strings.Join(cols, ","))
	}
	out, err := exec.Command(py, args...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("chdb check failed: %v", err)
	}
	if !strings.Contains(string(out), " 0 failed") {
		t.Fatalf("chdb check did not report success")
	}
}
