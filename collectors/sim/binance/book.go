package binancesim

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// This file is the exchange's order book: one per symbol, price levels on
// the tick grid and sizes on the step grid, kept around the random-walk
// trade price (market.go). Only the generation goroutine changes a book;
// REST readers copy it under book.mu.
//
// How it moves. Every trade is executed against the book first: a taker
// buy at price p sweeps the asks below p, removes bids at or above p (they
// would cross) and consumes the ask at p; a taker sell mirrors that. The
// trade itself (price, size, side) comes from market.next unchanged, so
// the trade sequence of a seed is the same with or without books. After
// the trade the symbol's own order flow runs a few operations (more after
// a sweep, as makers requote around the new price), drawn from
// the book's random stream (seeded per symbol, advanced only by that
// symbol's trades, so for a seed and BookHashDepth a book's sequence of
// states is deterministic too):
// new orders join or open levels, mostly near the touch and inside a wide
// spread, some far away; cancels shrink or remove levels near the touch;
// a side longer than its target loses its deepest levels; levels moved
// into the top N (Config.BookHashDepth) by removals above them are
// re-quoted (requoteExposed). Every level change gets the next update id.

// level is one price level. key is the price in ticks for bids and minus
// the price for asks, so both sides sort ascending with the best level
// last: the touch, where almost everything happens, is at the cheap end
// of the slice.
type level struct {
	key int64
	qty int64 // in steps, > 0
}

// bookSide is one side of a book, sorted by key ascending, best last.
type bookSide struct {
	lv  []level
	ask bool
}

func (s *bookSide) keyOf(price int64) int64 {
	if s.ask {
		return -price
	}
	return price
}

func (s *bookSide) priceAt(i int) int64 {
	if s.ask {
		return -s.lv[i].key
	}
	return s.lv[i].key
}

// bestPrice returns the best price; ok is false for an empty side.
func (s *bookSide) bestPrice() (int64, bool) {
	if len(s.lv) == 0 {
		return 0, false
	}
	return s.priceAt(len(s.lv) - 1), true
}

// find returns the index of price or where it would be inserted. Most
// lookups are at or near the touch, so the last few levels are scanned
// before falling back to binary search.
func (s *bookSide) find(price int64) (int, bool) {
	k := s.keyOf(price)
	n := len(s.lv)
	for i := n - 1; i >= 0 && i >= n-8; i-- {
		switch {
		case s.lv[i].key == k:
			return i, true
		case s.lv[i].key < k:
			return i + 1, false
		}
	}
	return slices.BinarySearchFunc(s.lv, k, func(l level, k int64) int {
		switch {
		case l.key < k:
			return -1
		case l.key > k:
			return 1
		}
		return 0
	})
}

// qtyAt returns the size at price, 0 if there is no level.
func (s *bookSide) qtyAt(price int64) int64 {
	if i, ok := s.find(price); ok {
		return s.lv[i].qty
	}
	return 0
}

// set makes the size at price qty (0 removes the level).
func (s *bookSide) set(price, qty int64) {
	i, ok := s.find(price)
	switch {
	case ok && qty > 0:
		s.lv[i].qty = qty
	case ok:
		s.lv = slices.Delete(s.lv, i, i+1)
	case qty > 0:
		s.lv = slices.Insert(s.lv, i, level{key: s.keyOf(price), qty: qty})
	}
}

// addAt adds delta to the size at price (creating the level), capped at
// maxQty, with a single lookup.
func (s *bookSide) addAt(price, delta, maxQty int64) {
	i, ok := s.find(price)
	if ok {
		s.lv[i].qty = min(s.lv[i].qty+delta, maxQty)
		return
	}
	s.lv = slices.Insert(s.lv, i, level{key: s.keyOf(price), qty: min(delta, maxQty)})
}

// Side bits of a changed-level key (price<<1 | side).
const (
	sideBid = 0
	sideAsk = 1
)

// topOfBook is the best bid and ask, the content of a bookTicker event.
type topOfBook struct {
	bidPrice, bidQty, askPrice, askQty int64
}

// Book shape. Targets are per side; the order flow steers each side's
// level count towards its target and trims beyond it.
const (
	maxBookLevels   = 5000 // REST depth maximum: a limit=5000 snapshot is the whole book
	meanOpsPerTrade = 3.0  // order-flow operations after each trade, on average
	nearDist        = 4.0  // mean distance from the touch of a near order, in ticks
	maxRequote      = 16   // most extra operations after a sweep
	trimBatch       = 32   // deepest levels dropped at once from a side over its target
)

