package normalizer

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/collectors/binance"
	"github.com/tickflow/tickflow/md"
)

func TestSideSet(t *testing.T) {
	tests := []struct {
		name  string
		bid   bool
		ops   [][2]int64
		wantP []int64
		wantQ []int64
	}{
		{"bids sorted descending", true, [][2]int64{{100, 1}, {102, 2}, {101, 3}}, []int64{102, 101, 100}, []int64{2, 3, 1}},
		{"asks sorted ascending", false, [][2]int64{{100, 1}, {102, 2}, {101, 3}}, []int64{100, 101, 102}, []int64{1, 3, 2}},
		{"update in place", true, [][2]int64{{100, 1}, {100, 5}}, []int64{100}, []int64{5}},
		{"delete existing", false, [][2]int64{{100, 1}, {101, 1}, {100, 0}}, []int64{101}, []int64{1}},
		{"delete missing is a no-op", false, [][2]int64{{100, 1}, {99, 0}}, []int64{100}, []int64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := side{Bid: tt.bid}
			for _, op := range tt.ops {
				s.set(op[0], op[1])
			}
			if len(s.Px) != len(tt.wantP) {
				t.Fatalf("px = %v, want %v", s.Px, tt.wantP)
			}
			for i := range s.Px {
				if s.Px[i] != tt.wantP[i] || s.Qty[i] != tt.wantQ[i] {
					t.Fatalf("px/qty = %v/%v, want %v/%v", s.Px, s.Qty, tt.wantP, tt.wantQ)
				}
			}
		})
	}
}

func TestSideBounded(t *testing.T) {
	s := side{Bid: false}
	for p := int64(0); p < maxBookLevels+100; p++ {
		s.set(p, 1)
	}
	if len(s.Px) != maxBookLevels || s.Px[0] != 0 || s.Px[len(s.Px)-1] != maxBookLevels-1 {
		t.Fatalf("len %d first %d last %d", len(s.Px), s.Px[0], s.Px[len(s.Px)-1])
	}
	s.set(-1, 1) // a better level still enters, the farthest drops
	if len(s.Px) != maxBookLevels || s.Px[0] != -1 {
		t.Fatalf("better level not inserted: len %d first %d", len(s.Px), s.Px[0])
	}
}

func TestBookApplyAllocs(t *testing.T) {
	b := &book{Bids: side{Bid: true}, PxScale: 2, QtyScale: 3}
	for i := int64(0); i < 1000; i++ {
		b.Bids.set(100000-i, 1)
		b.Asks.set(100001+i, 1)
	}
	levels := []md.Level{{Price: md.Decimal{Mant: 99990, Scale: 2}, Qty: md.Decimal{Mant: 7, Scale: 3}},
		{Price: md.Decimal{Mant: 99995, Scale: 2}, Qty: md.Decimal{Mant: 0, Scale: 3}}}
	if n := testing.AllocsPerRun(1000, func() {
		b.applyLevels(&b.Bids, levels)
		b.Bids.set(99995, 3)
	}); n != 0 {
		t.Fatalf("book apply allocs = %v, want 0", n)
	}
}

// bookHarness drives onBook with Binance's continuity rule and records what is published.
type bookHarness struct {
	n    *Normalizer
	bp   collectors.BookParser
	sent []string
}

func lv(p, q int64) md.Level {
	return md.Level{Price: md.Decimal{Mant: p, Scale: 2}, Qty: md.Decimal{Mant: q, Scale: 3}}
}

func delta(U, u uint64, bids, asks []md.Level) *collectors.BookMsg {
	return &collectors.BookMsg{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", RecvTime: int64(u)},
		FirstID: U, LastID: u, Bids: bids, Asks: asks}
}

func snapshot(id uint64, bids, asks []md.Level) *collectors.BookMsg {
	m := delta(id, id, bids, asks)
	m.Snapshot, m.Depth = true, 1000
	return m
}

