//go:build integration

package sqltest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/sink/clickhouse"
	"github.com/tickflow/tickflow/sink/duckdb"
)

// TestIntegrationTiming times the docs/sql.md queries over a large generated market (10
// million trades by default: one day, five instruments, plus half as many quotes and a
// snapshot every 10 s) on DuckDB and on ClickHouse 18.16, and reports the bytes each store
// uses per trade. Minutes long, so not part of CI: it runs only with TICKFLOW_SQL_TIMING=1
// (TICKFLOW_SQL_TIMING_TRADES sets the number of trades):
//
//	TICKFLOW_SQL_TIMING=1 TICKFLOW_CLICKHOUSE=127.0.0.1:19000 \
//	  go test -tags integration -run TestIntegrationTiming -v -timeout 2h ./docs/sqltest/
//
// Each query is timed as SELECT count(*) FROM (<query>) (the engine's work without moving
// the result to the client), best of three runs; ohlcv_1m is also timed returning its rows.
func TestIntegrationTiming(t *testing.T) {
	if os.Getenv("TICKFLOW_SQL_TIMING") == "" {
		t.Skip("set TICKFLOW_SQL_TIMING=1 to run the query timings (minutes)")
	}
	addr := chAddr(t)
	total := 10_000_000
	if s := os.Getenv("TICKFLOW_SQL_TIMING_TRADES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		total = n
	}
	ctx := context.Background()
	if db := os.Getenv("TICKFLOW_SQL_TIMING_DB"); db != "" {
		// Re-time the ClickHouse queries on a database a previous run loaded (kept when that
		// run was interrupted): no load, no DuckDB.
		timeClickHouse(t, clickhouse.Config{Addr: addr, Database: db}, readDoc(t))
		return
	}
	cfg := genConfig{seed: 7, durNs: 86400e9 - 2e9, tradesPer: total / len(instruments)}

	dir := t.TempDir()
	dpath := filepath.Join(dir, "tickflow.duckdb")
	ds, err := duckdb.Open(ctx, duckdb.Config{Path: dpath, MemoryLimit: "8GB",
		QueryTimeout: 30 * time.Minute, QueryMaxRows: 10_000_000})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	ccfg := loadClickHouse(t, addr, &market{}, 1) // an empty database, dropped at the end
	cs, err := clickhouse.Open(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	// One instrument at a time, so memory holds one instrument's events.
	r := rand.New(rand.NewPCG(cfg.seed, 1))
	walks := map[string]*walk{}
	var duckW, chW time.Duration
	var trades, events int
	for i, in := range instruments {
		if walks[in.symbol] == nil {
			walks[in.symbol] = newWalk(r, cfg.durNs)
		}
		m := &market{start: baseNs, end: baseNs + cfg.durNs, openGaps: map[string][]window{}}
		disc := window{baseNs + cfg.durNs/3, baseNs + cfg.durNs/3 + 600e9}
		genInstrument(r, m, in, walks[in.symbol], cfg, i == 0, disc, false, window{})
		trades += len(m.trades)
		events += len(m.trades) + len(m.bbos) + len(m.snaps) + len(m.integrity)
		start := time.Now()
		for _, b := range m.batches(100_000) {
			if _, err := ds.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		duckW += time.Since(start)
		start = time.Now()
		for _, b := range m.batches(1_000_000) {
			if _, err := cs.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		chW += time.Since(start)
		t.Logf("%s/%s: %d trades written", in.venue, in.symbol, len(m.trades))
	}
	t.Logf("written: %d trades, %d events; DuckDB %v (%.0f events/s), ClickHouse 18.16 %v (%.0f events/s)",
		trades, events, duckW.Round(time.Millisecond), float64(events)/duckW.Seconds(),
		chW.Round(time.Millisecond), float64(events)/chW.Seconds())

	// Bytes per stored trade.
	rows, err := ds.Query(ctx, `SELECT count(DISTINCT block_id) * 262144 FROM pragma_storage_info('trades')
		WHERE persistent`)
	if err == nil && len(rows.Values) == 1 {
		t.Logf("DuckDB trades: ~%v bytes in their blocks, %.1f bytes/trade (whole file with quotes and books: %s)",
			rows.Values[0][0], toFloat(rows.Values[0][0])/float64(trades), fileSize(dpath))
	} else {
		t.Logf("DuckDB storage info: %v", err)
	}
	d := readDoc(t)
	timeQueries(t, ds, nil, engDuckDB, d)
	timeClickHouse(t, ccfg, d)
}

// timeClickHouse reports the bytes per trade of the database of cfg and times its queries
// on 18.16 and on modern ClickHouse (chdb).
func timeClickHouse(t *testing.T, cfg clickhouse.Config, d *docQueries) {
	ctx := context.Background()
	q, err := clickhouse.OpenQuerier(ctx, cfg, clickhouse.QueryConfig{Timeout: 30 * time.Minute,
		MaxRows: 10_000_000, MaxMemory: 8 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	crow, err := q.Query(ctx, fmt.Sprintf(`SELECT sum(bytes_on_disk), sum(rows), count() FROM system.parts
		WHERE database = '%s' AND table = 'trades' AND active`, cfg.Database))
	if err != nil {
		t.Fatal(err)
	}
	trades := int(toFloat(crow.Values[0][1]))
	t.Logf("ClickHouse 18.16 trades: %v bytes on disk in %v active parts, %.1f bytes/trade",
		crow.Values[0][0], crow.Values[0][2], toFloat(crow.Values[0][0])/float64(trades))
	timeQueries(t, nil, q, engLegacy, d)
	timeModern(t, cfg.Database, trades, d)
}

// timeQueries times the queries of eng (on ds for DuckDB, q for ClickHouse 18.16), those
// whose name matches TICKFLOW_SQL_TIMING_QUERIES when it is set.
func timeQueries(t *testing.T, ds *duckdb.Store, q *clickhouse.Querier, eng string, d *docQueries) {
	ctx := context.Background()
	var only *regexp.Regexp
	if s := os.Getenv("TICKFLOW_SQL_TIMING_QUERIES"); s != "" {
		only = regexp.MustCompile(s)
	}
	type run struct{ eng, name, sql string }
	var runs []run
	for _, eng := range []string{eng} {
		for _, nq := range d.forEngine(eng) {
			if only != nil && !only.MatchString(nq[0]) {
				continue
			}
			runs = append(runs, run{eng, nq[0], "SELECT count(*) AS n FROM (" + nq[1] + ")"})
			if nq[0] == "ohlcv_1m" || nq[0] == "ohlcv_1m_candles" {
				runs = append(runs, run{eng, nq[0] + " (rows returned)", nq[1]})
			}
			if nq[0] == "ohlcv_1m" {
				// The same bars over the stored rows without deduplication: what the
				// deduplication costs (the generated data has no duplicates).
				raw := rawTrades(eng, nq[1])
				if raw == nq[1] {
					t.Fatalf("%s ohlcv_1m: cannot make the raw variant", eng)
				}
				runs = append(runs, run{eng, "ohlcv_1m (no dedup)", "SELECT count(*) AS n FROM (" + raw + ")"})
			}
		}
	}
	for _, rn := range runs {
		var times []time.Duration
		var n int
		for range 3 {
			start := time.Now()
			switch rn.eng {
			case engDuckDB:
				res, err := ds.Query(ctx, rn.sql)
				if err != nil {
					t.Fatalf("duckdb %s: %v", rn.name, err)
				}
				n = len(res.Values)
				if len(res.Values) == 1 && len(res.Columns) == 1 {
					n = int(toFloat(res.Values[0][0]))
				}
			default:
				res, err := q.Query(ctx, rn.sql)
				if err != nil {
					t.Fatalf("clickhouse %s: %v", rn.name, err)
				}
				n = len(res.Values)
				if len(res.Values) == 1 && len(res.Columns) == 1 {
					n = int(toFloat(res.Values[0][0]))
				}
			}
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		t.Logf("TIMING %-18s %-24s best %8v median %8v rows %d", rn.eng, rn.name,
			times[0].Round(time.Millisecond), times[1].Round(time.Millisecond), n)
		if n == 0 {
			t.Errorf("%s %s returned nothing", rn.eng, rn.name)
		}
	}
}

// timeModern copies the 18.16 database into chdb's modern schema (testdata/chdb_queries.py
// --time), reports the modern bytes per trade and times the modern queries.
func timeModern(t *testing.T, database string, trades int, d *docQueries) {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import chdb").Run() != nil {
		t.Log("chdb not available: modern ClickHouse not timed")
		return
	}
	byName := map[string]string{}
	for _, nq := range d.forEngine(engModern) {
		byName[nq[0]] = nq[1]
	}
	qfile := filepath.Join(t.TempDir(), "queries.json")
	b, _ := json.Marshal(byName)
	if err := os.WriteFile(qfile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(py, filepath.Join("testdata", "chdb_queries.py"), "http://127.0.0.1:18123",
		database, filepath.Join("..", "..", "sink", "clickhouse", "migrations", "modern"), qfile, "--time")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chdb_queries.py: %v\n%s", err, stderr.String())
	}
	var res struct {
		Version string           `json:"version"`
		Copied  map[string]int   `json:"copied"`
		Bytes   map[string]int64 `json:"bytes"`
		Results map[string]struct {
			Rows     int     `json:"rows"`
			BestMs   float64 `json:"best_ms"`
			MedianMs float64 `json:"median_ms"`
			Error    string  `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("chdb output: %v: %.2000s", err, out)
	}
	t.Logf("modern ClickHouse (chdb %s): copied %v in %v; trades %d bytes on disk after OPTIMIZE FINAL, %.1f bytes/trade",
		res.Version, res.Copied, time.Since(start).Round(time.Second), res.Bytes["trades"],
		float64(res.Bytes["trades"])/float64(trades))
	names := slices.Sorted(maps.Keys(res.Results))
	for _, name := range names {
		r := res.Results[name]
		if r.Error != "" {
			t.Errorf("modern %s: %s", name, r.Error)
			continue
		}
		t.Logf("TIMING %-18s %-24s best %8v median %8v rows %d", engModern, name,
			time.Duration(r.BestMs*1e6).Round(time.Millisecond),
			time.Duration(r.MedianMs*1e6).Round(time.Millisecond), r.Rows)
	}
}

// rawTrades rewrites a docs/sql.md bar query to read trades without deduplicating them.
func rawTrades(eng, q string) string {
	switch eng {
	case engDuckDB:
		return strings.Replace(q, "FROM trades_range(TIMESTAMP '2026-01-01', TIMESTAMP '2026-01-02')",
			"FROM trades WHERE recv_time >= TIMESTAMP '2026-01-01' AND recv_time < TIMESTAMP '2026-01-02'", 1)
	case engLegacy:
		q = strings.Replace(q, "    ORDER BY venue, symbol, trade_id_num, trade_id_text, parser_version DESC, epoch, seq, idx\n", "", 1)
		return strings.Replace(q, "    LIMIT 1 BY venue, symbol, trade_id_num, trade_id_text\n", "", 1)
	}
	return q
}

func toFloat(v any) float64 {
	f, _ := strconv.ParseFloat(fmt.Sprint(v), 64)
	return f
}

func fileSize(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%.1f MiB", float64(st.Size())/(1<<20))
}