// book is one symbol's order book.
type book struct {
	// mu guards bids, asks and lastID. The generation goroutine is the
	// only writer and holds it while changing them; REST readers hold it
	// while copying. The generator reads without it.
	mu     sync.Mutex
	bids   bookSide
	asks   bookSide
	lastID int64 // update id of the last change

	// Generator-owned.
	rng      *rand.Rand
	target   int     // levels per side the flow steers towards
	levelQty float64 // median size of a new order, in steps
	maxQty   int64   // largest level size
	minPrice int64   // bids stay at or above one tick
	maxPrice int64   // asks stay at or below this
	span     float64 // how far (in ticks) far orders are placed
	topN     int     // Config.BookHashDepth: levels entering the top N are re-quoted
	exposed  [2]int  // per side: top-N levels removed by the current operation

	dirty   []int64   // price<<1|side of each change since the last 100ms event (repeats)
	dirty1s []int64   // the same since the last 1000ms event
	u100    int64     // u of the last 100ms event (the initial lastID before any)
	u1s     int64     // u of the last 1000ms event
	top     topOfBook // best bid/ask last seen, for bookTicker
}

// initBook builds sym's starting book around its start price.
func (sym *symbolState) initBook(seed int64) {
	b := &sym.book
	b.rng = rand.New(rand.NewPCG(uint64(seed)^0xb00c_b00c, uint64(sym.index)+1))
	b.asks.ask = true
	if sym.index < len(knownSymbols) {
		b.target = 1000 + b.rng.IntN(2001) // 1000-3000 levels
	} else {
		b.target = 200 + b.rng.IntN(801) // 200-1000 levels
	}
	b.levelQty = sym.medianQty * 2
	b.maxQty = max(sym.maxSteps, 1)
	b.minPrice = 1
	b.maxPrice = sym.maxTicks * 2
	b.span = float64(b.target) * 2
	b.topN = DefaultBookHashDepth
	b.lastID = 1_000_000_000 + b.rng.Int64N(9_000_000_000)
	b.u100, b.u1s = b.lastID, b.lastID

	// Levels at every tick near the touch, gaps growing with depth.
	p := sym.priceTicks
	fill := func(s *bookSide, start, dir int64) {
		s.lv = make([]level, 0, b.target+b.target/4)
		price := start
		for i := 0; i < b.target && price >= b.minPrice && price <= b.maxPrice; i++ {
			s.lv = append(s.lv, level{key: s.keyOf(price), qty: b.newQty(float64(i))})
			price += dir * (1 + int64(b.rng.ExpFloat64()*float64(i)/float64(b.target)))
		}
		slices.Reverse(s.lv) // built best first; stored best last
	}
	fill(&b.bids, p-1, -1)
	fill(&b.asks, p, +1)
	b.top = b.currentTop()
}

// newQty draws the size of a new order, log-normal (sigma 1) around
// levelQty; deeper orders are a bit larger.
func (b *book) newQty(depth float64) int64 {
	q := b.levelQty * (1 + depth/float64(b.target)) * lognormal[b.rng.Uint64()%uint64(len(lognormal))]
	return min(max(int64(q), 1), b.maxQty)
}

// lognormal holds exp(z) for 1024 evenly spaced quantiles z of the
// standard normal: drawing an entry is a log-normal draw without math.Exp
// on the hot path.
var lognormal = func() (t [1024]float64) {
	for i := range t {
		p := (float64(i) + 0.5) / float64(len(t))
		t[i] = math.Exp(math.Sqrt2 * math.Erfinv(2*p-1))
	}
	return t
}()

// change records one level change: the next update id and the level to
// report. Callers hold mu.
func (b *book) change(side int64, price int64) {
	b.lastID++
	b.dirty = append(b.dirty, price<<1|side)
}

func (b *book) setLevel(side int64, price, qty int64) {
	s := &b.bids
	if side == sideAsk {
		s = &b.asks
	}
	s.set(price, qty)
	b.change(side, price)
}

// popBest removes the best level of a side.
func (b *book) popBest(side int64) {
	s := &b.bids
	if side == sideAsk {
		s = &b.asks
	}
	price := s.priceAt(len(s.lv) - 1)
	s.lv = s.lv[:len(s.lv)-1]
	b.exposed[side]++
	b.change(side, price)
}

