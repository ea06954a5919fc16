package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/archive"
	"github.com/tickflow/tickflow/archive/rerun"
	"github.com/tickflow/tickflow/collectors"
	binancesim "github.com/tickflow/tickflow/collectors/sim/binance"
	"github.com/tickflow/tickflow/sink/duckdb"
)

// TestEndToEndArchiveRenormalize runs `tickflow run` against the simulator (trades, diff
// depth with REST snapshots, bookTicker), stops it, and checks the loop the archive exists
// for: the archive holds every raw record of the run with contiguous offsets and no holes,
// and `tickflow renormalize --parser-version 2` over it reproduces exactly what the live
// pipeline stored (normalization is deterministic), every view then showing version 2.
func TestEndToEndArchiveRenormalize(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const total = 3000
	sim, err := binancesim.New(binancesim.Config{Seed: 11, Symbols: 3, TradeRate: 2000, MaxTrades: total, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	h := startPipeline(t, dir, "--binance-ws", "ws://"+sim.Addr(), "--binance-rest", "http://"+sim.Addr(),
		"--binance-depth-limit", "100")
	waitFor(t, 30*time.Second, "collector subscription", func() bool {
		return metric(t, h.info.HTTPAddr, "tickflow_collector_frames_total", `dir="in"`) >= 1
	})
	sim.StartTrading()
	waitFor(t, 60*time.Second, "all trades stored", func() bool {
		n, err := queryInt(h.info.HTTPAddr, "SELECT count(*) FROM trades")
		return err == nil && n >= total
	})
	time.Sleep(1500 * time.Millisecond) // the archiver flushes every second
	h.stop(t)

	// The archive: contiguous offsets from 0, no holes, and as many records as the raw
	// topic holds (read back through the embedded broker's data).
	root := filepath.Join(dir, "archive")
	parts, err := archive.Partitions(root, "binance")
	if err != nil || len(parts) == 0 {
		t.Fatalf("no archived partitions (%v)", err)
	}
	o := renormOptions{store: storeFlags{dataDir: dir}, venues: "binance"}
	brokers, stopBroker, err := o.rawBrokers(slog.New(slog.DiscardHandler))
	if err != nil || len(brokers) == 0 {
		t.Fatalf("embedded broker data: %v", err)
	}
	spans, err := archive.RawOffsets(context.Background(), brokers, "binance")
	stopBroker()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		r, err := archive.OpenPartition(root, "binance", p)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Offset != want {
				t.Fatalf("partition %d: offset %d where %d was expected", p, rec.Offset, want)
			}
			want++
		}
		if len(r.Holes()) != 0 || want != spans[p].End {
			t.Fatalf("partition %d: archived %d records, holes %v; the topic ends at %d", p, want, r.Holes(), spans[p].End)
		}
		r.Close()
	}

	// Renormalize everything with version 2: the same events, now the newest version.
	before := kindCounts(t, dir, 1)
	o.parserVersion = 2
	var out bytes.Buffer
	if err := renormalize(context.Background(), o, collectors.Default, slog.New(slog.DiscardHandler), &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "FAILED") || strings.Contains(out.String(), "holes") {
		t.Logf("report:\n%s", out.String())
	}
	after := kindCounts(t, dir, 2)
	for kind, n := range before {
		if after[kind] != n {
			t.Errorf("%s: live stored %d rows (v1), renormalize %d (v2)", kind, n, after[kind])
		}
	}
	t.Logf("live (v1) and renormalized (v2) rows per kind: %v / %v", before, after)
	if before["trade"] < total || before["book"] == 0 || before["bbo"] == 0 {
		t.Fatalf("live stored %v, want %d trades and some books and BBOs", before, total)
	}
	// The archive exported as import lines and imported into a fresh store gives the same
	// trades (the two formats carry the same records).
	var exported bytes.Buffer
	if code := mainErr([]string{"archive", "export", "--data-dir", dir}, &exported, io.Discard); code != 0 {
		t.Fatalf("archive export: exit %d", code)
	}
	fresh := t.TempDir()
	var rep bytes.Buffer
	r2, err := rerun.New(rerun.Config{Store: openStore(t, fresh), Reimport: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rerun.ImportJSONL(context.Background(), &exported, r2); err != nil {
		t.Fatal(err)
	}
	res, err := r2.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = res.WriteText(&rep)
	if kr := res.Venues[0].Events["trade"]; kr == nil || int64(kr.Stored) != before["trade"] {
		t.Fatalf("import of the exported archive:\n%s\nwant %d trades stored", rep.String(), before["trade"])
	}
	st, err := duckdb.OpenReadOnly(context.Background(), filepath.Join(dir, "tickflow.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	lv, err := st.Query(context.Background(), "SELECT (SELECT count(*) FROM book_levels_v), "+
		"(SELECT count(*) FROM book_levels WHERE parser_version = 2), (SELECT count(*) FROM book_levels WHERE parser_version = 1)")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if v := lv.Values[0]; v[0] != v[1] || v[1] != v[2] || v[0] == int64(0) {
		t.Fatalf("book_levels_v has %v levels; v2 %v, v1 %v: want all three equal and non-zero", v[0], v[1], v[2])
	}
	newest := kindCounts(t, dir, -1)
	for kind, n := range before {
		if newest[kind] != n {
			t.Errorf("%s: %d rows are the newest version, want all %d (v2)", kind, newest[kind], n)
		}
	}
}

// openStore opens a DuckDB store in dir, closed at the end of the test.
func openStore(t *testing.T, dir string) *duckdb.Store {
	t.Helper()
	st, err := duckdb.Open(context.Background(), duckdb.Config{Path: filepath.Join(dir, "tickflow.duckdb")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// kindCounts returns, per kind, the rows of parser version v (v < 0: rows that are the newest
// version of their event id), from the parser_versions view.
func kindCounts(t *testing.T, dir string, v int) map[string]int64 {
	t.Helper()
	st, err := duckdb.OpenReadOnly(context.Background(), filepath.Join(dir, "tickflow.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q := "SELECT kind, sum(rows) FROM parser_versions WHERE venue = 'binance' AND parser_version = ? GROUP BY kind"
	args := []any{v}
	if v < 0 {
		q, args = "SELECT kind, sum(newest_rows) FROM parser_versions WHERE venue = 'binance' AND parser_version = 2 GROUP BY kind", nil
	}
	rows, err := st.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rows.Values {
		switch n := r[1].(type) {
		case int64:
			out[r[0].(string)] = n
		default:
			var x int64
			if b, ok := n.(interface{ Int64() int64 }); ok {
				x = b.Int64()
			}
			out[r[0].(string)] = x
		}
	}
	return out
}
