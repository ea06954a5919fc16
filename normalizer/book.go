package normalizer

import (
	"sort"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
)

// Book limits.
const (
	// maxBookLevels bounds each side; the farthest levels are dropped first (they are
	// beyond any snapshot depth and so not known right anyway).
	maxBookLevels = 5000
	// maxBuffered bounds the deltas buffered while a book waits for its snapshot.
	maxBuffered = 4096
)

// side is one side of a book: prices and quantities as mantissas at the book's scales,
// best first. Sorted slices keep apply allocation-free and cache-friendly.
type side struct {
	Px  []int64 `json:"px"`
	Qty []int64 `json:"qty"`
	Bid bool    `json:"bid"`
}

// better reports whether price a is better (closer to the touch) than b on this side.
func (s *side) better(a, b int64) bool {
	if s.Bid {
		return a > b
	}
	return a < b
}

// find returns the index of price p or where it would be inserted.
func (s *side) find(p int64) (int, bool) {
	i := sort.Search(len(s.Px), func(i int) bool { return !s.better(s.Px[i], p) })
	return i, i < len(s.Px) && s.Px[i] == p
}

// set applies one absolute level: qty 0 deletes.
func (s *side) set(p, q int64) {
	i, ok := s.find(p)
	switch {
	case q == 0 && ok:
		s.Px = append(s.Px[:i], s.Px[i+1:]...)
		s.Qty = append(s.Qty[:i], s.Qty[i+1:]...)
	case q == 0:
		// Removing a level not in the book is normal (Binance docs).
	case ok:
		s.Qty[i] = q
	default:
		if len(s.Px) >= maxBookLevels && i >= len(s.Px) {
			return
		}
		s.Px = append(s.Px, 0)
		s.Qty = append(s.Qty, 0)
		copy(s.Px[i+1:], s.Px[i:])
		copy(s.Qty[i+1:], s.Qty[i:])
		s.Px[i], s.Qty[i] = p, q
		if len(s.Px) > maxBookLevels {
			s.Px, s.Qty = s.Px[:maxBookLevels], s.Qty[:maxBookLevels]
		}
	}
}

func (s *side) reset() { s.Px, s.Qty = s.Px[:0], s.Qty[:0] }

// appendLevels appends up to n levels (0 = all) as md.Levels.
func (s *side) appendLevels(dst []md.Level, pxScale, qtyScale uint8, n int) []md.Level {
	if n <= 0 || n > len(s.Px) {
		n = len(s.Px)
	}
	for i := 0; i < n; i++ {
		dst = append(dst, md.Level{Price: md.Decimal{Mant: s.Px[i], Scale: pxScale}, Qty: md.Decimal{Mant: s.Qty[i], Scale: qtyScale}})
	}
	return dst
}

// book is the normalizer's state of one instrument's L2 book.
type book struct {
	Symbol   string `json:"symbol"`
	PxScale  uint8  `json:"px_scale"`
	QtyScale uint8  `json:"qty_scale"`
	Bids     side   `json:"bids"`
	Asks     side   `json:"asks"`
	Live     bool   `json:"live"`
	LastID   uint64 `json:"last_id"` // venue id of the last applied update
	Seq      uint64 `json:"seq"`     // unified sequence of the last published message
	Depth    uint32 `json:"depth"`   // levels per side known right
	// InvalidSince is the receive time the book became invalid (0 while live or never valid).
	InvalidSince int64 `json:"invalid_since"`
	// Buf holds the deltas received while the book waits for its snapshot.
	Buf []collectors.BookMsg `json:"buf,omitempty"`

	// The book is known right only down to the deepest level of its last snapshot (a diff
	// stream never mentions levels that do not change): BidFloor/AskCeil are those prices
	// when the snapshot was truncated at its limit. As the market moves toward them the
	// known depth shrinks, and a refresh snapshot is requested.
	BidFloor    int64  `json:"bid_floor"`
	AskCeil     int64  `json:"ask_ceil"`
	HasBidFloor bool   `json:"has_bid_floor"`
	HasAskCeil  bool   `json:"has_ask_ceil"`
	SnapDepth   uint32 `json:"snap_depth"` // the snapshot limit the book was built from
	// LastSnapPub is the receive time of the last snapshot published for the book.
	LastSnapPub int64 `json:"last_snap_pub"`

	// ring holds recent applied deltas so a refresh snapshot older than the book can be
	// rolled forward; pending holds a refresh snapshot newer than the book until the book
	// catches up. Neither is checkpointed: after a restart a refresh is simply asked again.
	ring     []collectors.BookMsg
	ringNext int
	pending  *collectors.BookMsg
	askedAt  int64 // receive time of the last refresh request

	changed bool  // changed since the last book checkpoint
	ckSlot  uint8 // key slot of the last book checkpoint written (alternates 0/1)
}

