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
	return true
}
