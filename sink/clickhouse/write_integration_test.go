//go:build integration

package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

func TestIntegrationWriteStoresExactValues(t *testing.T) {
	s := openCfg(t, testConfig(t))
	tr := mkTrade("binance", "BTC-USDT", 7, 123456789)
	tr.ExchTime = 0 // unknown: stored as NULL
	tr.Side = md.SideSell
	tr.Source = md.SourceBackfill
	text, err := md.TextID([]byte("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"))
	if err != nil {
		t.Fatal(err)
	}
	tr2 := mkTrade("bybit", "BTC-USDT-PERP", 8, 0)
	tr2.ID = text
	res := write(t, s, &sink.Batch{Trades: []md.Trade{tr, tr2}})
	if res.Written.Trades != 2 || res.Duplicates.Trades != 0 {
		t.Fatalf("result %+v", res)
	}
	d := s.Dialect()
	got := queryStrings(t, s.conn, `SELECT venue, symbol, trade_id, toString(trade_id_num),
		toString(price_mant), toString(price_scale), toString(qty_mant), toString(qty_scale),
		toString(price), toString(qty), toString(side), ifNull(toString(`+timeExpr(d, "exch")+`), 'NULL'),
		toString(`+timeExpr(d, "send")+`), toString(`+timeExpr(d, "recv")+`),
		toString(clock_offset_ns), toString(epoch), toString(seq), toString(idx),
		toString(source), toString(parser_version)
		FROM trades ORDER BY seq`)
	want := [][]string{
		{"binance", "BTC-USDT", "123456789", "123456789", "6500019", "2", "1500", "5", "65000.19",
			"0.015", "sell", "NULL", fmt.Sprint(tr.SendTime), fmt.Sprint(tr.RecvTime), "-7", "1", "7",
			"0", "backfill", "1"},
		{"bybit", "BTC-USDT-PERP", "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "0", "6500020", "2",
			"1500", "5", "65000.2", "0.015", "buy", fmt.Sprint(tr2.ExchTime), fmt.Sprint(tr2.SendTime),
			fmt.Sprint(tr2.RecvTime), "-7", "1", "8", "0", "live", "1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows\n got %q\nwant %q", got, want)
	}

	g := mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, 9)
	g.From, g.To, g.FirstID, g.LastID, g.Count = baseTime+1, baseTime+2, 10, 20, 11
	dis := mkIntegrity("binance", "BTC-USDT", md.IntegrityDisconnect, 10)
	write(t, s, &sink.Batch{Integrity: []md.Integrity{g, dis}})
	got = queryStrings(t, s.conn, `SELECT type, stream, ifNull(toString(`+timeExpr(d, "from")+`), 'NULL'),
		ifNull(toString(`+timeExpr(d, "to")+`), 'NULL'), ifNull(toString(first_id), 'NULL'),
		ifNull(toString(last_id), 'NULL'), toString(count), toString(seq)
		FROM integrity ORDER BY seq`)
	want = [][]string{
		{"gap", "trade", fmt.Sprint(baseTime + 1), fmt.Sprint(baseTime + 2), "10", "20", "11", "9"},
		{"disconnect", "trade", "NULL", "NULL", "NULL", "NULL", "0", "10"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("integrity rows\n got %q\nwant %q", got, want)
	}
}

