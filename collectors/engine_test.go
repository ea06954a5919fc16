package collectors

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/md"
)

// echoServer is a WebSocket server that echoes every text message.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			typ, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := ws.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// recWriter keeps copies of the records and acknowledges them from other goroutines.
type recWriter struct {
	mu   sync.Mutex
	recs []md.RawRecord
	wg   sync.WaitGroup
}

func (w *recWriter) Write(rec *md.RawRecord, onAck func(error)) error {
	cp := *rec
	cp.Meta, cp.Frame = bytes.Clone(rec.Meta), bytes.Clone(rec.Frame)
	w.mu.Lock()
	w.recs = append(w.recs, cp)
	w.mu.Unlock()
	w.wg.Go(func() { onAck(nil) })
	return nil
}

func (w *recWriter) records() []md.RawRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.recs)
}

type closeInfo struct {
	epoch      uint64
	err        error
	helperDone bool
	seq, acked uint64
}

// fakeSession plans one slot (after failing slotsFail times), fails the subscription of the
// first connection, and on later ones sends three frames through the engine's pacing.
type fakeSession struct {
	url       string
	slotsFail atomic.Int32
	slots     atomic.Int32

	mu      sync.Mutex
	subs    int
	frames  map[uint64][]string
	closes  []closeInfo
	helpers map[uint64]*atomic.Bool
}

func (f *fakeSession) Slots(ctx context.Context, rest *REST) ([]Slot, error) {
	f.slots.Add(1)
	if f.slotsFail.Add(-1) >= 0 {
		return nil, errors.New("venue down")
	}
	return []Slot{{Name: "s0", URL: f.url, Symbols: []string{"A", "B"}}}, nil
}

