package stream

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickflow/tickflow/md"
)

// TestBookSubscribeDuringPublishing subscribes clients at various depths while a feeder
// publishes book updates as fast as it can: each client's first frame is a snapshot and
// every later delta follows it with no gap and no duplicate (for @1000, which sees every
// change of this book, each delta's prev_seq is exactly the previous delta's seq), and when
// publishing stops every client's book equals the truth's top levels.
func TestBookSubscribeDuringPublishing(t *testing.T) {
	h := newHarness(t, Config{})
	gen := newBookGen(9, "binance", "BTC-USDT")
	h.g.PublishBookUpdate(gen.snapshot(40))

	stop := make(chan struct{})
	var published atomic.Int64
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%3 == 0 {
				h.g.PublishBookUpdate(gen.touch())
			} else {
				h.g.PublishBookUpdate(gen.delta(5))
			}
			published.Add(1)
			if i%64 == 0 {
				time.Sleep(100 * time.Microsecond) // let the clients keep up
			}
		}
	}()

	depths := []string{"@1000", "", "@1", "@7", "@1000", "@25", "", "@1000"}
	type result struct {
		lb     *localBook
		frames int
		err    error
	}
	results := make([]result, len(depths))
	clients := make([]*tclient, len(depths))
	var wg sync.WaitGroup
	for i, d := range depths {
		for published.Load() < int64(200*(i+1)) {
			time.Sleep(time.Millisecond)
		}
		c := h.dial("", nil)
		c.subscribe(i+1, "book:binance:BTC-USDT"+d)
		clients[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			lb := &localBook{}
			results[i].lb = lb
			strict := d == "@1000"
			for {
				f, err := c.readErr()
				if err != nil {
					results[i].err = err
					return
				}
				switch f.str("type") {
				case "pong":
					return
				case "book_snapshot":
					if results[i].frames != 0 {
						results[i].err = fmt.Errorf("second snapshot %v", f)
						return
					}
				case "book_delta":
					if results[i].frames == 0 {
						results[i].err = fmt.Errorf("delta before the snapshot: %v", f)
						return
					}
					seq, _ := strconv.ParseUint(f.str("seq"), 10, 64)
					prev, _ := strconv.ParseUint(f.str("prev_seq"), 10, 64)
					if strict && results[i].frames > 1 && prev != lb.seq {
						results[i].err = fmt.Errorf("@1000: seq %d prev_seq %d after %d", seq, prev, lb.seq)
						return
					}
				default:
					results[i].err = fmt.Errorf("unexpected frame %v", f)
					return
				}
				results[i].frames++
				if err := lb.applyErr(f); err != nil {
					results[i].err = err
					return
				}
			}
		}()
	}
	for published.Load() < int64(200*(len(depths)+2)) {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-pubDone
	// Everything is published: each client's pong comes after all its frames.
	for _, c := range clients {
		c.send(`{"op":"ping","id":999}`)
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("client %d (%q): %v", i, depths[i], r.err)
		}
		if r.lb.seq == 0 {
			t.Fatalf("client %d got nothing", i)
		}
		r.lb.check(t, gen.truth, "client "+strconv.Itoa(i)+" "+depths[i])
		if depths[i] == "@1000" && r.lb.seq != gen.seq {
			t.Fatalf("@1000 client at seq %d, book at %d", r.lb.seq, gen.seq)
		}
	}
}

// TestBBOConflationEndToEnd: a client that does not read gets, once it reads again, a
// short, increasing run of BBO frames ending with the latest, without being disconnected;
// a client that keeps up gets every update.
func TestBBOConflationEndToEnd(t *testing.T) {
	// Small socket buffers on both ends fill quickly when the slow client stops reading.
	h := newHarnessListener(t, Config{WriteTimeout: 30 * time.Second}, func(l net.Listener) net.Listener {
		return smallBufListener{l}
	})
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	ws, _, err := d.Dial(h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	slow := &tclient{t: t, ws: ws}
	slow.expect("welcome", 0)
	slow.subscribe(1, "bbo:binance:BTC-USDT")
	fast := h.dial("", nil)
	fast.subscribe(1, "bbo:*:*")

	var received atomic.Int64
	fastErr := make(chan error, 1)
	go func() {
		next := int64(1)
		for {
			f, err := fast.readErr()
			if err != nil {
				fastErr <- err
				return
			}
			if f.str("type") == "pong" {
				fastErr <- nil
				return
			}
			if f.str("seq") != fmt.Sprint(next) || f.str("update_id") != fmt.Sprint(next) {
				fastErr <- fmt.Errorf("fast client got seq %s update %s, want %d", f.str("seq"), f.str("update_id"), next)
				return
			}
			next++
			received.Add(1)
		}
	}()
	q := &md.BBO{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", RecvTime: 1},
		BidPrice: md.MustDecimal("65000.01", 2), BidQty: md.MustDecimal("0.5", 8),
		AskPrice: md.MustDecimal("65000.02", 2), AskQty: md.MustDecimal("0.0012", 8)}
	published := int64(0)
	burst := func() { // paced: the fast client keeps up with every update
		for range 50 {
			published++
			q.UpdateID = uint64(published)
			h.g.PublishBBO(q)
			for deadline := time.Now().Add(10 * time.Second); received.Load() != published; {
				if time.Now().After(deadline) {
					t.Fatalf("fast client stuck at %d of %d", received.Load(), published)
				}
				runtime.Gosched()
			}
		}
	}
	for testutil.ToFloat64(h.g.m.conflated) < 100 {
		if published > 2_000_000 {
			t.Fatal("no conflation")
		}
		burst()
	}
	burst()
	fast.send(`{"op":"ping","id":9}`)
	if err := <-fastErr; err != nil {
		t.Fatal(err)
	}
	if received.Load() != published {
		t.Fatalf("fast client got %d of %d", received.Load(), published)
	}
	// The slow client now reads: increasing seqs, the last one the latest, far fewer frames.
	got := slow.sync(10)
	last := int64(0)
	for _, f := range got {
		if f.str("type") != "bbo" {
			t.Fatalf("slow client got %v", f)
		}
		seq, _ := strconv.ParseInt(f.str("seq"), 10, 64)
		if seq <= last {
			t.Fatalf("seq %d after %d", seq, last)
		}
		last = seq
	}
	if last != published || int64(len(got)) >= published {
		t.Fatalf("slow client: %d frames, last seq %d, published %d", len(got), last, published)
	}
	if v := testutil.ToFloat64(h.g.m.slow); v != 0 {
		t.Fatalf("slow consumer disconnects: %v", v)
	}
	t.Logf("published %d, slow client received %d, conflated %v", published, len(got), testutil.ToFloat64(h.g.m.conflated))
}

// smallBufListener gives accepted connections a small send buffer.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// newHarnessListener is newHarness with the server's listener wrapped.
func newHarnessListener(t testing.TB, cfg Config, wrap func(net.Listener) net.Listener) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := New(cfg, reg, nil)
	srv := httptest.NewUnstartedServer(g.Handler())
	srv.Listener = wrap(srv.Listener)
	srv.Start()
	h := &harness{t: t, g: g, reg: reg, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		srv.Close()
	})
	return h
}