// TestIntegrationWatermarkDedup runs batches through a store (reopened where a step says so)
// and checks what each write stored and skipped, and the final rows.
func TestIntegrationWatermarkDedup(t *testing.T) {
	a := func(seq uint64) md.Trade { return mkTrade("binance", "BTC-USDT", seq, seq) }
	b := func(seq uint64) md.Trade { return mkTrade("binance", "ETH-USDT", seq, seq) }
	okx := func(seq uint64) md.Trade { return mkTrade("okx", "BTC-USDT", seq, seq) }
	v2 := func(seq uint64) md.Trade { t := a(seq); t.ParserVersion = 2; return t }
	gap := func(seq uint64) md.Integrity { return mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, seq) }
	type step struct {
		reopen    bool
		trades    []md.Trade
		integrity []md.Integrity
		written   sink.KindCounts
		dups      sink.KindCounts
	}
	cases := []struct {
		name  string
		steps []step
		rows  int64 // trades stored at the end
		integ int64
	}{
		{"duplicates within a batch", []step{
			{trades: []md.Trade{a(1), a(2), a(2), a(1), a(3)}, written: sink.KindCounts{Trades: 3},
				dups: sink.KindCounts{Trades: 2}},
		}, 3, 0},
		{"duplicates across batches", []step{
			{trades: []md.Trade{a(1), a(2), a(3)}, written: sink.KindCounts{Trades: 3}},
			{trades: []md.Trade{a(2), a(3), a(4)}, written: sink.KindCounts{Trades: 1},
				dups: sink.KindCounts{Trades: 2}},
		}, 4, 0},
		{"duplicates across reopen", []step{
			{trades: []md.Trade{a(1), a(2), b(5)}, integrity: []md.Integrity{gap(3)},
				written: sink.KindCounts{Trades: 3, Integrity: 1}},
			{reopen: true, trades: []md.Trade{a(1), a(2), a(3), b(5), b(6)},
				integrity: []md.Integrity{gap(3), gap(4)},
				written:   sink.KindCounts{Trades: 2, Integrity: 1},
				dups:      sink.KindCounts{Trades: 3, Integrity: 1}},
		}, 5, 2},
		{"per key", []step{
			{trades: []md.Trade{a(5), b(1), okx(1)}, written: sink.KindCounts{Trades: 3}},
			// a's watermark is 5; b, okx and the new parser version have their own.
			{trades: []md.Trade{a(4), b(2), okx(2), v2(1)}, written: sink.KindCounts{Trades: 3},
				dups: sink.KindCounts{Trades: 1}},
			// Integrity has its own watermark beside trades of the same instrument.
			{integrity: []md.Integrity{gap(1)}, written: sink.KindCounts{Integrity: 1}},
		}, 6, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			s := openCfg(t, cfg)
			for i, st := range c.steps {
				if st.reopen {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = openCfg(t, cfg)
				}
				res := write(t, s, &sink.Batch{Trades: st.trades, Integrity: st.integrity})
				if res.Written != st.written || res.Duplicates != st.dups {
					t.Fatalf("step %d: written %+v dups %+v, want %+v %+v", i, res.Written,
						res.Duplicates, st.written, st.dups)
				}
			}
			if n := queryInt(t, s, "SELECT count() FROM trades"); n != c.rows {
				t.Errorf("trades %d, want %d", n, c.rows)
			}
			if n := queryInt(t, s, "SELECT count() FROM integrity"); n != c.integ {
				t.Errorf("integrity %d, want %d", n, c.integ)
			}
			// No provenance is stored twice.
			if n := queryInt(t, s, `SELECT count() FROM (SELECT venue, symbol, parser_version,
				epoch, seq, idx, count() AS c FROM trades
				GROUP BY venue, symbol, parser_version, epoch, seq, idx HAVING c > 1)`); n != 0 {
				t.Errorf("%d provenances stored twice", n)
			}
		})
	}
}

// TestIntegrationOnePartPerPartition writes a batch spanning midnight: one INSERT per table
// and day, so exactly one new part per table and partition (merges are stopped so that the
// count is exact).
func TestIntegrationOnePartPerPartition(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxInsertRows = 1000
	s := openCfg(t, cfg)
	ctx := context.Background()
	for _, tbl := range []string{"trades", "integrity"} {
		if err := s.conn.Exec(ctx, "SYSTEM STOP MERGES "+cfg.Database+"."+tbl); err != nil {
			t.Fatal(err)
		}
	}
	day := int64(86_400_000_000_000)
	var b sink.Batch
	for i := range 3000 {
		tr := mkTrade("binance", "BTC-USDT", uint64(i+1), uint64(i+1))
		tr.RecvTime = baseTime + day - 1_000_000 + int64(i)*1000 // crosses midnight at i=1000
		b.Trades = append(b.Trades, tr)
		if i%100 == 0 {
			g := mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, uint64(i+1))
			g.RecvTime = tr.RecvTime
			b.Integrity = append(b.Integrity, g)
		}
	}
	write(t, s, &b)
	got := queryStrings(t, s.conn, `SELECT table, partition, toString(count()), toString(sum(rows))
		FROM system.parts WHERE database = ? AND active AND table IN ('trades', 'integrity')
		GROUP BY table, partition ORDER BY table, partition`, cfg.Database)
	want := [][]string{
		{"integrity", "20260101", "1", "10"},
		{"integrity", "20260102", "1", "20"},
		// 2000 rows on the second day, over MaxInsertRows: two INSERTs, two parts.
		{"trades", "20260101", "1", "1000"},
		{"trades", "20260102", "2", "2000"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parts\n got %q\nwant %q", got, want)
	}
}

