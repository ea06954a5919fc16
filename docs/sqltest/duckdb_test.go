package sqltest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tickflow/tickflow/sink/duckdb"
)

// unitConfig is the market of the unit and integration tiers: three hours, so that hourly
// bars have neighbours, and enough trades per second for cross-venue pairs.
var unitConfig = genConfig{seed: 42, durNs: 3 * 3600e9, tradesPer: 6000}

// loadDuckDB writes m into a new DuckDB store through its Write.
func loadDuckDB(t testing.TB, m *market, dir string, batch int) *duckdb.Store {
	t.Helper()
	ctx := context.Background()
	s, err := duckdb.Open(ctx, duckdb.Config{Path: filepath.Join(dir, "tickflow.duckdb"),
		QueryMaxRows: 10_000_000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, b := range m.batches(batch) {
		res, err := s.Write(ctx, b)
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if res.Duplicates.Total() != 0 {
			t.Fatalf("write: %d duplicates in generated data", res.Duplicates.Total())
		}
	}
	return s
}

// TestDuckDBQueries runs every DuckDB query of docs/sql.md through the store's hardened
// query path (Store.Query, what /query and tickflow sql use) and compares its result with
// the one computed in Go.
func TestDuckDBQueries(t *testing.T) {
	d := readDoc(t)
	m := generate(unitConfig)
	s := loadDuckDB(t, m, t.TempDir(), 20_000)
	qs := d.forEngine(engDuckDB)
	if len(qs) == 0 {
		t.Fatal("no duckdb queries in docs/sql.md")
	}
	for _, nq := range qs {
		t.Run(nq[0], func(t *testing.T) {
			rows, err := s.Query(context.Background(), nq[1])
			if err != nil {
				t.Fatalf("%v\n%s", err, nq[1])
			}
			if rows.Truncated {
				t.Fatal("result truncated")
			}
			compare(t, "duckdb "+nq[0], rows.Values, rows.Columns, expectations[nq[0]](m))
		})
	}
}
