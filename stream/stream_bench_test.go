package stream

// Benchmarks of the gateway hot path. Compare runs with benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 10 ./stream > old.txt
//	(change)
//	go test -run '^$' -bench . -benchmem -count 10 ./stream > new.txt
//	benchstat old.txt new.txt

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickflow/tickflow/md"
)

func BenchmarkEncodeTrade(b *testing.B) {
	cs := newChanState(newIndex(), Channel{Kind: KindTrades, Venue: "binance", Symbol: "BTC-USDT"})
	tr := testTrade("binance", "BTC-USDT", 1234567890, "65000.01", "0.0012")
	buf := appendTrade(nil, cs, 1, tr)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		buf = appendTrade(buf[:0], cs, seq, tr)
	}
}

func BenchmarkEncodeIntegrity(b *testing.B) {
	cs := newChanState(newIndex(), Channel{Kind: KindIntegrity, Venue: "binance", Symbol: "BTC-USDT"})
	e := &md.Integrity{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", RecvTime: 1}, Type: md.IntegrityGap,
		Stream: md.KindTrade, From: 1_719_000_000_000_000_000, To: 1_719_000_000_100_000_000, FirstID: 100, LastID: 200, Count: 101}
	buf := appendIntegrity(nil, cs, 1, e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		buf = appendIntegrity(buf[:0], cs, seq, e)
	}
}

// rawReader counts the text frames a server sends on a WebSocket connection by reading the
// frame headers off the socket itself, so the benchmark's clients allocate nothing and cost
// little next to the gateway.
type rawReader struct {
	conn net.Conn
	rig  *fanoutRig
}

func (r rawReader) run() {
	br := bufio.NewReaderSize(r.conn, 64<<10)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return
		}
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[:2]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(br, hdr[:8]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(hdr[:8])
		}
		if _, err := br.Discard(int(n)); err != nil {
			return
		}
		// Text frames and the rare ping: close enough for counting.
		if n := r.rig.delivered.Add(1); n == r.rig.target.Load() {
			select {
			case r.rig.reached <- struct{}{}:
			default:
			}
		}
	}
}

// fanoutRig is a gateway with n real WebSocket subscribers of trades:*:* on loopback.
type fanoutRig struct {
	h         *harness
	delivered atomic.Int64
	target    atomic.Int64
	reached   chan struct{} // cap 1: delivered reached target (may be stale)
	subs      int
	wg        sync.WaitGroup
	conns     []*websocket.Conn
}

func newFanoutRig(tb testing.TB, subs int) *fanoutRig {
	return newFanoutRigChannel(tb, subs, "trades:*:*")
}

// newFanoutRigChannel is newFanoutRig with subscribers of channel.
func newFanoutRigChannel(tb testing.TB, subs int, channel string) *fanoutRig {
	r := &fanoutRig{h: newHarness(tb, Config{}), subs: subs, reached: make(chan struct{}, 1)}
	for i := range subs {
		c := r.h.dial("", nil)
		c.subscribe(i+1, channel)
		r.conns = append(r.conns, c.ws)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			rawReader{conn: c.ws.NetConn(), rig: r}.run()
		}()
	}
	tb.Cleanup(r.stop)
	return r
}

func (r *fanoutRig) stop() {
	for _, c := range r.conns {
		c.NetConn().Close()
	}
	r.wg.Wait()
}

// wait blocks until every subscriber has received want frames in total.
// It blocks on a channel rather than sleeping: sub-millisecond sleeps round up to 1ms.
func (r *fanoutRig) wait(want int64) {
	r.target.Store(want)
	for r.delivered.Load() < want {
		<-r.reached
	}
}

// BenchmarkFanout publishes trades to n WebSocket subscribers over loopback and, inside the
// timed region, waits until every subscriber has read every frame. ns/op is per published
// event; deliveries/s counts frames read by all subscribers. The clients share the
// machine's cores with the gateway.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			r := newFanoutRig(b, subs)
			tr := testTrade("binance", "BTC-USDT", 1, "65000.01", "0.0012")
			const chunk = 64 // events in flight before waiting, bounding queues well under ClientQueueBytes
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			base := r.delivered.Load()
			for i := range b.N {
				tr.ID = md.NumericID(uint64(i))
				r.h.g.PublishTrade(tr)
				if (i+1)%chunk == 0 {
					r.wait(base + int64(i+1)*int64(subs))
				}
			}
			r.wait(base + int64(b.N)*int64(subs))
			b.StopTimer()
			b.ReportMetric(float64(b.N)*float64(subs)/time.Since(start).Seconds(), "deliveries/s")
			if v := r.h.g.m.slow; v != nil && r.h.g.numClients() != subs {
				b.Fatalf("lost clients: %d of %d", r.h.g.numClients(), subs)
			}
		})
	}
}

// BenchmarkFanoutEnqueue measures the publisher alone: encode once, index lookup and enqueue
// to n subscribers, without sockets (queues are emptied outside the timer).
func BenchmarkFanoutEnqueue(b *testing.B) {
	for _, subs := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			g, conns := offlineGateway(subs)
			tr := testTrade("binance", "BTC-USDT", 1, "65000.01", "0.0012")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				g.PublishTrade(tr)
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

// offlineGateway returns a gateway with subs socket-less connections subscribed to
// trades:*:*; their queues fill until drain empties them.
func offlineGateway(subs int) (*Gateway, []*conn) {
	g := New(Config{}, nil, nil)
	conns := make([]*conn, subs)
	ch := Channel{Kind: KindTrades, Venue: Wildcard, Symbol: Wildcard}
	for i := range conns {
		conns[i] = newConn(g, nil, nil, g.log)
		conns[i].subs[ch] = struct{}{}
		g.index.add(ch, conns[i])
	}
	return g, conns
}

func drain(conns []*conn) {
	for _, c := range conns {
		c.mu.Lock()
		c.dropQueueLocked()
		c.mu.Unlock()
	}
}

// TestPublishAllocs locks in that publishing allocates nothing in steady state: with no
// subscribers, with socket-less subscribers, and end to end through real sockets to
// subscribers that have read every frame (AllocsPerRun counts every goroutine's
// allocations, so this covers the writers too).
func TestPublishAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are meaningless under -race; skipped in -short")
	}
	tr := testTrade("binance", "BTC-USDT", 1, "65000.01", "0.0012")
	ie := &md.Integrity{Header: tr.Header, Type: md.IntegrityGap, Stream: md.KindTrade}

	g, conns := offlineGateway(0)
	g.PublishTrade(tr)
	if n := testing.AllocsPerRun(1000, func() { g.PublishTrade(tr); g.PublishIntegrity(ie) }); n != 0 {
		t.Errorf("publish without subscribers: %v allocs/event", n)
	}

	g, conns = offlineGateway(10)
	for range 300 { // grow queues and warm the pool
		g.PublishTrade(tr)
	}
	drain(conns)
	if n := testing.AllocsPerRun(1000, func() { g.PublishTrade(tr); drain(conns) }); n != 0 {
		t.Errorf("publish to 10 socket-less subscribers: %v allocs/event", n)
	}

	r := newFanoutRig(t, 10)
	published := int64(0)
	publish := func() {
		published++
		r.h.g.PublishTrade(tr)
		r.wait(published * 10)
	}
	for range 300 {
		publish()
	}
	n := testing.AllocsPerRun(500, publish)
	t.Logf("end to end to 10 WebSocket subscribers: %v allocs/event", n)
	if n > 0.1 {
		t.Errorf("end to end: %v allocs/event, want ~0", n)
	}
}
