package sqltest

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// The deterministic market the docs/sql.md queries run over: several instruments on two
// venues (BTC-USDT and ETH-USDT on both, SOL-USDT on binance only), trades, best bid/offer,
// periodic top-5 book snapshots, one disconnect left as a gap (binance BTC-USDT: no trades or
// quotes inside it) and one id gap that was backfilled (okx ETH-USDT: its trades arrive
// late, with source backfill). Every expected result is computed in Go from this data.

const (
	baseNs      = int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z
	snapDepth   = 5                                // levels per side in a book snapshot
	snapEveryNs = int64(10e9)                      // a snapshot every 10 s per instrument
)

type instrument struct {
	venue, symbol  string
	base           float64 // starting mid price
	pscale, qscale uint8
	drift          float64 // venue's relative offset from the symbol's common price
}

var instruments = []instrument{
	{"binance", "BTC-USDT", 65000, 2, 5, 0},
	{"binance", "ETH-USDT", 3500, 2, 4, 0},
	{"binance", "SOL-USDT", 150, 3, 3, 0},
	{"okx", "BTC-USDT", 65000, 1, 6, 0.0004},
	{"okx", "ETH-USDT", 3500, 2, 5, -0.0003},
}

// window is a time interval [from, to] in Unix ns.
type window struct{ from, to int64 }

// market is the generated data: what the stores are given (batches) and what they must
// hold afterwards (the event slices, in provenance order per instrument).
type market struct {
	start, end int64
	trades     []md.Trade
	bbos       []md.BBO
	snaps      []md.BookUpdate
	integrity  []md.Integrity
	// openGaps are the trade-stream intervals left incomplete (coverage 'gap'), per
	// "venue/symbol".
	openGaps map[string][]window
}

// genConfig sizes the market.
type genConfig struct {
	seed      uint64
	durNs     int64 // length of the captured period
	tradesPer int   // trades per instrument (before the disconnect removes some)
}

func key(venue, symbol string) string { return venue + "/" + symbol }

// walk is a symbol's common log-price random walk sampled every 100 ms.
type walk struct {
	step int64
	logp []float64
}

func newWalk(r *rand.Rand, durNs int64) *walk {
	w := &walk{step: 100e6}
	n := int(durNs/w.step) + 2
	w.logp = make([]float64, n)
	for i := 1; i < n; i++ {
		w.logp[i] = w.logp[i-1] + r.NormFloat64()*0.0002
	}
	return w
}

func (w *walk) at(off int64) float64 { return math.Exp(w.logp[off/w.step]) }

func generate(cfg genConfig) *market {
	r := rand.New(rand.NewPCG(cfg.seed, 0x7469636b666c6f77))
	m := &market{start: baseNs, end: baseNs + cfg.durNs, openGaps: map[string][]window{}}
	walks := map[string]*walk{}
	for _, in := range instruments {
		if walks[in.symbol] == nil {
			walks[in.symbol] = newWalk(r, cfg.durNs)
		}
	}
	// The disconnect (binance BTC-USDT) and the backfilled id gap (okx ETH-USDT), placed at
	// fixed fractions of the period so that they cross minute boundaries.
	disc := window{baseNs + cfg.durNs*2/5 + 17_300_000_000, baseNs + cfg.durNs*2/5 + 17_300_000_000 + cfg.durNs/16}
	fill := window{baseNs + cfg.durNs/5 + 3_100_000_000, baseNs + cfg.durNs/5 + 3_100_000_000 + cfg.durNs/40}
	for _, in := range instruments {
		k := key(in.venue, in.symbol)
		genInstrument(r, m, in, walks[in.symbol], cfg,
			k == key("binance", "BTC-USDT"), disc, k == key("okx", "ETH-USDT"), fill)
	}
	return m
}

// event kinds of one instrument's timeline.
const (
	evTrade = iota
	evBBO
	evSnap
)

type tev struct {
	t    int64 // exchange time
	kind int
}