// ringSize bounds the deltas kept for rolling refresh snapshots forward.
const ringSize = 512

// remember keeps a copy of an applied delta in the ring, reusing slot buffers.
func (b *book) remember(m *collectors.BookMsg) {
	if len(b.ring) < ringSize {
		b.ring = append(b.ring, collectors.BookMsg{})
	}
	slot := &b.ring[b.ringNext]
	bids, asks := slot.Bids[:0], slot.Asks[:0]
	*slot = *m
	slot.Bids = append(bids, m.Bids...)
	slot.Asks = append(asks, m.Asks...)
	b.ringNext = (b.ringNext + 1) % ringSize
}

// ringFrom returns the remembered deltas in order, oldest first.
func (b *book) ringFrom() []collectors.BookMsg {
	if len(b.ring) < ringSize {
		return b.ring
	}
	out := make([]collectors.BookMsg, 0, ringSize)
	out = append(out, b.ring[b.ringNext:]...)
	return append(out, b.ring[:b.ringNext]...)
}

// setBounds records how deep a snapshot made the book known right.
func (b *book) setBounds(m *collectors.BookMsg) {
	b.SnapDepth = m.Depth
	b.HasBidFloor = m.Depth > 0 && len(m.Bids) >= int(m.Depth)
	b.HasAskCeil = m.Depth > 0 && len(m.Asks) >= int(m.Depth)
	if b.HasBidFloor {
		b.BidFloor, _ = rescaled(m.Bids[len(m.Bids)-1].Price, b.PxScale)
	}
	if b.HasAskCeil {
		b.AskCeil, _ = rescaled(m.Asks[len(m.Asks)-1].Price, b.PxScale)
	}
}

func rescaled(d md.Decimal, scale uint8) (int64, bool) {
	r, err := d.Rescale(scale)
	return r.Mant, err == nil
}

// knownDepth is the number of levels per side known right: every level we hold on a side
// whose snapshot was complete, else the levels down to the snapshot's deepest price.
func (b *book) knownDepth() uint32 {
	count := func(s *side, has bool, bound int64) int {
		if !has {
			return len(s.Px)
		}
		i, ok := s.find(bound)
		if ok {
			i++
		}
		return i
	}
	return uint32(min(count(&b.Bids, b.HasBidFloor, b.BidFloor), count(&b.Asks, b.HasAskCeil, b.AskCeil)))
}

func newBook(symbol string, m *collectors.BookMsg) *book {
	b := &book{Symbol: symbol, Bids: side{Bid: true}}
	b.PxScale, b.QtyScale = scalesOf(m)
	return b
}

func scalesOf(m *collectors.BookMsg) (px, qty uint8) {
	for _, ls := range [][]md.Level{m.Bids, m.Asks} {
		if len(ls) > 0 {
			return ls[0].Price.Scale, ls[0].Qty.Scale
		}
	}
	return 0, 0
}

// applyLevels applies levels to a side, rescaling values whose scale differs (a tick-size
// change); a value that cannot be represented reports false.
func (b *book) applyLevels(s *side, ls []md.Level) bool {
	for i := range ls {
		p, err1 := ls[i].Price.Rescale(b.PxScale)
		q, err2 := ls[i].Qty.Rescale(b.QtyScale)
		if err1 != nil || err2 != nil {
			return false
		}
		s.set(p.Mant, q.Mant)
	}
	return true
}

func (b *book) crossed() bool {
	return len(b.Bids.Px) > 0 && len(b.Asks.Px) > 0 && b.Bids.Px[0] >= b.Asks.Px[0]
}

// bufferCopy keeps a deep copy of a delta while the book waits for its snapshot.
func (b *book) bufferCopy(m *collectors.BookMsg) {
	if len(b.Buf) >= maxBuffered {
		copy(b.Buf, b.Buf[1:])
		b.Buf = b.Buf[:len(b.Buf)-1]
	}
	c := *m
	c.Bids = append([]md.Level(nil), m.Bids...)
	c.Asks = append([]md.Level(nil), m.Asks...)
	b.Buf = append(b.Buf, c)
}

// loadSnapshot replaces the book with a snapshot.
func (b *book) loadSnapshot(m *collectors.BookMsg) bool {
	b.Bids.reset()
	b.Asks.reset()
	b.PxScale, b.QtyScale = scalesOf(m)
	if !b.applyLevels(&b.Bids, m.Bids) || !b.applyLevels(&b.Asks, m.Asks) {
		return false
	}
	b.LastID, b.Depth = m.LastID, m.Depth
	b.setBounds(m)
	return true
}
