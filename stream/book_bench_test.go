package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
)

// deltaRing is a cycle of realistic book deltas replayed with fresh sequence numbers, so a
// benchmark publishes without generating (allocating) updates.
type deltaRing struct {
	ups []*md.BookUpdate
	i   int
	seq uint64
}

func newDeltaRing(g *Gateway, venue, symbol string, n int, touchOnly bool) *deltaRing {
	gen := newBookGen(42, venue, symbol)
	g.PublishBookUpdate(gen.snapshot(1000))
	r := &deltaRing{seq: gen.seq}
	for range n {
		if touchOnly {
			r.ups = append(r.ups, gen.touch())
		} else {
			r.ups = append(r.ups, gen.delta(10))
		}
	}
	return r
}

func (r *deltaRing) next() *md.BookUpdate {
	u := r.ups[r.i]
	r.i = (r.i + 1) % len(r.ups)
	r.seq++
	u.Seq, u.PrevSeq = r.seq, r.seq-1
	return u
}

// offlineBookGateway returns a gateway with subs socket-less connections subscribed to
// book:binance:BTC-USDT with the given depth options, round robin.
func offlineBookGateway(tb testing.TB, subs int, opts []string) (*Gateway, []*conn) {
	g := New(Config{}, nil, nil)
	conns := make([]*conn, subs)
	for i := range conns {
		conns[i] = newOfflineConn(g)
		ch, err := ParseChannel("book:binance:BTC-USDT" + opts[i%len(opts)])
		if err != nil {
			tb.Fatal(err)
		}
		conns[i].subscribe(&request{op: opSubscribe, channels: []Channel{ch}})
	}
	return g, conns
}

// BenchmarkBookDeltaFanout measures the publisher for book deltas: apply to the gateway's
// book, compute and encode the delta once per depth class, enqueue to n subscribers
// (queues emptied outside the timer). Deltas touch up to 10 levels near the touch of a
// 1000-level book.
func BenchmarkBookDeltaFanout(b *testing.B) {
	for _, tc := range []struct {
		name string
		subs int
		opts []string
	}{
		{"subscribers=100/depth=50", 100, []string{""}},
		{"subscribers=100/depths=1,10,50,1000", 100, []string{"@1", "@10", "", "@1000"}},
		{"subscribers=1000/depth=50", 1000, []string{""}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			g, conns := offlineBookGateway(b, tc.subs, tc.opts)
			r := newDeltaRing(g, "binance", "BTC-USDT", 4096, false)
			drain(conns)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				g.PublishBookUpdate(r.next())
				if i%256 == 0 {
					b.StopTimer()
					drain(conns)
					b.StartTimer()
				}
			}
			drain(conns)
		})
	}
}

// BenchmarkBookApply measures applying a delta to the gateway's book with nobody
// subscribed (no delta computed).
func BenchmarkBookApply(b *testing.B) {
	g := New(Config{}, nil, nil)
	r := newDeltaRing(g, "binance", "BTC-USDT", 4096, false)
	b.ReportAllocs()
	for b.Loop() {
		g.PublishBookUpdate(r.next())
	}
}

func BenchmarkEncodeBookSnapshot(b *testing.B) {
	for _, depth := range []int{50, 1000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			g, _ := offlineBookGateway(b, 1, []string{fmt.Sprintf("@%d", depth)})
			newDeltaRing(g, "binance", "BTC-USDT", 1, false)
			cls := g.booksCanon[Channel{Kind: KindBook, Venue: "binance", Symbol: "BTC-USDT"}].classes[0]
			buf := appendBookSnapshot(nil, cls)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = appendBookSnapshot(buf[:0], cls)
			}
		})
	}
}

func BenchmarkBBOFanout(b *testing.B) {
	g := New(Config{}, nil, nil)
	conns := make([]*conn, 100)
	for i := range conns {
		conns[i] = newOfflineConn(g)
		conns[i].subscribe(&request{op: opSubscribe, channels: []Channel{{Kind: KindBBO, Venue: Wildcard, Symbol: Wildcard}}})
	}
	drain(conns)
	q := &md.BBO{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", RecvTime: 1},
		BidPrice: md.MustDecimal("65000.01", 2), BidQty: md.MustDecimal("0.5", 8),
		AskPrice: md.MustDecimal("65000.02", 2), AskQty: md.MustDecimal("0.0012", 8), UpdateID: 1}
	b.ReportAllocs()
	for b.Loop() {
		q.UpdateID++
		g.PublishBBO(q) // conflates into each queue's one slot
	}
	drain(conns)
}

// TestPublishBookAllocs locks in that book and BBO publishing allocates nothing in steady
// state, with subscribers at several depths.
func TestPublishBookAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are meaningless under -race; skipped in -short")
	}
	g, conns := offlineBookGateway(t, 12, []string{"@1", "@10", "", "@1000"})
	r := newDeltaRing(g, "binance", "BTC-USDT", 4096, false)
	for range 5000 { // grow scratch, queues and the pool
		g.PublishBookUpdate(r.next())
		drain(conns)
	}
	if n := testing.AllocsPerRun(2000, func() { g.PublishBookUpdate(r.next()); drain(conns) }); n != 0 {
		t.Errorf("book delta to 12 subscribers at 4 depths: %v allocs/event", n)
	}
	q := &md.BBO{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", RecvTime: 1}}
	g.PublishBBO(q)
	if n := testing.AllocsPerRun(1000, func() { q.UpdateID++; g.PublishBBO(q) }); n != 0 {
		t.Errorf("bbo without subscribers: %v allocs/event", n)
	}
	st := &md.BookStatus{Header: q.Header, State: md.BookValid}
	if n := testing.AllocsPerRun(1000, func() { st.Seq = r.seq; g.PublishBookStatus(st); drain(conns) }); n != 0 {
		t.Errorf("book status: %v allocs/event", n)
	}

	// End to end through real sockets (AllocsPerRun counts the writers too).
	rig := newFanoutRigChannel(t, 10, "book:binance:BTC-USDT")
	ring := newDeltaRing(rig.h.g, "binance", "BTC-USDT", 4096, true)
	want := int64(10) // the snapshots
	rig.wait(want)
	publish := func() {
		rig.h.g.PublishBookUpdate(ring.next())
		want += 10
		rig.wait(want)
	}
	for range 300 {
		publish()
	}
	n := testing.AllocsPerRun(500, publish)
	t.Logf("book deltas end to end to 10 WebSocket subscribers: %v allocs/event", n)
	if n > 0.1 {
		t.Errorf("end to end: %v allocs/event, want ~0", n)
	}
}

// BenchmarkBookFanout publishes book deltas (each changing the best bid) to n WebSocket
// subscribers over loopback and waits until every subscriber has read every frame, like
// BenchmarkFanout for trades.
func BenchmarkBookFanout(b *testing.B) {
	for _, subs := range []int{1, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			r := newFanoutRigChannel(b, subs, "book:binance:BTC-USDT")
			ring := newDeltaRing(r.h.g, "binance", "BTC-USDT", 4096, true)
			r.wait(int64(subs)) // each subscriber got the book's first snapshot
			const chunk = 64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			base := r.delivered.Load()
			for i := range b.N {
				r.h.g.PublishBookUpdate(ring.next())
				if (i+1)%chunk == 0 {
					r.wait(base + int64(i+1)*int64(subs))
				}
			}
			r.wait(base + int64(b.N)*int64(subs))
			b.StopTimer()
			b.ReportMetric(float64(b.N)*float64(subs)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}