// applyTrade executes t against the book and returns how many levels it
// removed. Callers hold mu.
func (b *book) applyTrade(t trade) (swept int) {
	before := b.lastID
	p := t.priceTicks
	if !t.buyerMaker { // taker buy: lifts the ask at p
		for len(b.asks.lv) > 0 && -b.asks.lv[len(b.asks.lv)-1].key < p {
			b.popBest(sideAsk) // swept on the way up
		}
		for len(b.bids.lv) > 0 && b.bids.lv[len(b.bids.lv)-1].key >= p {
			b.popBest(sideBid)
		}
		if n := len(b.asks.lv); n > 0 && -b.asks.lv[n-1].key == p {
			b.consume(sideAsk, p, b.asks.lv[n-1].qty, t.qtySteps)
		}
	} else { // taker sell: hits the bid at p
		for len(b.bids.lv) > 0 && b.bids.lv[len(b.bids.lv)-1].key > p {
			b.popBest(sideBid)
		}
		for len(b.asks.lv) > 0 && -b.asks.lv[len(b.asks.lv)-1].key <= p {
			b.popBest(sideAsk)
		}
		if n := len(b.bids.lv); n > 0 && b.bids.lv[n-1].key == p {
			b.consume(sideBid, p, b.bids.lv[n-1].qty, t.qtySteps)
		}
	}
	// A side emptied by a sweep gets a fresh order next to the trade.
	if len(b.bids.lv) == 0 {
		if bid := min(p, b.bestAskOr(p+1)-1); bid >= b.minPrice {
			b.setLevel(sideBid, bid, b.newQty(0))
		}
	}
	if len(b.asks.lv) == 0 {
		if ask := max(p, b.bestBidOr(p-1)+1); ask <= b.maxPrice {
			b.setLevel(sideAsk, ask, b.newQty(0))
		}
	}
	b.requoteExposed()
	return int(b.lastID - before)
}

// consume takes qty from the best level of side, at price, holding have.
func (b *book) consume(side, price, have, qty int64) {
	if qty >= have {
		b.popBest(side)
		return
	}
	s := &b.bids
	if side == sideAsk {
		s = &b.asks
	}
	s.lv[len(s.lv)-1].qty = have - qty
	b.change(side, price)
}

func (b *book) bestBidOr(def int64) int64 {
	if p, ok := b.bids.bestPrice(); ok {
		return p
	}
	return def
}

func (b *book) bestAskOr(def int64) int64 {
	if p, ok := b.asks.bestPrice(); ok {
		return p
	}
	return def
}

// opsAfterTrade draws how many order-flow operations follow a trade that
// changed `changed` levels: makers requote after a sweep.
func (b *book) opsAfterTrade(changed int) int {
	return int(b.rng.ExpFloat64()*meanOpsPerTrade+0.5) + min(max(changed-1, 0), maxRequote)
}

// randomOp runs one order-flow operation: an order added or cancelled on
// one side, then trimming of an over-long side. ref is the last trade
// price, used when a side is empty. Callers hold mu.
func (b *book) randomOp(ref int64) {
	// The thinner side gets more of the flow, so a trend that keeps
	// sweeping one side does not starve it.
	nb, na := len(b.bids.lv), len(b.asks.lv)
	side, s := int64(sideAsk), &b.asks
	if b.rng.Float64()*float64(nb+na+2) < float64(na+1) {
		side, s = sideBid, &b.bids
	}
	// More adds when the side is short of its target, more cancels when long.
	pAdd := 0.55 + 0.4*float64(b.target-len(s.lv))/float64(b.target)
	if b.rng.Float64() < pAdd {
		b.addOrder(side, ref)
	} else if len(s.lv) > 1 {
		b.cancelOrder(side)
	}
	if limit := min(b.target+b.target/8, maxBookLevels-trimBatch); len(s.lv) > limit+trimBatch {
		// The deepest orders expire, a batch at a time so the slice is
		// shifted once per trimBatch levels.
		k := len(s.lv) - limit
		for i := range k {
			b.change(side, s.priceAt(i))
		}
		s.lv = s.lv[:copy(s.lv, s.lv[k:])]
	}
	b.requoteExposed()
}

