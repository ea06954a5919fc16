package stream

import (
	"slices"

	"github.com/tickflow/tickflow/md"
)

// This file holds the gateway's copy of each instrument's L2 book and the computation of
// per-depth deltas. Everything here is owned by the publisher (Gateway.pubMu).
//
// A book channel carries the top <depth> levels per side. For every book update the gateway
// applies the update to its full copy and then, once per depth class in use (a class is
// one (book, depth option) pair, shared by every client of that channel name), computes
// the levels that changed within the top <depth> — including levels that moved into the
// window because levels above them were deleted (sent with their quantity) and levels
// pushed out of it by inserts above them (sent with quantity 0) — encodes that once, and
// shares the bytes with every subscriber of the class. A client that applies each delta
// (set a level, quantity 0 deletes it) holds exactly the top <depth> levels after every
// frame. A class whose window did not change gets no frame; its next frame's prev_seq is
// the seq of the last frame it did get (see docs/streaming.md).

// MaxBookLevels bounds each side of the gateway's copy of a book. An insert beyond it is
// ignored and an insert into a full side drops the farthest level, the normalizer's rule,
// so the gateway's top levels match the normalizer's. It is far beyond MaxBookDepth, so
// the rule never touches a level any client sees.
const MaxBookLevels = 5000

// Gateway-side book_status reasons, beside the upstream ones (md.IntegrityType names).
const (
	// reasonNoSnapshot: the gateway has seen messages of the book but not yet a snapshot
	// (it started after the book's last snapshot).
	reasonNoSnapshot = "no_snapshot"
	// reasonGatewayGap: the gateway missed or could not apply a book message (its prev_seq
	// did not follow); the book stays invalid until the next snapshot.
	reasonGatewayGap = "gateway_gap"
	// reasonSlowConsumer: this client fell behind on the book channel; its backlog was
	// dropped and a fresh snapshot follows when it has caught up.
	reasonSlowConsumer = "slow_consumer"
	// reasonUnspecified: an upstream invalid status without a reason.
	reasonUnspecified = "unspecified"
)

// bookSide is one side of a book: prices and quantities as mantissas at the book's scales,
// best first. Sorted slices keep updates allocation-free once grown and cache-friendly.
type bookSide struct {
	bid bool
	px  []int64
	qty []int64
}

// better reports whether price a is better (closer to the touch) than b on this side.
func (s *bookSide) better(a, b int64) bool {
	if s.bid {
		return a > b
	}
	return a < b
}

// find returns the index of price p, or where it would be inserted, and whether it is there.
func (s *bookSide) find(p int64) (int, bool) {
	return searchBest(s.px, s.bid, p)
}

// searchBest binary-searches px, sorted best first (descending for bids, ascending for
// asks), for p.
func searchBest(px []int64, bid bool, p int64) (int, bool) {
	lo, hi := 0, len(px)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if (bid && px[m] > p) || (!bid && px[m] < p) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(px) && px[lo] == p
}

// set applies one absolute level; a quantity of zero (or less) deletes it.
func (s *bookSide) set(p, q int64) {
	i, ok := s.find(p)
	switch {
	case q <= 0:
		if ok {
			s.px = slices.Delete(s.px, i, i+1)
			s.qty = slices.Delete(s.qty, i, i+1)
		}
	case ok:
		s.qty[i] = q
	case i >= MaxBookLevels:
		// beyond the bound: ignored
	default:
		if len(s.px) >= MaxBookLevels {
			s.px, s.qty = s.px[:MaxBookLevels-1], s.qty[:MaxBookLevels-1]
		}
		s.px = slices.Insert(s.px, i, p)
		s.qty = slices.Insert(s.qty, i, q)
	}
}

// load replaces the side with levels (mantissas), which should be best first; out-of-order
// levels are inserted where they belong and zero quantities skipped.
func (s *bookSide) load(px, qty []int64) {
	s.px, s.qty = s.px[:0], s.qty[:0]
	for i, p := range px {
		q := qty[i]
		if q <= 0 {
			continue
		}
		if n := len(s.px); n == 0 || s.better(s.px[n-1], p) {
			if n < MaxBookLevels {
				s.px = append(s.px, p)
				s.qty = append(s.qty, q)
			}
			continue
		}
		s.set(p, q)
	}
}

// edge returns the price at index n-1 and whether the side has n levels.
func (s *bookSide) edge(n int) (int64, bool) {
	if len(s.px) < n {
		return 0, false
	}
	return s.px[n-1], true
}

// lvl is one level of an outgoing frame, as mantissas.
type lvl struct{ px, qty int64 }

