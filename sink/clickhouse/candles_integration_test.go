//go:build integration

package clickhouse

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// candleTrades returns trades of two instruments over ~2.5 minutes around the 01:00 hour
// boundary: several per second, some without exchange time (bucketed by receive time).
func candleTrades() []md.Trade {
	start := baseTime + int64(time.Hour) - 70*int64(time.Second) // 00:58:50
	var out []md.Trade
	seq := uint64(0)
	for i := range 400 {
		for k, sym := range []string{"BTC-USDT", "ETH-USDT"} {
			seq++
			tr := mkTrade("binance", sym, seq, seq)
			tr.ExchTime = start + int64(i)*370*int64(time.Millisecond) + int64(k)
			tr.RecvTime = tr.ExchTime + 2*int64(time.Millisecond)
			tr.SendTime = 0
			if i%17 == 0 {
				tr.ExchTime = 0 // bucketed by receive time
			}
			tr.Price = md.Decimal{Mant: 6_500_000 + int64((i*7919)%1000) - 500, Scale: 2}
			tr.Qty = md.Decimal{Mant: int64(1 + (i*31)%97), Scale: 3}
			tr.Side = md.Side(1 + i%2)
			out = append(out, tr)
		}
	}
	return out
}

// goCandles computes OHLCV per (symbol, bucket) from trades as trades_v sees them: per
// trade id the newest parser version, among its rows the earliest provenance.
func goCandles(trades []md.Trade, step time.Duration) map[CandleKey]Candle {
	type id struct {
		sym string
		n   uint64
	}
	best := map[id]md.Trade{}
	for _, t := range trades {
		k := id{t.Symbol, t.ID.Num}
		if b, ok := best[k]; !ok || t.ParserVersion > b.ParserVersion ||
			(t.ParserVersion == b.ParserVersion && t.Prov.Compare(b.Prov) < 0) {
			best[k] = t
		}
	}
	type ord struct {
		t       int64
		p       md.Provenance
		price   float64
		present bool
	}
	less := func(a, b ord) bool {
		if a.t != b.t {
			return a.t < b.t
		}
		return a.p.Compare(b.p) < 0
	}
	out := map[CandleKey]Candle{}
	first, last := map[CandleKey]ord{}, map[CandleKey]ord{}
	for _, t := range best {
		ts := t.ExchTime
		if ts == 0 {
			ts = t.RecvTime
		}
		start := time.Unix(0, ts).UTC().Truncate(step)
		k := CandleKey{Venue: t.Venue, Symbol: t.Symbol, Start: start}
		price := float64(t.Price.Mant) / math.Pow10(int(t.Price.Scale))
		qty := float64(t.Qty.Mant) / math.Pow10(int(t.Qty.Scale))
		c, ok := out[k]
		if !ok {
			c = Candle{Venue: t.Venue, Symbol: t.Symbol, Start: start, High: price, Low: price}
		}
		c.High, c.Low = max(c.High, price), min(c.Low, price)
		c.Volume += qty
		c.QuoteVolume += price * qty
		if t.Side == md.SideBuy {
			c.BuyVolume += qty
		}
		c.Trades++
		c.ParserVersion = max(c.ParserVersion, t.ParserVersion)
		o := ord{ts, t.Prov, price, true}
		if f := first[k]; !f.present || less(o, f) {
			first[k] = o
		}
		if l := last[k]; !l.present || less(l, o) {
			last[k] = o
		}
		out[k] = c
	}
	for k, c := range out {
		c.Open, c.Close = first[k].price, last[k].price
		out[k] = c
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// checkCandles compares the store's candles of every interval with goCandles.
func checkCandles(t *testing.T, s *Store, trades []md.Trade) (mismatches int) {
	t.Helper()
	ctx := context.Background()
	from, to := time.Unix(0, baseTime).UTC(), time.Unix(0, baseTime+2*int64(time.Hour)).UTC()
	for _, iv := range CandleIntervals {
		step, _ := iv.duration()
		want := goCandles(trades, step)
		n := 0
		for _, sym := range []string{"BTC-USDT", "ETH-USDT"} {
			got, err := s.Candles(ctx, iv, "binance", sym, from, to)
			if err != nil {
				t.Fatal(err)
			}
			n += len(got)
			for _, c := range got {
				w, ok := want[CandleKey{Venue: c.Venue, Symbol: c.Symbol, Start: c.Start}]
				if !ok || c.Trades != w.Trades || c.Open != w.Open || c.Close != w.Close ||
					c.High != w.High || c.Low != w.Low || !near(c.Volume, w.Volume) ||
					!near(c.QuoteVolume, w.QuoteVolume) || !near(c.BuyVolume, w.BuyVolume) ||
					c.ParserVersion != w.ParserVersion {
					if mismatches++; mismatches <= 3 {
						t.Logf("%s %s %s: got %+v\n want %+v", iv, c.Symbol, c.Start, c, w)
					}
				}
			}
		}
		if n != len(want) {
			mismatches++
			t.Logf("%s: %d candles, want %d", iv, n, len(want))
		}
	}
	return mismatches
}

// TestIntegrationCandles: the materialized views give the OHLCV computed in Go from the same
// trades; a duplicate INSERT that bypasses the watermarks (a retry outside the sink) and a
// re-normalization of part of a bucket make them drift; ReconcileCandles finds exactly the
// drifted buckets and rebuilds them, after which candles equal the Go OHLCV again and a
// second reconciliation finds nothing; RebuildCandles of the whole range changes nothing.
func TestIntegrationCandles(t *testing.T) {
	s := openCfg(t, testConfig(t))
	ctx := context.Background()
	trades := candleTrades()
	write(t, s, &sink.Batch{Trades: trades[:300]})
	write(t, s, &sink.Batch{Trades: trades[300:]})
	if n := checkCandles(t, s, trades); n != 0 {
		t.Fatalf("views after plain writes: %d mismatches", n)
	}

	// A retried INSERT of 20 trades that bypasses the sink's watermarks: trades_v hides the
	// copies, the views count them twice.
	dup := make([]admitted, 20)
	for i := range dup {
		dup[i] = admitted{i: int32(100 + i)}
	}
	if err := s.insert(ctx, "trades", s.w.tradeSQL, func(bt driver.Batch) error {
		return fillTrades(&s.w.lane, bt, &sink.Batch{Trades: trades}, dup)
	}); err != nil {
		t.Fatal(err)
	}
	// Re-normalized trades (parser version 2) for 5 trades of one second: a new price.
	var v2 []md.Trade
	for i := 600; i < 610; i += 2 {
		tr := trades[i]
		tr.ParserVersion = 2
		tr.Price.Mant += 3
		v2 = append(v2, tr)
	}
	write(t, s, &sink.Batch{Trades: v2})
	all := append(slices.Clone(trades), v2...)
	if n := checkCandles(t, s, all); n == 0 {
		t.Fatal("the duplicate insert and the partial re-normalization left the views right: " +
			"the test no longer exercises drift")
	}

	from, to := time.Unix(0, baseTime).UTC(), time.Unix(0, baseTime+2*int64(time.Hour)).UTC()
	for _, iv := range CandleIntervals {
		res, err := s.ReconcileCandles(ctx, iv, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Differing) == 0 || res.Buckets == 0 {
			t.Fatalf("%s: reconcile found nothing: %+v", iv, res)
		}
		t.Logf("%s: %d buckets, %d rebuilt", iv, res.Buckets, len(res.Differing))
	}
	if n := checkCandles(t, s, all); n != 0 {
		t.Fatalf("after reconcile: %d mismatches", n)
	}
	for _, iv := range CandleIntervals {
		res, err := s.ReconcileCandles(ctx, iv, from, to)
		if err != nil || len(res.Differing) != 0 {
			t.Fatalf("%s: second reconcile: %+v %v", iv, res.Differing, err)
		}
		if err := s.RebuildCandles(ctx, iv, from, to, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RebuildCandles(ctx, Candles1m, from, to, "binance", "ETH-USDT"); err != nil {
		t.Fatal(err)
	}
	if n := checkCandles(t, s, all); n != 0 {
		t.Fatalf("after rebuild: %d mismatches", n)
	}
	if _, err := s.ReconcileCandles(ctx, "5m", from, to); err == nil {
		t.Fatal("unknown interval accepted")
	}
}

// TestIntegrationCandlesAcrossMigration0003: a database upgraded from schema version 2 keeps
// its candles: half the trades are written at version 2 (0002's views and tuple-keyed
// states), the store is reopened (0003 replaces the candle tables by one with string-keyed
// states and Open rebuilds it from trades) and the rest written, interleaved in the same
// buckets; every interval then equals the OHLCV computed in Go. Dropping CandleFeedView
// stops all three intervals.
func TestIntegrationCandlesAcrossMigration0003(t *testing.T) {
	cfg := testConfig(t)
	old := cfg
	old.schemaLimit = 2
	s2 := openCfg(t, old)
	if s2.SchemaVersion() != 2 {
		t.Fatalf("schema version %d, want 2", s2.SchemaVersion())
	}
	trades := candleTrades()
	write(t, s2, &sink.Batch{Trades: trades[:401]})
	if n := checkCandles(t, s2, trades[:401]); n != 0 {
		t.Fatalf("0002's views: %d mismatches", n)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	s := openCfg(t, cfg)
	if s.SchemaVersion() < 3 {
		t.Fatalf("schema version %d after reopening, want >= 3", s.SchemaVersion())
	}
	write(t, s, &sink.Batch{Trades: trades[401:]})
	if n := checkCandles(t, s, trades); n != 0 {
		t.Fatalf("bars of both schemas: %d mismatches", n)
	}

	if err := s.conn.Exec(context.Background(), "DROP TABLE "+CandleFeedView); err != nil {
		t.Fatal(err)
	}
	more := candleTrades()
	for i := range more {
		more[i].ID.Num += 1_000_000
		more[i].Prov.Seq += 1_000_000
	}
	write(t, s, &sink.Batch{Trades: more})
	for _, iv := range CandleIntervals {
		if n := queryInt(t, s, "SELECT countMerge(trades) FROM candles WHERE interval_s = ?", uint32(iv.seconds())); n != int64(len(trades)) {
			t.Errorf("%s counts %d trades after dropping %s, want %d", iv, n, CandleFeedView, len(trades))
		}
	}
}
