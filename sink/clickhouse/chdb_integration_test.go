//go:build integration

package clickhouse

import (
	"fmt"
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
	m := DialectModern
	for table, cols := range map[string][]string{
		"trades":         tradeColumns(m),
		"integrity":      integrityColumns(m),
		"coverage":       coverageColumns(m),
		"offsets":        offsetColumns,
		"book_updates":   bookUpdateColumns(m),
		"book_snapshots": bookSnapshotColumns(m),
		"book_status":    bookStatusColumns(m),
		"bbo":            bboColumns(m),
		"funding":        fundingColumns(m),
		"open_interest":  openInterestColumns(m),
		"liquidations":   liquidationColumns(m),
		"instruments":    instrumentColumns(m),
	} {
		args = append(args, table+"="+strings.Join(cols, ","))
	}
	// The writer's queries that 18.16 cannot check for the modern dialect, with their
	// parameters bound as literals (the script's data is on 2026-01-01).
	day1 := int64(1767225600) * 1e9
	args = append(args,
		"sql:rebuild_1m="+bindLiterals(rebuildCandlesSQL(m, Candles1m, false, false), day1, day1+60e9),
		"sql:rebuild_all="+bindLiterals(rebuildAllCandlesSQL(m), day1, day1+86400e9),
		"sql:book_levels_at="+bindLiterals(bookLevelsSQL(m, 0), 2,
			"binance", "BTC-USDT", 1, 1, 2, day1+100, day1+200,
			"binance", "BTC-USDT", 1, 1, 2, day1+100, day1+200))
	out, err := exec.Command(py, args...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("chdb check failed: %v", err)
	}
	if !strings.Contains(string(out), " 0 failed") {
		t.Fatalf("chdb check did not report success")
	}
}

// bindLiterals replaces each ? of q with the next value as a SQL literal.
func bindLiterals(q string, vals ...any) string {
	var b strings.Builder
	for _, part := range strings.SplitAfter(q, "?") {
		if strings.HasSuffix(part, "?") && len(vals) > 0 {
			b.WriteString(strings.TrimSuffix(part, "?"))
			switch v := vals[0].(type) {
			case string:
				b.WriteString("'" + v + "'")
			default:
				b.WriteString(fmt.Sprint(v))
			}
			vals = vals[1:]
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}