// sideDelta is the publisher's scratch for one side of the update being applied.
type sideDelta struct {
	lpx, lqty []int64 // the update's levels at the book's scales, in update order
	px        []int64 // the distinct prices it touches, best first
	oldIdx    []int32 // index of px[i] before the update, -1 if absent
	oldQty    []int64 // its quantity before the update
	newIdx    []int32 // index after the update, -1 if absent
	out       []lvl   // levels of the frame being built
}

// loadLevels converts ls to mantissas at the given scales into lpx/lqty. It reports false
// if a value cannot be represented at those scales.
func (d *sideDelta) loadLevels(ls []md.Level, pxScale, qtyScale uint8) bool {
	d.lpx, d.lqty = d.lpx[:0], d.lqty[:0]
	for i := range ls {
		p, q := ls[i].Price, ls[i].Qty
		if p.Scale != pxScale {
			var err error
			if p, err = p.Rescale(pxScale); err != nil {
				return false
			}
		}
		if q.Scale != qtyScale {
			var err error
			if q, err = q.Rescale(qtyScale); err != nil {
				return false
			}
		}
		d.lpx = append(d.lpx, p.Mant)
		d.lqty = append(d.lqty, q.Mant)
	}
	return true
}

// prepare records, before the update is applied to s, the distinct prices it touches and
// where they were.
func (d *sideDelta) prepare(s *bookSide) {
	d.px = append(d.px[:0], d.lpx...)
	slices.Sort(d.px)
	d.px = slices.Compact(d.px)
	if s.bid {
		slices.Reverse(d.px)
	}
	n := len(d.px)
	d.oldIdx = slices.Grow(d.oldIdx[:0], n)[:n]
	d.oldQty = slices.Grow(d.oldQty[:0], n)[:n]
	d.newIdx = slices.Grow(d.newIdx[:0], n)[:n]
	for i, p := range d.px {
		if j, ok := s.find(p); ok {
			d.oldIdx[i], d.oldQty[i] = int32(j), s.qty[j]
		} else {
			d.oldIdx[i], d.oldQty[i] = -1, 0
		}
	}
}

// apply applies the loaded levels to s, in order.
func (d *sideDelta) apply(s *bookSide) {
	for i, p := range d.lpx {
		s.set(p, d.lqty[i])
	}
}

// finish records where the touched prices are after the update.
func (d *sideDelta) finish(s *bookSide) {
	for i, p := range d.px {
		if j, ok := s.find(p); ok {
			d.newIdx[i] = int32(j)
		} else {
			d.newIdx[i] = -1
		}
	}
}

// touched reports whether the update touched price p.
func (d *sideDelta) touched(bid bool, p int64) bool {
	_, ok := searchBest(d.px, bid, p)
	return ok
}

// window appends to out the levels of s (after the update) that changed within its top n,
// given the side's state before the update: oldLen levels, the n-th of them at oldEdge
// (when oldLen >= n). Applying them to the old top n (quantity 0 deletes) yields exactly
// the new top n. Work is proportional to the update's size, not to n.
func (d *sideDelta) window(out []lvl, s *bookSide, n, oldLen int, oldEdge int64) []lvl {
	// Touched prices: present in the new window with a new quantity, or gone from it.
	for i, p := range d.px {
		oi, ni := int(d.oldIdx[i]), int(d.newIdx[i])
		inOld := oi >= 0 && oi < n
		inNew := ni >= 0 && ni < n
		switch {
		case inNew:
			if q := s.qty[ni]; !inOld || d.oldQty[i] != q {
				out = append(out, lvl{p, q})
			}
		case inOld:
			out = append(out, lvl{p, 0})
		}
	}
	newLen := len(s.px)
	// Untouched levels that moved up into the window: they were beyond the old n-th level
	// and now sit at the bottom of the window.
	if oldLen >= n {
		for j := min(n, newLen) - 1; j >= 0 && s.better(oldEdge, s.px[j]); j-- {
			if !d.touched(s.bid, s.px[j]) {
				out = append(out, lvl{s.px[j], s.qty[j]})
			}
		}
	}
	// Untouched levels pushed out of the window by inserts above them: they were at or
	// above the old n-th level (all were, when the side had fewer than n levels).
	for j := n; j < newLen && (oldLen < n || !s.better(oldEdge, s.px[j])); j++ {
		if !d.touched(s.bid, s.px[j]) {
			out = append(out, lvl{s.px[j], 0})
		}
	}
	return out
}

// bookScratch is the publisher's scratch for the update being applied.
type bookScratch struct {
	bids, asks sideDelta
}

