package duckdb

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

func TestWriteStoresExactValues(t *testing.T) {
	s := openTest(t)
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
	rows, err := s.Query(context.Background(), `SELECT venue, symbol, trade_id, trade_id_num,
		price_mant, price_scale, qty_mant, qty_scale, price, qty, side, exch_time, send_time,
		recv_time, clock_offset_ns, epoch, seq, idx, source, parser_version
		FROM trades ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.Values) != 2 {
		t.Fatalf("rows %v", rows.Values)
	}
	want := []any{"binance", "BTC-USDT", "123456789", uint64(123456789), int64(6500019),
		uint8(2), int64(1500), uint8(5), 65000.19, 0.015, "sell", nil,
		time.Unix(0, tr.SendTime).UTC(), time.Unix(0, tr.RecvTime).UTC(), int64(-7), uint64(1),
		uint64(7), uint32(0), "backfill", uint16(1)}
	if got := rows.Values[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("row 0\n got %#v\nwant %#v", got, want)
	}
	r1 := rows.Values[1]
	if r1[0] != "bybit" || r1[2] != "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d" || r1[3] != nil ||
		r1[10] != "buy" || r1[18] != "live" {
		t.Errorf("text-id row %#v", r1)
	}
}

func TestWatermarkDedup(t *testing.T) {
	a := func(seq uint64) md.Trade { return mkTrade("binance", "BTC-USDT", seq, seq) }
	b := func(seq uint64) md.Trade { return mkTrade("binance", "ETH-USDT", seq, seq) }
	okx := func(seq uint64) md.Trade { return mkTrade("okx", "BTC-USDT", seq, seq) }
	v2 := func(seq uint64) md.Trade {
		tr := a(seq)
		tr.ParserVersion = 2
		return tr
	}
	type step struct {
		trades      []md.Trade
		reopen      bool
		written     int
		duplicates  int
		wantTotal   int64
		wantMarkSeq uint64 // watermark seq of binance/BTC-USDT v1 after the step
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"increasing", []step{
			{trades: []md.Trade{a(1), a(2), a(3)}, written: 3, wantTotal: 3, wantMarkSeq: 3},
		}},
		{"repeat inside batch", []step{
			{trades: []md.Trade{a(1), a(2), a(2), a(3), a(3)}, written: 3, duplicates: 2,
				wantTotal: 3, wantMarkSeq: 3},
		}},
		{"out of order inside batch is a duplicate", []step{
			{trades: []md.Trade{a(1), a(3), a(2)}, written: 2, duplicates: 1, wantTotal: 2,
				wantMarkSeq: 3},
		}},
		{"across batches", []step{
			{trades: []md.Trade{a(1), a(2), a(3)}, written: 3, wantTotal: 3, wantMarkSeq: 3},
			{trades: []md.Trade{a(2), a(3), a(4), a(5)}, written: 2, duplicates: 2,
				wantTotal: 5, wantMarkSeq: 5},
			{trades: []md.Trade{a(5)}, duplicates: 1, wantTotal: 5, wantMarkSeq: 5},
		}},
		{"across reopen", []step{
			{trades: []md.Trade{a(1), a(2), a(3)}, written: 3, wantTotal: 3, wantMarkSeq: 3},
			{reopen: true, trades: []md.Trade{a(1), a(2), a(3), a(4)}, written: 1,
				duplicates: 3, wantTotal: 4, wantMarkSeq: 4},
		}},
		{"keys are independent", []step{
			{trades: []md.Trade{a(5), b(1), okx(1)}, written: 3, wantTotal: 3, wantMarkSeq: 5},
			{trades: []md.Trade{b(2), a(4), okx(1), okx(2), b(2)}, written: 2,
				duplicates: 3, wantTotal: 5, wantMarkSeq: 5},
		}},
		{"newer parser version is not blocked", []step{
			{trades: []md.Trade{a(1), a(2)}, written: 2, wantTotal: 2, wantMarkSeq: 2},
			{trades: []md.Trade{v2(1), v2(2), v2(2)}, written: 2, duplicates: 1,
				wantTotal: 4, wantMarkSeq: 2},
		}},
		{"epoch orders before seq", []step{
			{trades: []md.Trade{a(100)}, written: 1, wantTotal: 1, wantMarkSeq: 100},
			{trades: func() []md.Trade {
				tr := a(1)
				tr.Prov.Epoch = 2 // new connection: seq restarts
				return []md.Trade{tr}
			}(), written: 1, wantTotal: 2, wantMarkSeq: 1},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wm.duckdb")
			s := openAt(t, path)
			for i, st := range tc.steps {
				if st.reopen {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = openAt(t, path)
				}
				res := write(t, s, &sink.Batch{Trades: st.trades})
				if res.Written.Trades != st.written || res.Duplicates.Trades != st.duplicates {
					t.Fatalf("step %d: result %+v, want written %d duplicates %d", i, res,
						st.written, st.duplicates)
				}
				if n := queryInt(t, s, "SELECT count(*) FROM trades"); n != st.wantTotal {
					t.Fatalf("step %d: %d rows, want %d", i, n, st.wantTotal)
				}
				got := queryInt(t, s, `SELECT seq FROM watermarks WHERE venue = 'binance'
					AND symbol = 'BTC-USDT' AND kind = 'trade' AND parser_version = 1`)
				if uint64(got) != st.wantMarkSeq {
					t.Fatalf("step %d: watermark seq %d, want %d", i, got, st.wantMarkSeq)
				}
			}
			// The rows of each key are exactly once: no (venue, symbol, parser_version,
			// provenance) twice.
			if n := queryInt(t, s, `SELECT count(*) FROM (SELECT venue, symbol,
				parser_version, epoch, seq, idx FROM trades GROUP BY ALL HAVING count(*) > 1)`); n != 0 {
				t.Fatalf("%d duplicated provenances stored", n)
			}
		})
	}
}

func TestIntegrityDedupIsPerKind(t *testing.T) {
	s := openTest(t)
	// A trade and an integrity event with the same provenance do not collide.
	b := &sink.Batch{
		Trades:    []md.Trade{mkTrade("binance", "BTC-USDT", 5, 1)},
		Integrity: []md.Integrity{mkIntegrity("binance", "BTC-USDT", md.IntegrityResyncDone, 5)},
	}
	res := write(t, s, b)
	if res.Written != (sink.KindCounts{Trades: 1, Integrity: 1}) {
		t.Fatalf("result %+v", res)
	}
	res = write(t, s, b)
	if res.Written.Total() != 0 || res.Duplicates != (sink.KindCounts{Trades: 1, Integrity: 1}) {
		t.Fatalf("second write %+v", res)
	}
	if n := queryInt(t, s, "SELECT count(*) FROM integrity"); n != 1 {
		t.Fatalf("%d integrity rows", n)
	}
}

func TestOffsetsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "off.duckdb")
	s := openAt(t, path)
	ctx := context.Background()
	got, err := s.Offsets(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("fresh store offsets %v, %v", got, err)
	}
	// Offsets alone (e.g. a batch of dead letters only) are stored too.
	write(t, s, &sink.Batch{Offsets: offsets(transport.TopicTrades, 0, 10,
		transport.TopicTrades, 3, 7)})
	write(t, s, &sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)},
		Offsets: offsets(transport.TopicTrades, 0, 12, transport.TopicIntegrity, 1, 2)})
	want := offsets(transport.TopicIntegrity, 1, 2, transport.TopicTrades, 0, 12,
		transport.TopicTrades, 3, 7)
	if got, err = s.Offsets(ctx); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("offsets %v, %v; want %v", got, err, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	if got, err = s.Offsets(ctx); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen offsets %v, %v; want %v", got, err, want)
	}
}

func TestWriteIsAtomic(t *testing.T) {
	for _, stage := range []string{"keys", "trades", "integrity", "coverage", "watermarks",
		"offsets"} {
		t.Run(stage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "atomic.duckdb")
			s := openAt(t, path)
			first := &sink.Batch{
				Trades:  []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)},
				Offsets: offsets(transport.TopicTrades, 0, 1),
			}
			write(t, s, first)
			gap := mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, 3)
			gap.FirstID, gap.LastID, gap.From, gap.To = 2, 2, baseTime, baseTime+10
			b := &sink.Batch{
				Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 2, 3),
					mkTrade("binance", "ETH-USDT", 1, 1)},
				Integrity: []md.Integrity{gap},
				Offsets:   offsets(transport.TopicTrades, 0, 4, transport.TopicIntegrity, 0, 1),
			}
			boom := errors.New("boom")
			s.failpoint = func(st string) error {
				if st == stage {
					return boom
				}
				return nil
			}
			if _, err := s.Write(context.Background(), b); !errors.Is(err, boom) {
				t.Fatalf("write error %v, want boom", err)
			}
			check := func(s *Store, trades, integrity, coverage, marks int64, off int64) {
				t.Helper()
				for _, c := range []struct {
					q    string
					want int64
				}{
					{"SELECT count(*) FROM trades", trades},
					{"SELECT count(*) FROM integrity", integrity},
					{"SELECT count(*) FROM coverage", coverage},
					{"SELECT count(*) FROM watermarks", marks},
					{"SELECT max(next_offset) FROM offsets", off},
				} {
					if n := queryInt(t, s, c.q); n != c.want {
						t.Errorf("%s = %d, want %d", c.q, n, c.want)
					}
				}
			}
			check(s, 1, 0, 0, 1, 1)
			// The in-memory watermarks were not advanced: the same batch goes through.
			s.failpoint = nil
			res := write(t, s, b)
			if res.Written != (sink.KindCounts{Trades: 2, Integrity: 1}) {
				t.Fatalf("retry result %+v", res)
			}
			check(s, 3, 1, 1, 3, 4)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			check(openAt(t, path), 3, 1, 1, 3, 4)
		})
	}
}

func TestWriteCancelledContextLeavesNothing(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := &sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)},
		Offsets: offsets(transport.TopicTrades, 0, 1)}
	if _, err := s.Write(ctx, b); err == nil {
		t.Fatal("write with cancelled context succeeded")
	}
	if n := queryInt(t, s, "SELECT count(*) FROM trades"); n != 0 {
		t.Fatalf("%d rows", n)
	}
	if res := write(t, s, b); res.Written.Trades != 1 {
		t.Fatalf("retry %+v", res)
	}
}

func TestReadOnlyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.duckdb")
	s := openAt(t, path)
	write(t, s, &sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)}})
	ctx := context.Background()
	if ro, err := OpenReadOnly(ctx, path); err == nil {
		_ = ro.Close()
		t.Fatal("read-only open while the writer has the file succeeded")
	} else {
		t.Logf("read-only open while writer open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Write(ctx, &sink.Batch{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write on read-only store: %v", err)
	}
	rows, err := ro.Query(ctx, "SELECT count(*) AS n FROM trades")
	if err != nil || rows.Values[0][0] != int64(1) {
		t.Fatalf("query: %v %v", rows, err)
	}
	if ro.SchemaVersion() != s.SchemaVersion() || ro.SchemaVersion() < 1 {
		t.Fatalf("schema versions %d %d", ro.SchemaVersion(), s.SchemaVersion())
	}
}

func TestFloatColumnsMatchDecimalFloat64(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var trades []md.Trade
	for i := uint64(1); i <= 2000; i++ {
		tr := mkTrade("binance", "BTC-USDT", i, i)
		tr.Price = md.Decimal{Mant: rng.Int64N(1 << 62), Scale: uint8(rng.IntN(md.MaxScale + 1))}
		tr.Qty = md.Decimal{Mant: -rng.Int64N(1 << 40), Scale: uint8(rng.IntN(md.MaxScale + 1))}
		trades = append(trades, tr)
	}
	write(t, s, &sink.Batch{Trades: trades})
	rows, err := s.Query(context.Background(), "SELECT price, qty FROM trades ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows.Values {
		if r[0] != trades[i].Price.Float64() || r[1] != trades[i].Qty.Float64() {
			t.Fatalf("trade %d: price %v qty %v, want %v %v", i, r[0], r[1],
				trades[i].Price.Float64(), trades[i].Qty.Float64())
		}
	}
}

// TestBatchLimits: the store asks the sink for half-second batches and leaves rows and bytes
// to the Runner's defaults.
func TestBatchLimits(t *testing.T) {
	var s *Store
	if l := s.BatchLimits(); l.MaxDelay != 500*time.Millisecond || l.MaxRows != 0 || l.MaxBytes != 0 {
		t.Fatalf("BatchLimits = %+v", l)
	}
}