// TestIntegrationFailedWriteRetry makes a Write fail after some of its INSERTs landed, in
// the ways a real failure can look, and retries the same batch: nothing is stored twice,
// nothing is missing.
func TestIntegrationFailedWriteRetry(t *testing.T) {
	mkBatch := func() *sink.Batch {
		day := int64(86_400_000_000_000)
		var b sink.Batch
		for i := range 400 {
			for _, sym := range []string{"BTC-USDT", "ETH-USDT"} {
				tr := mkTrade("binance", sym, uint64(i+1), uint64(i+1))
				tr.RecvTime = baseTime + day - 200_000 + int64(i)*1000 // two days
				b.Trades = append(b.Trades, tr)
			}
		}
		g := mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, 1)
		b.Integrity = []md.Integrity{g}
		b.Offsets = offsets(transport.TopicTrades, 0, 800, transport.TopicIntegrity, 0, 1)
		return &b
	}
	check := func(t *testing.T, s *Store) {
		t.Helper()
		if n := queryInt(t, s, "SELECT count() FROM trades"); n != 800 {
			t.Errorf("trades %d, want 800", n)
		}
		if n := queryInt(t, s, "SELECT uniqExact(symbol, seq) FROM trades"); n != 800 {
			t.Errorf("distinct trades %d, want 800", n)
		}
		if n := queryInt(t, s, "SELECT count() FROM integrity"); n != 1 {
			t.Errorf("integrity %d, want 1", n)
		}
		offs, err := s.Offsets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := offsets(transport.TopicIntegrity, 0, 1, transport.TopicTrades, 0, 800); !reflect.DeepEqual(offs, want) {
			t.Errorf("offsets %v, want %v", offs, want)
		}
	}

	// The acknowledgement of the n-th INSERT is lost (it landed).
	for _, failAt := range []string{"coverage", "integrity", "trades#1", "trades#2", "offsets"} {
		t.Run("ack lost after "+failAt, func(t *testing.T) {
			s := openCfg(t, testConfig(t))
			counts := map[string]int{}
			s.failpoint = func(table string) error {
				counts[table]++
				if fmt.Sprintf("%s#%d", table, counts[table]) == failAt || table == failAt {
					return errors.New("connection reset (simulated)")
				}
				return nil
			}
			b := mkBatch()
			if _, err := s.Write(context.Background(), b); err == nil {
				t.Fatal("write succeeded through the failpoint")
			}
			s.failpoint = nil
			res, err := s.Write(context.Background(), b)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if res.Written.Total()+res.Duplicates.Total() != 801 {
				t.Errorf("retry result %+v", res)
			}
			check(t, s)
		})
	}

	// The connection is cut in the middle of an INSERT's data: the server drops it.
	t.Run("connection cut mid insert", func(t *testing.T) {
		cfg := testConfig(t)
		var cut atomic.Int64 // bytes still allowed before the cut; 0: no cut armed
		var mu sync.Mutex
		var conns []net.Conn
		cfg.dial = func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			return &cutConn{Conn: c, budget: &cut}, nil
		}
		s := openCfg(t, cfg)
		b := mkBatch()
		cut.Store(20_000) // less than the trades INSERT's block
		if _, err := s.Write(context.Background(), b); err == nil {
			t.Fatal("write succeeded through the cut")
		}
		cut.Store(0)
		res, err := s.Write(context.Background(), b)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		t.Logf("retry wrote %+v, skipped %+v", res.Written, res.Duplicates)
		check(t, s)
	})

	// The process dies between the rows and the offsets: a new store resumes from the old
	// offsets, and the re-delivered batch is all duplicates.
	t.Run("crash before offsets", func(t *testing.T) {
		cfg := testConfig(t)
		s := openCfg(t, cfg)
		s.failpoint = func(table string) error {
			if table == "trades" {
				return errors.New("killed (simulated)")
			}
			return nil
		}
		b := mkBatch()
		if _, err := s.Write(context.Background(), b); err == nil {
			t.Fatal("write succeeded through the failpoint")
		}
		_ = s.Close()
		s2 := openCfg(t, cfg)
		offs, err := s2.Offsets(context.Background())
		if err != nil || len(offs) != 0 {
			t.Fatalf("offsets after the crash %v, %v; want none", offs, err)
		}
		res, err := s2.Write(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		// The first day's trades (400) and the gap landed before the "crash".
		if res.Written != (sink.KindCounts{Trades: 400}) ||
			res.Duplicates != (sink.KindCounts{Trades: 400, Integrity: 1}) {
			t.Errorf("re-delivery wrote %+v, skipped %+v", res.Written, res.Duplicates)
		}
		check(t, s2)
	})
}

