package binancesim

import "sync"

// histRec is one stored trade, 24 bytes. The trade id is implied by the
// record's position; timeBM is trade time in ms << 1 | buyerMaker.
type histRec struct {
	priceTicks int64
	qtySteps   int64
	timeBM     int64
}

// history is a bounded per-symbol ring of the most recent trades, the
// source of GET /api/v3/trades and /api/v3/historicalTrades. Ids are
// contiguous, so the ring maps id -> slot arithmetically. It grows on
// demand up to its limit, then overwrites the oldest trade.
type history struct {
	mu      sync.RWMutex
	limit   int
	buf     []histRec
	head    int   // slot of the oldest record once the ring is full
	firstID int64 // id of the oldest record
	n       int   // records held
}

func (h *history) init(limit int) { h.limit = limit }

// add appends trade t that happened at ms.
func (h *history) add(t trade, ms int64) {
	rec := histRec{priceTicks: t.priceTicks, qtySteps: t.qtySteps, timeBM: ms << 1}
	if t.buyerMaker {
		rec.timeBM |= 1
	}
	h.mu.Lock()
	switch {
	case h.n == 0:
		h.firstID = t.id
		h.buf = append(h.buf[:0], rec)
		h.head, h.n = 0, 1
	case h.n < h.limit:
		h.buf = append(h.buf, rec)
		h.n++
	default:
		h.buf[h.head] = rec
		h.head++
		if h.head == h.limit {
			h.head = 0
		}
		h.firstID++
	}
	h.mu.Unlock()
}

// bounds returns the first and last id held; ok is false when empty.
func (h *history) bounds() (first, last int64, ok bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.n == 0 {
		return 0, 0, false
	}
	return h.firstID, h.firstID + int64(h.n) - 1, true
}

// copyRange appends to dst the records with ids in [from, from+limit)
// clipped to what is held, and returns dst and the id of dst's first new
// record. fromID < 0 means "the most recent limit trades".
func (h *history) copyRange(dst []histRec, fromID int64, limit int) ([]histRec, int64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.n == 0 || limit <= 0 {
		return dst, 0
	}
	last := h.firstID + int64(h.n) - 1
	if fromID < 0 {
		fromID = max(last-int64(limit)+1, h.firstID)
	}
	fromID = max(fromID, h.firstID)
	if fromID > last {
		return dst, fromID
	}
	count := int(min(int64(limit), last-fromID+1))
	off := int(fromID - h.firstID)
	for i := range count {
		slot := h.head + off + i
		if slot >= len(h.buf) {
			slot -= len(h.buf)
		}
		dst = append(dst, h.buf[slot])
	}
	return dst, fromID
}