// newBookHarness returns a normalizer whose Produce path is replaced by a recorder: it
// drives the book state machine without Kafka.
func newBookHarness(t *testing.T) *bookHarness {
	h := &bookHarness{bp: binance.NewParser()}
	n := New(Config{}, binance.Connector{}, nil, NewMetrics(prometheus.NewRegistry()), nil)
	n.publish = func(topic string, kind md.Kind, val []byte) error {
		switch kind {
		case md.KindBookUpdate:
			var u md.BookUpdate
			if err := md.NewDecoder().DecodeBookUpdate(&u, val); err != nil {
				t.Fatal(err)
			}
			typ := "delta"
			if u.Snapshot {
				typ = "snapshot"
			}
			h.sent = append(h.sent, typ)
		case md.KindBookStatus:
			var st md.BookStatus
			if err := md.NewDecoder().DecodeBookStatus(&st, val); err != nil {
				t.Fatal(err)
			}
			h.sent = append(h.sent, "status:"+st.State.String())
		case md.KindIntegrity:
			var e md.Integrity
			if err := md.NewDecoder().DecodeIntegrity(&e, val); err != nil {
				t.Fatal(err)
			}
			h.sent = append(h.sent, "integrity:"+e.Type.String())
		}
		return nil
	}
	h.n = n
	return h
}

func (h *bookHarness) feed(t *testing.T, ms ...*collectors.BookMsg) {
	t.Helper()
	for _, m := range ms {
		if err := h.n.onBook(context.Background(), h.bp, m); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *bookHarness) take() []string {
	s := h.sent
	h.sent = nil
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBookSyncBinanceRules(t *testing.T) {
	h := newBookHarness(t)
	// Deltas before the snapshot are buffered; nothing is published for a book not in sync.
	h.feed(t, delta(95, 99, []md.Level{lv(100, 1)}, nil), delta(100, 104, []md.Level{lv(101, 1)}, nil),
		delta(105, 106, nil, []md.Level{lv(105, 2)}))
	if got := h.take(); len(got) != 0 {
		t.Fatalf("published before sync: %v", got)
	}
	// Snapshot at 101: 95..99 is dropped, 100..104 bridges (U <= 102 <= u), 105..106 follows.
	h.feed(t, snapshot(101, []md.Level{lv(100, 5), lv(99, 1)}, []md.Level{lv(110, 1)}))
	if got := h.take(); !equal(got, []string{"snapshot", "status:valid"}) {
		t.Fatalf("after snapshot: %v", got)
	}
	b := h.n.st.Books["BTC-USDT"]
	if !b.Live || b.LastID != 106 || b.Seq != 1 {
		t.Fatalf("book live=%v last=%d seq=%d", b.Live, b.LastID, b.Seq)
	}
	if b.Bids.Px[0] != 101 || b.Asks.Px[0] != 105 || b.Bids.Qty[1] != 5 {
		t.Fatalf("book content bids %v/%v asks %v", b.Bids.Px, b.Bids.Qty, b.Asks.Px)
	}
	// A duplicate is skipped; a contiguous delta is published with the next seq.
	h.feed(t, delta(105, 106, nil, nil), delta(107, 107, []md.Level{lv(101, 0)}, nil))
	if got := h.take(); !equal(got, []string{"delta"}) || b.Seq != 2 || b.Bids.Px[0] != 100 {
		t.Fatalf("after delta: %v seq %d bids %v", got, b.Seq, b.Bids.Px)
	}
	// A gap invalidates the book: status invalid, gap and resync-started events, then
	// nothing until a snapshot bridges again.
	h.feed(t, delta(110, 112, []md.Level{lv(102, 1)}, nil))
	if got := h.take(); !equal(got, []string{"status:invalid", "integrity:gap", "integrity:resync_started"}) {
		t.Fatalf("after gap: %v", got)
	}
	h.feed(t, delta(113, 113, nil, nil))
	// A snapshot older than the buffer (108 < 110-1) cannot bridge: still invalid.
	h.feed(t, snapshot(108, []md.Level{lv(100, 1)}, []md.Level{lv(110, 1)}))
	if got := h.take(); len(got) != 0 || b.Live {
		t.Fatalf("stale snapshot made the book valid: %v", got)
	}
	h.feed(t, snapshot(111, []md.Level{lv(100, 1)}, []md.Level{lv(110, 1)}))
	if got := h.take(); !equal(got, []string{"snapshot", "status:valid", "integrity:resync_done"}) || b.LastID != 113 {
		t.Fatalf("after resync: %v last %d", got, b.LastID)
	}
	// A crossing update invalidates the book.
	h.feed(t, delta(114, 114, []md.Level{lv(200, 1)}, nil))
	if got := h.take(); !equal(got, []string{"status:invalid", "integrity:resync_started"}) {
		t.Fatalf("after crossed: %v", got)
	}
}