// requoteExposed re-quotes the levels that entered the top N because the
// current operation removed levels above them: a maker joins each (its
// size grows), so every level in the top N has been reported since it got
// there. A client whose snapshot held at least N levels therefore knows
// every top-N level exactly, which is what the BookLog hash compares; a
// level that slid up from beyond a client's snapshot unchanged would
// otherwise be invisible to it. Callers hold mu.
func (b *book) requoteExposed() {
	for side := range b.exposed {
		e := b.exposed[side]
		if e == 0 {
			continue
		}
		b.exposed[side] = 0
		s := &b.bids
		if side == sideAsk {
			s = &b.asks
		}
		n := len(s.lv)
		for r := max(b.topN-e, 0); r < min(b.topN, n); r++ {
			i := n - 1 - r
			s.lv[i].qty = min(s.lv[i].qty+max(b.newQty(float64(r))/4, 1), b.maxQty)
			b.change(int64(side), s.priceAt(i))
		}
	}
}

// addOrder adds an order on side: inside a wide spread, near the last
// trade price ref, or anywhere up to span ticks behind the touch.
func (b *book) addOrder(side int64, ref int64) {
	bid, ask := b.bestBidOr(ref-1), b.bestAskOr(ref)
	var price int64
	switch r := b.rng.Float64(); {
	case ask-bid > 1 && r < 0.4:
		price = bid + 1 + b.rng.Int64N(ask-bid-1) // improves the touch
	case r < 0.85:
		d := int64(b.rng.ExpFloat64() * nearDist)
		if side == sideBid {
			price = min(ref, ask) - 1 - d
		} else {
			price = max(ref, bid+1) + d
		}
	default:
		u := b.rng.Float64()
		d := int64(u * u * b.span)
		if side == sideBid {
			price = bid - d
		} else {
			price = ask + d
		}
	}
	// Never cross: a bid stays below the best ask and an ask above the best bid.
	if side == sideBid {
		if price >= ask || price < b.minPrice {
			return
		}
		b.bids.addAt(price, b.newQty(float64(max(bid-price, 0))), b.maxQty)
	} else {
		if price <= bid || price > b.maxPrice {
			return
		}
		b.asks.addAt(price, b.newQty(float64(max(price-ask, 0))), b.maxQty)
	}
	b.change(side, price)
}

// cancelOrder shrinks or removes a level, usually near the touch.
func (b *book) cancelOrder(side int64) {
	s := &b.bids
	if side == sideAsk {
		s = &b.asks
	}
	k := min(int(b.rng.ExpFloat64()*8), len(s.lv)-1)
	i := len(s.lv) - 1 - k
	price, qty := s.priceAt(i), s.lv[i].qty
	if b.rng.Uint64()&1 == 0 {
		qty -= 1 + int64(b.rng.Float64()*float64(qty))
	} else {
		qty = 0
	}
	if qty > 0 {
		s.lv[i].qty = qty
	} else {
		s.lv = slices.Delete(s.lv, i, i+1)
		if k < b.topN {
			b.exposed[side]++
		}
	}
	b.change(side, price)
}

// currentTop returns the best bid and ask (zeros for an empty side).
func (b *book) currentTop() topOfBook {
	var t topOfBook
	if n := len(b.bids.lv); n > 0 {
		t.bidPrice, t.bidQty = b.bids.lv[n-1].key, b.bids.lv[n-1].qty
	}
	if n := len(b.asks.lv); n > 0 {
		t.askPrice, t.askQty = -b.asks.lv[n-1].key, b.asks.lv[n-1].qty
	}
	return t
}

// depthSnap is a copy of the top of a book at one update id; levels are
// best first with positive prices in key.
type depthSnap struct {
	lastID     int64
	bids, asks []level
}

// snapshot copies up to limit levels per side under mu.
func (b *book) snapshot(limit int) *depthSnap {
	b.mu.Lock()
	nb, na := min(limit, len(b.bids.lv)), min(limit, len(b.asks.lv))
	snap := &depthSnap{lastID: b.lastID, bids: make([]level, nb), asks: make([]level, na)}
	copy(snap.bids, b.bids.lv[len(b.bids.lv)-nb:])
	copy(snap.asks, b.asks.lv[len(b.asks.lv)-na:])
	b.mu.Unlock()
	slices.Reverse(snap.bids)
	slices.Reverse(snap.asks)
	for i := range snap.asks {
		snap.asks[i].key = -snap.asks[i].key
	}
	return snap
}
