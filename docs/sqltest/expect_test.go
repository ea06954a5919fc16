package sqltest

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/tickflow/tickflow/md"
)

// The expected result of every query of docs/sql.md, computed in Go from the generated
// market (never from a store). Keyed by the query's name.
var expectations = map[string]func(m *market) result{
	"ohlcv_1s":          func(m *market) result { return expectOHLCV(m, 1e9) },
	"ohlcv_1m":          func(m *market) result { return expectOHLCV(m, 60e9) },
	"ohlcv_1h":          func(m *market) result { return expectOHLCV(m, 3600e9) },
	"ohlcv_1m_candles":  func(m *market) result { return expectOHLCV(m, 60e9) },
	"vwap_1h":           expectVWAP,
	"mid_spread_1s":     expectMidSpread,
	"trades_asof_quote": expectAsof,
	"book_imbalance":    expectImbalance,
	"cross_venue_1s":    expectCrossVenue,
	"masked_minutes":    expectMasked,
	"ohlcv_1m_complete": expectComplete,
	"integrity_summary": expectIntegrity,
}

// ordering key of a trade inside a bar: exchange time, then provenance.
func tradeLess(a, b *md.Trade) bool {
	if a.ExchTime != b.ExchTime {
		return a.ExchTime < b.ExchTime
	}
	if a.Prov.Epoch != b.Prov.Epoch {
		return a.Prov.Epoch < b.Prov.Epoch
	}
	if a.Prov.Seq != b.Prov.Seq {
		return a.Prov.Seq < b.Prov.Seq
	}
	return a.Prov.Index < b.Prov.Index
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

type barKey struct {
	venue, symbol string
	bucket        int64
}

func cmpBar(a, b barKey) int {
	return cmp.Or(cmp.Compare(a.venue, b.venue), cmp.Compare(a.symbol, b.symbol),
		cmp.Compare(a.bucket, b.bucket))
}

type bar struct {
	open, close              *md.Trade
	high, low, vol, notional float64
	buyVol, sellVol          float64
	n                        int64
}

func bars(m *market, width int64) (map[barKey]*bar, []barKey) {
	out := map[barKey]*bar{}
	for i := range m.trades {
		t := &m.trades[i]
		k := barKey{t.Venue, t.Symbol, floorDiv(t.ExchTime, width) * width}
		b := out[k]
		p, q := t.Price.Float64(), t.Qty.Float64()
		if b == nil {
			b = &bar{open: t, close: t, high: p, low: p}
			out[k] = b
		}
		if tradeLess(t, b.open) {
			b.open = t
		}
		if tradeLess(b.close, t) {
			b.close = t
		}
		b.high, b.low = max(b.high, p), min(b.low, p)
		b.vol += q
		b.notional += p * q
		if t.Side == md.SideBuy {
			b.buyVol += q
		} else {
			b.sellVol += q
		}
		b.n++
	}
	keys := make([]barKey, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpBar)
	return out, keys
}

var ohlcvCols = []string{"bucket", "venue", "symbol", "open", "high", "low", "close", "volume", "trades"}

func expectOHLCV(m *market, width int64) result {
	bs, keys := bars(m, width)
	r := result{cols: ohlcvCols}
	for _, k := range keys {
		b := bs[k]
		r.rows = append(r.rows, []any{ts(k.bucket), k.venue, k.symbol, b.open.Price.Float64(),
			b.high, b.low, b.close.Price.Float64(), b.vol, b.n})
	}
	return r
}

func expectVWAP(m *market) result {
	bs, keys := bars(m, 3600e9)
	r := result{cols: []string{"hour", "venue", "symbol", "vwap", "volume", "notional",
		"buy_volume", "sell_volume"}}
	for _, k := range keys {
		b := bs[k]
		r.rows = append(r.rows, []any{ts(k.bucket), k.venue, k.symbol, b.notional / b.vol, b.vol,
			b.notional, b.buyVol, b.sellVol})
	}
	return r
}

func expectMidSpread(m *market) result {
	type acc struct {
		sum  float64
		n    int64
		last *md.BBO
	}
	out := map[barKey]*acc{}
	for i := range m.bbos {
		e := &m.bbos[i]
		k := barKey{e.Venue, e.Symbol, floorDiv(e.RecvTime, 1e9) * 1e9}
		a := out[k]
		if a == nil {
			a = &acc{}
			out[k] = a
		}
		a.sum += e.AskPrice.Float64() - e.BidPrice.Float64()
		a.n++
		a.last = e // bbos are in provenance order per instrument
	}
	keys := make([]barKey, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpBar)
	r := result{cols: []string{"second", "venue", "symbol", "mid", "avg_spread", "quotes"}}
	for _, k := range keys {
		a := out[k]
		r.rows = append(r.rows, []any{ts(k.bucket), k.venue, k.symbol,
			(a.last.BidPrice.Float64() + a.last.AskPrice.Float64()) / 2, a.sum / float64(a.n), a.n})
	}
	return r
}

func expectAsof(m *market) result {
	quotes := map[string][]*md.BBO{}
	for i := range m.bbos {
		e := &m.bbos[i]
		quotes[key(e.Venue, e.Symbol)] = append(quotes[key(e.Venue, e.Symbol)], e)
	}
	trades := make([]*md.Trade, len(m.trades))
	for i := range m.trades {
		trades[i] = &m.trades[i]
	}
	slices.SortFunc(trades, func(a, b *md.Trade) int {
		return cmp.Or(cmp.Compare(a.Venue, b.Venue), cmp.Compare(a.Symbol, b.Symbol),
			cmp.Compare(a.RecvTime, b.RecvTime))
	})
	r := result{cols: []string{"venue", "symbol", "trade_id", "side", "price", "bid", "ask",
		"cost_bps", "quote_age_ns"}}
	for _, t := range trades {
		qs := quotes[key(t.Venue, t.Symbol)]
		// the last quote received at or before the trade
		i, _ := slices.BinarySearchFunc(qs, t.RecvTime+1, func(q *md.BBO, v int64) int {
			return cmp.Compare(q.RecvTime, v)
		})
		if i == 0 {
			continue
		}
		q := qs[i-1]
		bid, ask := q.BidPrice.Float64(), q.AskPrice.Float64()
		mid := (bid + ask) / 2
		sign := 1.0
		if t.Side == md.SideSell {
			sign = -1
		}
		r.rows = append(r.rows, []any{t.Venue, t.Symbol, strconv.FormatUint(t.ID.Num, 10),
			t.Side.String(), t.Price.Float64(), bid, ask, sign * (t.Price.Float64() - mid) / mid * 1e4,
			t.RecvTime - q.RecvTime})
	}
	return r
}

const imbalanceLevels = 3

func expectImbalance(m *market) result {
	snaps := make([]*md.BookUpdate, len(m.snaps))
	for i := range m.snaps {
		snaps[i] = &m.snaps[i]
	}
	slices.SortFunc(snaps, func(a, b *md.BookUpdate) int {
		return cmp.Or(cmp.Compare(a.Venue, b.Venue), cmp.Compare(a.Symbol, b.Symbol),
			cmp.Compare(a.RecvTime, b.RecvTime))
	})
	r := result{cols: []string{"recv_time", "venue", "symbol", "bid_qty", "ask_qty", "imbalance"}}
	for _, u := range snaps {
		var b, a float64
		for i := range imbalanceLevels {
			b += u.Bids[i].Qty.Float64()
			a += u.Asks[i].Qty.Float64()
		}
		r.rows = append(r.rows, []any{ts(u.RecvTime), u.Venue, u.Symbol, b, a, (b - a) / (b + a)})
	}
	return r
}

func expectCrossVenue(m *market) result {
	bs, keys := bars(m, 1e9)
	type sk struct {
		symbol string
		sec    int64
	}
	venues := map[sk][]barKey{}
	for _, k := range keys {
		s := sk{k.symbol, k.bucket}
		venues[s] = append(venues[s], k)
	}
	var sks []sk
	for s := range venues {
		sks = append(sks, s)
	}
	slices.SortFunc(sks, func(a, b sk) int {
		return cmp.Or(cmp.Compare(a.symbol, b.symbol), cmp.Compare(a.sec, b.sec))
	})
	r := result{cols: []string{"second", "symbol", "venue_a", "venue_b", "price_a", "price_b",
		"diff_bps"}}
	for _, s := range sks {
		vs := venues[s] // sorted by venue
		for i := range vs {
			for j := i + 1; j < len(vs); j++ {
				pa, pb := bs[vs[i]].close.Price.Float64(), bs[vs[j]].close.Price.Float64()
				r.rows = append(r.rows, []any{ts(s.sec), s.symbol, vs[i].venue, vs[j].venue, pa, pb,
					(pb - pa) / pa * 1e4})
			}
		}
	}
	return r
}

// maskedMinutes returns, per "venue/symbol", the minutes (start ns) that overlap an open gap.
func maskedMinutes(m *market) map[barKey]bool {
	out := map[barKey]bool{}
	for k, ws := range m.openGaps {
		venue, symbol := splitKey(k)
		for _, w := range ws {
			for mi := floorDiv(w.from, 60e9) * 60e9; mi <= w.to; mi += 60e9 {
				out[barKey{venue, symbol, mi}] = true
			}
		}
	}
	return out
}

func splitKey(k string) (string, string) {
	for i := range len(k) {
		if k[i] == '/' {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

func expectMasked(m *market) result {
	mm := maskedMinutes(m)
	keys := make([]barKey, 0, len(mm))
	for k := range mm {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpBar)
	r := result{cols: []string{"venue", "symbol", "minute"}}
	for _, k := range keys {
		r.rows = append(r.rows, []any{k.venue, k.symbol, ts(k.bucket)})
	}
	return r
}

func expectComplete(m *market) result {
	all := expectOHLCV(m, 60e9)
	mm := maskedMinutes(m)
	r := result{cols: all.cols}
	for _, row := range all.rows {
		if !mm[barKey{row[1].(string), row[2].(string), int64(row[0].(ts))}] {
			r.rows = append(r.rows, row)
		}
	}
	return r
}

func expectIntegrity(m *market) result {
	type ik struct{ venue, symbol, typ, stream string }
	type acc struct{ n, windowNs, events int64 }
	out := map[ik]*acc{}
	for _, e := range m.integrity {
		k := ik{e.Venue, e.Symbol, e.Type.String(), e.Stream.String()}
		a := out[k]
		if a == nil {
			a = &acc{}
			out[k] = a
		}
		a.n++
		a.windowNs += e.To - e.From
		a.events += int64(e.Count)
	}
	keys := make([]ik, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ik) int {
		return cmp.Or(cmp.Compare(a.venue, b.venue), cmp.Compare(a.symbol, b.symbol),
			cmp.Compare(a.typ, b.typ), cmp.Compare(a.stream, b.stream))
	})
	r := result{cols: []string{"venue", "symbol", "type", "stream", "events", "window_ns", "ids"}}
	for _, k := range keys {
		a := out[k]
		r.rows = append(r.rows, []any{k.venue, k.symbol, k.typ, k.stream, a.n, a.windowNs, a.events})
	}
	return r
}