func (f *fakeSession) Subscribe(ctx context.Context, c *Conn) error {
	done := &atomic.Bool{}
	f.mu.Lock()
	f.subs++
	first := f.subs == 1
	f.helpers[c.Epoch] = done
	f.mu.Unlock()
	c.Go(func(ctx context.Context) {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // OnClose must wait for this
		done.Store(true)
	})
	if first {
		return errors.New("boom")
	}
	for _, m := range []string{"a", "b", "c"} {
		if err := c.Send([]byte(m)); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSession) OnFrame(c *Conn, frame []byte, recvTime int64) {
	f.mu.Lock()
	f.frames[c.Epoch] = append(f.frames[c.Epoch], string(frame))
	f.mu.Unlock()
}

func (f *fakeSession) OnClose(c *Conn, err error) {
	f.mu.Lock()
	f.closes = append(f.closes, closeInfo{epoch: c.Epoch, err: err, helperDone: f.helpers[c.Epoch].Load(), seq: c.Seq(), acked: c.AckedSeq()})
	f.mu.Unlock()
}

func TestEngineLifecycle(t *testing.T) {
	srv := echoServer(t)
	sess := &fakeSession{url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", frames: map[uint64][]string{}, helpers: map[uint64]*atomic.Bool{}}
	sess.slotsFail.Store(2)
	w := &recWriter{}
	defer w.wg.Wait()
	epochs, err := OpenEpochs("")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	eng := NewEngine(EngineConfig{Venue: "v", BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, SendPerSecond: 20},
		sess, w, epochs, &REST{Venue: "v", Budget: NewBudget(10)}, m, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		sess.mu.Lock()
		n := len(sess.frames)
		var got []string
		for _, fs := range sess.frames {
			got = fs
		}
		sess.mu.Unlock()
		if n == 1 && len(got) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no echoed frames")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	if got := sess.slots.Load(); got != 3 {
		t.Errorf("Slots called %d times, want 3 (two failures retried)", got)
	}
	recs := w.records()
	byEpoch := map[uint64][]md.RawRecord{}
	var order []uint64
	for _, r := range recs {
		if len(byEpoch[r.Epoch]) == 0 {
			order = append(order, r.Epoch)
		}
		if want := uint64(len(byEpoch[r.Epoch]) + 1); r.Seq != want {
			t.Fatalf("epoch %d: seq %d, want %d", r.Epoch, r.Seq, want)
		}
		byEpoch[r.Epoch] = append(byEpoch[r.Epoch], r)
	}
	if len(order) != 2 || order[1] <= order[0] {
		t.Fatalf("epochs %v, want two increasing", order)
	}
	first, second := byEpoch[order[0]], byEpoch[order[1]]
	wantTypes := []md.RawType{md.RawConnect, md.RawSubscribe, md.RawDisconnect}
	if len(first) != 3 || first[0].Type != wantTypes[0] || first[1].Type != wantTypes[1] || first[2].Type != wantTypes[2] {
		t.Fatalf("failed subscription recorded %v", first)
	}
	if string(first[1].Meta) != "symbols=A,B" || string(first[2].Meta) != "reason=session" {
		t.Errorf("markers %q %q", first[1].Meta, first[2].Meta)
	}
	var outs, ins []md.RawRecord
	for _, r := range second {
		if r.Type == md.RawFrame && r.Dir == md.DirOut {
			outs = append(outs, r)
		}
		if r.Type == md.RawFrame && r.Dir == md.DirIn {
			ins = append(ins, r)
		}
	}
	if len(outs) != 3 || len(ins) != 3 {
		t.Fatalf("second connection: %d out, %d in frames", len(outs), len(ins))
	}
	for i := range outs {
		if string(outs[i].Frame) != string(ins[i].Frame) || ins[i].Seq < outs[i].Seq {
			t.Errorf("frame %d: out %q seq %d, echo %q seq %d", i, outs[i].Frame, outs[i].Seq, ins[i].Frame, ins[i].Seq)
		}
		if i > 0 && outs[i].RecvTime-outs[i-1].RecvTime < int64(45*time.Millisecond) {
			t.Errorf("sends %d and %d only %v apart; SendPerSecond 20 paces them 50ms", i-1, i,
				time.Duration(outs[i].RecvTime-outs[i-1].RecvTime))
		}
	}
	if last := second[len(second)-1]; last.Type != md.RawDisconnect || string(last.Meta) != "reason=shutdown" {
		t.Errorf("second connection ended with %s %q", last.Type, last.Meta)
	}

	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.closes) != 2 {
		t.Fatalf("OnClose called %d times", len(sess.closes))
	}
	if ci := sess.closes[0]; ci.err == nil || !strings.Contains(ci.err.Error(), "boom") {
		t.Errorf("first OnClose err %v, want the subscribe error", ci.err)
	}
	for i, ci := range sess.closes {
		if !ci.helperDone {
			t.Errorf("OnClose %d ran before the connection's Go helper returned", i)
		}
		if want := uint64(len(byEpoch[ci.epoch])); ci.seq != want {
			t.Errorf("OnClose %d: Seq %d, want %d records", i, ci.seq, want)
		}
	}
	if got := counterValue(t, reg, "tickflow_collector_disconnects_total", map[string]string{"reason": "session"}); got != 1 {
		t.Errorf("disconnects{reason=session} = %v", got)
	}
	if got := counterValue(t, reg, "tickflow_collector_frames_total", map[string]string{"dir": "out"}); got != 3 {
		t.Errorf("frames{dir=out} = %v", got)
	}
}

func TestEngineCancelWhilePlanningAndDialing(t *testing.T) {
	// Slots never succeeds: Run keeps retrying and returns nil on cancellation.
	sess := &fakeSession{frames: map[uint64][]string{}, helpers: map[uint64]*atomic.Bool{}}
	sess.slotsFail.Store(1 << 30)
	epochs, _ := OpenEpochs("")
	eng := NewEngine(EngineConfig{Venue: "v", BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond},
		sess, &recWriter{}, epochs, &REST{Budget: NewBudget(1)}, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := eng.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if sess.slots.Load() < 3 {
		t.Errorf("Slots tried %d times in 100ms", sess.slots.Load())
	}

	// Nothing listens: dials fail, are counted, and record nothing.
	sess = &fakeSession{url: "ws://127.0.0.1:1/ws", frames: map[uint64][]string{}, helpers: map[uint64]*atomic.Bool{}}
	reg := prometheus.NewRegistry()
	w := &recWriter{}
	eng = NewEngine(EngineConfig{Venue: "v", BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond},
		sess, w, epochs, &REST{Budget: NewBudget(1)}, NewMetrics(reg), slog.New(slog.DiscardHandler))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := eng.Run(ctx2); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := counterValue(t, reg, "tickflow_collector_disconnects_total", map[string]string{"reason": "dial"}); got < 2 {
		t.Errorf("disconnects{reason=dial} = %v, want retries", got)
	}
	if n := len(w.records()); n != 0 {
		t.Errorf("%d records without a connection", n)
	}
}
