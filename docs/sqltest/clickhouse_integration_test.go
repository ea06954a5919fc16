//go:build integration

package sqltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tickflow/tickflow/sink/clickhouse"
)

// chAddr returns TICKFLOW_CLICKHOUSE, skipping the test when it is unset.
func chAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("TICKFLOW_CLICKHOUSE")
	if addr == "" {
		t.Skip("TICKFLOW_CLICKHOUSE is not set: start a real server with " +
			"deploy/ci/clickhouse.sh start and set TICKFLOW_CLICKHOUSE=127.0.0.1:19000")
	}
	return addr
}

// loadClickHouse writes m through the ClickHouse store's Write into a new database of the
// server at addr (legacy dialect on 18.16), dropped when the test ends.
func loadClickHouse(t testing.TB, addr string, m *market, batch int) clickhouse.Config {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cfg := clickhouse.Config{Addr: addr, Database: "tickflow_sql_" + hex.EncodeToString(rnd[:])}
	t.Cleanup(func() {
		c, err := ch.Open(&ch.Options{Addr: []string{addr}})
		if err != nil {
			t.Logf("drop %s: %v", cfg.Database, err)
			return
		}
		defer c.Close()
		if err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
			t.Logf("drop %s: %v", cfg.Database, err)
		}
	})
	ctx := context.Background()
	s, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, b := range m.batches(batch) {
		res, err := s.Write(ctx, b)
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if res.Duplicates.Total() != 0 {
			t.Fatalf("write: %d duplicates in generated data", res.Duplicates.Total())
		}
	}
	return cfg
}

// TestIntegrationClickHouseLegacyQueries runs every ClickHouse 18.16 query of docs/sql.md
// through the read-only Querier (what tickflow sql --clickhouse-dsn and the HTTP endpoint
// use) on the real 18.16 server and compares it with the result computed in Go.
func TestIntegrationClickHouseLegacyQueries(t *testing.T) {
	addr := chAddr(t)
	d := readDoc(t)
	qs := d.forEngine(engLegacy)
	if len(qs) == 0 {
		t.Fatal("no clickhouse-legacy queries in docs/sql.md")
	}
	m := generate(unitConfig)
	cfg := loadClickHouse(t, addr, m, 20_000)
	q, err := clickhouse.OpenQuerier(context.Background(), cfg, clickhouse.QueryConfig{MaxRows: 10_000_000})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, nq := range qs {
		t.Run(nq[0], func(t *testing.T) {
			rows, err := q.Query(context.Background(), nq[1])
			if err != nil {
				t.Fatalf("%v\n%s", err, nq[1])
			}
			if rows.Truncated {
				t.Fatal("result truncated")
			}
			compare(t, "clickhouse 18.16 "+nq[0], rows.Values, rows.Columns, expectations[nq[0]](m))
		})
	}
}

// TestIntegrationClickHouseModernQueries runs every modern-ClickHouse query of docs/sql.md
// on a current engine (PyPI's chdb, in-process), over the modern DDL, loaded with the rows
// the 18.16 store wrote (testdata/chdb_queries.py), and compares them with the results
// computed in Go. Skipped when python3 cannot import chdb (deploy/ci/chdb.sh install).
func TestIntegrationClickHouseModernQueries(t *testing.T) {
	addr := chAddr(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: the modern queries run on chdb")
	}
	if out, err := exec.Command(py, "-c", "import chdb").CombinedOutput(); err != nil {
		t.Skipf("python3 cannot import chdb (deploy/ci/chdb.sh install): %v: %s", err, out)
	}
	httpBase := os.Getenv("TICKFLOW_CLICKHOUSE_HTTP")
	if httpBase == "" {
		httpBase = "http://127.0.0.1:18123" // deploy/ci/clickhouse.sh's HTTP port
	}
	d := readDoc(t)
	qs := d.forEngine(engModern)
	if len(qs) == 0 {
		t.Fatal("no clickhouse-modern queries in docs/sql.md")
	}
	m := generate(unitConfig)
	cfg := loadClickHouse(t, addr, m, 20_000)
	byName := map[string]string{}
	for _, nq := range qs {
		byName[nq[0]] = nq[1]
	}
	qfile := filepath.Join(t.TempDir(), "queries.json")
	b, _ := json.Marshal(byName)
	if err := os.WriteFile(qfile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, filepath.Join("testdata", "chdb_queries.py"), httpBase,
		cfg.Database, filepath.Join("..", "..", "sink", "clickhouse", "migrations", "modern"), qfile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chdb_queries.py: %v\n%s", err, stderr.String())
	}
	var res struct {
		Version string         `json:"version"`
		Copied  map[string]int `json:"copied"`
		Results map[string]struct {
			Columns []string `json:"columns"`
			Rows    [][]any  `json:"rows"`
			Error   string   `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("chdb output: %v: %.2000s", err, out)
	}
	t.Logf("chdb engine %s, rows copied from 18.16: %v", res.Version, res.Copied)
	if res.Copied["trades"] != len(m.trades) {
		t.Fatalf("copied %d trades, want %d", res.Copied["trades"], len(m.trades))
	}
	for _, nq := range qs {
		t.Run(nq[0], func(t *testing.T) {
			r, ok := res.Results[nq[0]]
			if !ok {
				t.Fatal("no result")
			}
			if r.Error != "" {
				t.Fatalf("%s\n%s", strings.TrimSpace(r.Error), nq[1])
			}
			compare(t, "modern clickhouse "+nq[0], r.Rows, r.Columns, expectations[nq[0]](m))
		})
	}
}