// cutConn fails its writes once budget (when armed, > 0) bytes have been written, and
// closes the connection, like a network cut in the middle of a request.
type cutConn struct {
	net.Conn
	budget *atomic.Int64
}

func (c *cutConn) Write(p []byte) (int, error) {
	if b := c.budget.Load(); b > 0 {
		if int64(len(p)) >= b {
			c.budget.Store(0)
			n, _ := c.Conn.Write(p[:b/2])
			_ = c.Conn.Close()
			return n, errors.New("connection cut (test)")
		}
		c.budget.Add(-int64(len(p)))
	}
	return c.Conn.Write(p)
}

func TestIntegrationOffsetsRoundTrip(t *testing.T) {
	cfg := testConfig(t)
	s := openCfg(t, cfg)
	ctx := context.Background()
	if offs, err := s.Offsets(ctx); err != nil || offs != nil {
		t.Fatalf("fresh store offsets %v, %v", offs, err)
	}
	write(t, s, &sink.Batch{Offsets: offsets(transport.TopicTrades, 0, 10, transport.TopicTrades, 3, 7)})
	write(t, s, &sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)},
		Offsets: offsets(transport.TopicTrades, 0, 25, transport.TopicIntegrity, 1, 2)})
	want := offsets(transport.TopicIntegrity, 1, 2, transport.TopicTrades, 0, 25,
		transport.TopicTrades, 3, 7)
	if offs, err := s.Offsets(ctx); err != nil || !reflect.DeepEqual(offs, want) {
		t.Fatalf("offsets %v, %v; want %v", offs, err, want)
	}
	_ = s.Close()
	s = openCfg(t, cfg)
	if offs, err := s.Offsets(ctx); err != nil || !reflect.DeepEqual(offs, want) {
		t.Fatalf("after reopen %v, %v; want %v", offs, err, want)
	}
	// A later, lower offset (a topic re-created) wins too: versions order the rows, not offsets.
	write(t, s, &sink.Batch{Offsets: offsets(transport.TopicTrades, 0, 3)})
	want[1].Next = 3
	if offs, err := s.Offsets(ctx); err != nil || !reflect.DeepEqual(offs, want) {
		t.Fatalf("after a lower offset %v, %v; want %v", offs, err, want)
	}
	if n := queryInt(t, s, "SELECT count() FROM offsets_v"); n != 3 {
		t.Errorf("offsets_v rows %d, want 3", n)
	}
}