// bookState is the gateway's copy of one instrument's book.
type bookState struct {
	ch  Channel // canonical book:<venue>:<symbol>, no depth option
	mid []byte  // `,"venue":"<venue>","symbol":"<symbol>"`

	bids, asks        bookSide
	pxScale, qtyScale uint8
	scaled            bool // scales known (from a snapshot with levels or a first level)

	valid   bool   // the copy is right: a snapshot and every update since
	reason  string // why not valid
	seq     uint64 // the book's sequence (md.BookUpdate.Seq) of the last message seen
	version uint64 // bumped by every change of the levels or validity, for snapshot caches

	knownDepth uint32    // md.BookUpdate.Depth of the last snapshot (levels known right; 0 = all)
	lastID     uint64    // venue id the state reflects
	hdr        md.Header // times and source of the last book message (Prov not kept)

	classes []*bookClass // one per depth option ever subscribed while the book existed
	optGen  uint64       // Gateway.bookOptGen the classes were synced at
}

func newBookState(ix *index, ch Channel) *bookState {
	b := &bookState{ch: ch, bids: bookSide{bid: true}, reason: reasonNoSnapshot}
	m := append([]byte(nil), `,"venue":`...)
	m = appendJSONString(m, ch.Venue)
	m = append(m, `,"symbol":`...)
	b.mid = appendJSONString(m, ch.Symbol)
	return b
}

// setHeader keeps the times and source of h (not its provenance or strings' backing).
func (b *bookState) setHeader(h *md.Header) {
	b.hdr = md.Header{ExchTime: h.ExchTime, SendTime: h.SendTime, RecvTime: h.RecvTime,
		ClockOffset: h.ClockOffset, Source: h.Source}
}

// class returns the book's class of depth option opt, creating it.
func (b *bookState) class(ix *index, opt uint16) *bookClass {
	for _, c := range b.classes {
		if c.opt == opt {
			return c
		}
	}
	c := newBookClass(ix, b, opt)
	b.classes = append(b.classes, c)
	return c
}

// bookClass is one book stream: a book at one depth option, i.e. one concrete channel name
// (book:binance:BTC-USDT@20). Its frames are encoded once and shared by its subscribers.
type bookClass struct {
	book  *bookState
	opt   uint16 // Channel.Depth: 0 = no option
	depth int    // levels per side
	name  string
	// Frame prefixes up to and including `"seq":`.
	snapHead, deltaHead, statusHead []byte
	// pats are the patterns that match this stream (exact, venue:*, *:symbol, *:*, all
	// with this depth option) and shards their index shards.
	pats   [4]Channel
	shards [4]*shard
	// lastSeq is the seq of the last frame (snapshot or delta) sent to the class: the next
	// delta's prev_seq.
	lastSeq uint64
	// snap caches the snapshot frame of book version snapVer, shared by subscribe and
	// resync snapshots until the book changes.
	snap    *message
	snapVer uint64
	// The side's length and n-th price before the update being applied (publisher scratch).
	oldLen  [2]int
	oldEdge [2]int64
}

func newBookClass(ix *index, b *bookState, opt uint16) *bookClass {
	ch := b.ch
	ch.Depth = opt
	c := &bookClass{book: b, opt: opt, depth: ch.BookDepth(), name: ch.String()}
	head := func(typ string) []byte {
		h := append([]byte(nil), `{"type":"`...)
		h = append(h, typ...)
		h = append(h, `","channel":`...)
		h = appendJSONString(h, c.name)
		return append(h, `,"seq":`...)
	}
	c.snapHead, c.deltaHead, c.statusHead = head("book_snapshot"), head("book_delta"), head("book_status")
	c.pats = [4]Channel{
		ch,
		{Kind: KindBook, Venue: ch.Venue, Symbol: Wildcard, Depth: opt},
		{Kind: KindBook, Venue: Wildcard, Symbol: ch.Symbol, Depth: opt},
		{Kind: KindBook, Venue: Wildcard, Symbol: Wildcard, Depth: opt},
	}
	for i := range c.pats {
		c.shards[i] = ix.shardFor(c.pats[i])
	}
	return c
}

// dropSnap releases the cached snapshot.
func (c *bookClass) dropSnap() {
	if c.snap != nil {
		c.snap.release()
		c.snap = nil
	}
}

// captureEdges records both sides' length and n-th price before an update.
func (c *bookClass) captureEdges() {
	b := c.book
	c.oldLen[0] = len(b.bids.px)
	c.oldEdge[0], _ = b.bids.edge(c.depth)
	c.oldLen[1] = len(b.asks.px)
	c.oldEdge[1], _ = b.asks.edge(c.depth)
}