func genInstrument(r *rand.Rand, m *market, in instrument, w *walk, cfg genConfig,
	hasDisc bool, disc window, hasFill bool, fill window) {
	var evs []tev
	for range cfg.tradesPer {
		evs = append(evs, tev{baseNs + r.Int64N(cfg.durNs-1e9) + 1e9, evTrade})
	}
	for range cfg.tradesPer / 2 {
		evs = append(evs, tev{baseNs + r.Int64N(cfg.durNs-1e9) + 1e9, evBBO})
	}
	// The first quote precedes every trade, so each trade has a prevailing quote.
	evs = append(evs, tev{baseNs + 500e6, evBBO})
	for t := baseNs + snapEveryNs; t < baseNs+cfg.durNs; t += snapEveryNs {
		evs = append(evs, tev{t + r.Int64N(1e6), evSnap})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].t != evs[j].t {
			return evs[i].t < evs[j].t
		}
		return evs[i].kind < evs[j].kind
	})
	scaleP := math.Pow10(int(in.pscale))
	var (
		seq, tradeID, bookSeq uint64
		lastRecv              int64
		bid, ask              int64 // current quote, mantissas
		withheld              []md.Trade
		discDone, fillDone    bool
	)
	tradeID = 1000
	hdr := func(exch int64, src md.Source) md.Header {
		seq++
		recv := exch + 1_000_000 + r.Int64N(2_000_000)
		if recv <= lastRecv {
			recv = lastRecv + 1
		}
		lastRecv = recv
		return md.Header{Venue: in.venue, Symbol: in.symbol, ExchTime: exch, SendTime: exch + 1000,
			RecvTime: recv, Prov: md.Provenance{Epoch: 1, Seq: seq}, Source: src, ParserVersion: 1}
	}
	quote := func(t int64) {
		mid := in.base * w.at(t-baseNs) * (1 + in.drift)
		spread := 1 + r.Int64N(4)
		bid = int64(math.Floor(mid*scaleP)) - spread/2
		ask = bid + spread
	}
	quote(baseNs)
	for _, e := range evs {
		if hasDisc && e.t >= disc.from && e.t <= disc.to {
			continue // nothing arrives while disconnected
		}
		if hasDisc && !discDone && e.t > disc.to {
			discDone = true
			h := hdr(e.t, md.SourceLive)
			m.integrity = append(m.integrity, md.Integrity{Header: h, Type: md.IntegrityDisconnect,
				Stream: md.KindTrade, From: disc.from, To: disc.to})
			m.openGaps[key(in.venue, in.symbol)] = append(m.openGaps[key(in.venue, in.symbol)], disc)
		}
		if hasFill && !fillDone && e.t > fill.to && len(withheld) > 0 {
			fillDone = true
			first, last := withheld[0].ID.Num, withheld[len(withheld)-1].ID.Num
			h := hdr(e.t, md.SourceLive)
			m.integrity = append(m.integrity, md.Integrity{Header: h, Type: md.IntegrityGap,
				Stream: md.KindTrade, From: fill.from, To: fill.to, FirstID: first, LastID: last,
				Count: uint64(len(withheld))})
			h = hdr(e.t, md.SourceBackfill)
			m.integrity = append(m.integrity, md.Integrity{Header: h, Type: md.IntegrityBackfill,
				Stream: md.KindTrade, From: fill.from, To: fill.to, FirstID: first, LastID: last,
				Count: uint64(len(withheld))})
			for _, t := range withheld {
				bh := hdr(e.t, md.SourceBackfill)
				t.Header.RecvTime, t.Header.Prov, t.Header.Source = bh.RecvTime, bh.Prov, md.SourceBackfill
				m.trades = append(m.trades, t)
			}
		}
		switch e.kind {
		case evTrade:
			tradeID++
			side, px := md.SideBuy, ask
			if r.IntN(2) == 0 {
				side, px = md.SideSell, bid
			}
			tr := md.Trade{ID: md.NumericID(tradeID), Side: side,
				Price: md.Decimal{Mant: px, Scale: in.pscale},
				Qty:   md.Decimal{Mant: 1 + r.Int64N(50*int64(math.Pow10(int(in.qscale))/100)), Scale: in.qscale}}
			if hasFill && e.t >= fill.from && e.t <= fill.to {
				tr.Header = md.Header{Venue: in.venue, Symbol: in.symbol, ExchTime: e.t,
					SendTime: e.t + 1000, ParserVersion: 1}
				withheld = append(withheld, tr)
				continue
			}
			tr.Header = hdr(e.t, md.SourceLive)
			m.trades = append(m.trades, tr)
		case evBBO:
			quote(e.t)
			m.bbos = append(m.bbos, md.BBO{Header: hdr(e.t, md.SourceLive),
				BidPrice: md.Decimal{Mant: bid, Scale: in.pscale},
				BidQty:   md.Decimal{Mant: 1 + r.Int64N(1e6), Scale: in.qscale},
				AskPrice: md.Decimal{Mant: ask, Scale: in.pscale},
				AskQty:   md.Decimal{Mant: 1 + r.Int64N(1e6), Scale: in.qscale},
				UpdateID: seq})
		case evSnap:
			bookSeq++
			u := md.BookUpdate{Header: hdr(e.t, md.SourceLive), Snapshot: true, Seq: bookSeq,
				PrevSeq: bookSeq - 1, FirstID: bookSeq, LastID: bookSeq, Depth: snapDepth}
			for i := range int64(snapDepth) {
				u.Bids = append(u.Bids, md.Level{Price: md.Decimal{Mant: bid - i, Scale: in.pscale},
					Qty: md.Decimal{Mant: 1 + r.Int64N(1e6), Scale: in.qscale}})
				u.Asks = append(u.Asks, md.Level{Price: md.Decimal{Mant: ask + i, Scale: in.pscale},
					Qty: md.Decimal{Mant: 1 + r.Int64N(1e6), Scale: in.qscale}})
			}
			m.snaps = append(m.snaps, u)
		}
	}
}

// batches returns the market as sink batches of at most n events each, every instrument's
// events in provenance order.
func (m *market) batches(n int) []*sink.Batch {
	type item struct {
		recv int64
		add  func(b *sink.Batch)
	}
	var items []item
	for i := range m.trades {
		t := m.trades[i]
		items = append(items, item{t.RecvTime, func(b *sink.Batch) { b.Trades = append(b.Trades, t) }})
	}
	for i := range m.bbos {
		e := m.bbos[i]
		items = append(items, item{e.RecvTime, func(b *sink.Batch) { b.BBOs = append(b.BBOs, e) }})
	}
	for i := range m.snaps {
		e := m.snaps[i]
		items = append(items, item{e.RecvTime, func(b *sink.Batch) { b.Books = append(b.Books, e) }})
	}
	for i := range m.integrity {
		e := m.integrity[i]
		items = append(items, item{e.RecvTime, func(b *sink.Batch) { b.Integrity = append(b.Integrity, e) }})
	}
	// Receive time is increasing with provenance per instrument, so a stable sort by it keeps
	// every instrument's provenance order.
	sort.SliceStable(items, func(i, j int) bool { return items[i].recv < items[j].recv })
	var out []*sink.Batch
	for i := 0; i < len(items); i += n {
		b := &sink.Batch{}
		for _, it := range items[i:min(i+n, len(items))] {
			it.add(b)
		}
		out = append(out, b)
	}
	return out
}