func TestIntegrationCoverage(t *testing.T) {
	cfg := testConfig(t)
	s := openCfg(t, cfg)
	gap := mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, 1)
	gap.FirstID, gap.LastID, gap.From, gap.To = 10, 20, baseTime+10, baseTime+20
	dis := mkIntegrity("binance", "BTC-USDT", md.IntegrityDisconnect, 2)
	dis.From, dis.To = baseTime+100, baseTime+200
	bf1 := mkIntegrity("binance", "BTC-USDT", md.IntegrityBackfill, 3)
	bf1.FirstID, bf1.LastID = 12, 15
	write(t, s, &sink.Batch{Integrity: []md.Integrity{gap, dis, bf1}})
	gaps := func() [][]string {
		return queryStrings(t, s.conn, `SELECT reason, toString(first_id), toString(last_id)
			FROM coverage_gaps ORDER BY seq, first_id`)
	}
	want := [][]string{{"gap", "10", "11"}, {"gap", "16", "20"}, {"disconnect", "0", "0"}}
	if got := gaps(); !reflect.DeepEqual(got, want) {
		t.Fatalf("gaps after one batch\n got %q\nwant %q", got, want)
	}
	// Across reopen and batches: a page repairing [16, 18], a window repairing the disconnect.
	_ = s.Close()
	s = openCfg(t, cfg)
	bf2 := mkIntegrity("binance", "BTC-USDT", md.IntegrityBackfill, 4)
	bf2.FirstID, bf2.LastID = 16, 18
	bf3 := mkIntegrity("binance", "BTC-USDT", md.IntegrityBackfill, 5)
	bf3.From, bf3.To = baseTime+50, baseTime+300
	write(t, s, &sink.Batch{Integrity: []md.Integrity{bf2, bf3}})
	want = [][]string{{"gap", "10", "11"}, {"gap", "19", "20"}}
	if got := gaps(); !reflect.DeepEqual(got, want) {
		t.Fatalf("gaps after repairs\n got %q\nwant %q", got, want)
	}
	got := queryStrings(t, s.conn, `SELECT toString(first_id), toString(last_id), status,
		ifNull(toString(repaired_seq), '-') FROM coverage_v ORDER BY seq, first_id`)
	want = [][]string{{"10", "11", "gap", "-"}, {"12", "15", "backfilled", "3"},
		{"16", "18", "backfilled", "4"}, {"19", "20", "gap", "-"}, {"0", "0", "backfilled", "5"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("coverage_v\n got %q\nwant %q", got, want)
	}
	// The masking query of SCHEMA.md, verbatim (legacy dialect).
	if s.Dialect() == DialectLegacy {
		in := mkTrade("binance", "BTC-USDT", 1, 1)
		in.ExchTime = baseTime + 15 // inside the open gap [10, 11]'s window [base+10, base+20]
		out := mkTrade("binance", "BTC-USDT", 2, 2)
		out.ExchTime = baseTime + 25
		other := mkTrade("okx", "BTC-USDT", 3, 3)
		other.ExchTime = baseTime + 15
		write(t, s, &sink.Batch{Trades: []md.Trade{in, out, other}})
		// (Run as it is: wrapped in a subquery, 18.16 loses exch_ns in the JOIN's WHERE.)
		rows, err := s.conn.Query(context.Background(), schemaMaskQuery(t))
		if err != nil {
			t.Fatal(err)
		}
		var got [][]string
		for rows.Next() {
			var venue, symbol, id string
			var exch *int64
			var recv int64
			if err := rows.Scan(&venue, &symbol, &id, &exch, &recv); err != nil {
				t.Fatal(err)
			}
			got = append(got, []string{venue, id})
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
		if want := [][]string{{"binance", "2"}, {"okx", "3"}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("masked trades %q, want %q", got, want)
		}
	}
	// Re-delivering the whole history changes nothing.
	write(t, s, &sink.Batch{Integrity: []md.Integrity{gap, dis, bf1, bf2, bf3}})
	if got2 := queryStrings(t, s.conn, `SELECT toString(first_id), toString(last_id), status,
		ifNull(toString(repaired_seq), '-') FROM coverage_v ORDER BY seq, first_id`); !reflect.DeepEqual(got2, want) {
		t.Fatalf("coverage_v after re-delivery\n got %q\nwant %q", got2, want)
	}
}

// schemaMaskQuery returns the masking query of SCHEMA.md.
func schemaMaskQuery(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "Masking incomplete intervals")
	if !ok {
		t.Fatal("SCHEMA.md: masking section missing")
	}
	_, rest, _ = strings.Cut(rest, "```sql\n")
	q, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("SCHEMA.md: masking query missing")
	}
	return q
}

// TestIntegrationSettleWaitsForRunningInsert holds an INSERT of the database open on the
// server (prepared, no data sent yet) under the store's query id prefix: deriving the
// watermarks must wait for it, and proceed once it is gone.
func TestIntegrationSettleWaitsForRunningInsert(t *testing.T) {
	cfg := testConfig(t)
	cfg.SettleTimeout = 500 * time.Millisecond
	s := openCfg(t, cfg)
	other, err := connect(cfg.withDefaults(), cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := ch.Context(context.Background(), ch.WithQueryID(s.qidBase+"crashed-writer/1"))
	bt, err := other.PrepareBatch(ctx, insertSQL("offsets", offsetColumns))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	err = s.loadState(context.Background())
	s.mu.Unlock()
	if !errors.Is(err, ErrUnsettled) {
		t.Fatalf("derive with an insert running: %v, want ErrUnsettled", err)
	}
	// A Write in that state fails without writing, and succeeds once the insert is gone.
	b := &sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)}}
	if _, err := s.Write(context.Background(), b); !errors.Is(err, ErrUnsettled) {
		t.Fatalf("write: %v, want ErrUnsettled", err)
	}
	_ = bt.Abort()
	if res, err := s.Write(context.Background(), b); err != nil || res.Written.Trades != 1 {
		t.Fatalf("write after the insert ended: %+v, %v", res, err)
	}
}

// TestIntegrationParallelTradeInserts writes trades as parallel INSERTs (one per group of
// instruments) and makes the Write fail: once with one INSERT's acknowledgement lost (every
// INSERT landed), once with one INSERT's connection cut mid-data (the others landed). Each
// instrument's rows land whole or not at all, so the retry stores exactly the rest.
func TestIntegrationParallelTradeInserts(t *testing.T) {
	symbols := []string{"A-USDT", "B-USDT", "C-USDT", "D-USDT", "E-USDT", "F-USDT"}
	var b sink.Batch
	for i := range 1200 {
		b.Trades = append(b.Trades, mkTrade("binance", symbols[i%len(symbols)], uint64(i/len(symbols)+1), uint64(i+1)))
	}
	b.Offsets = offsets(transport.TopicTrades, 0, 1200)
	for _, tc := range []struct {
		name         string
		landed       int // instruments stored by the failed write
		partsAfterRe int // active trades parts after the retry
	}{{"ack lost", 6, 3}, {"connection cut", 4, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.InsertParallelism = 3
			var cut atomic.Int64
			cfg.dial = func(ctx context.Context, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				if err != nil {
					return nil, err
				}
				return &cutConn{Conn: c, budget: &cut}, nil
			}
			s := openCfg(t, cfg)
			s.laneRows = 10
			ctx := context.Background()
			if err := s.conn.Exec(ctx, "SYSTEM STOP MERGES "+cfg.Database+".trades"); err != nil {
				t.Fatal(err)
			}
			var inserts atomic.Int64
			if tc.name == "ack lost" {
				s.failpoint = func(table string) error {
					if table == "trades" && inserts.Add(1) == 2 {
						return errors.New("connection reset (simulated)")
					}
					return nil
				}
			} else {
				cut.Store(10_000) // less than one lane's block: the first lane to send it is cut
			}
			if _, err := s.Write(ctx, &b); err == nil {
				t.Fatal("write succeeded through the failure")
			}
			s.failpoint = nil
			cut.Store(0)
			var landed int
			for _, r := range queryStrings(t, s.conn, "SELECT symbol, toString(count()) FROM trades GROUP BY symbol") {
				if r[1] != "200" {
					t.Errorf("after the failed write %s has %s trades, want 200 or none", r[0], r[1])
				}
				landed++
			}
			if landed != tc.landed {
				t.Errorf("%d instruments landed, want %d", landed, tc.landed)
			}
			res, err := s.Write(ctx, &b)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if res.Written.Trades != 1200-200*tc.landed || res.Duplicates.Trades != 200*tc.landed {
				t.Errorf("retry result %+v", res)
			}
			if n := queryInt(t, s, "SELECT count() FROM trades"); n != 1200 {
				t.Errorf("trades %d, want 1200", n)
			}
			if n := queryInt(t, s, "SELECT uniqExact(symbol, seq) FROM trades"); n != 1200 {
				t.Errorf("distinct trades %d, want 1200", n)
			}
			if n := queryInt(t, s, "SELECT count() FROM system.parts WHERE database = ? AND table = 'trades' AND active",
				cfg.Database); n != int64(tc.partsAfterRe) {
				t.Errorf("%d trades parts, want %d (one per lane, then the retry's)", n, tc.partsAfterRe)
			}
		})
	}
}
