package sink

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// fakeSource hands out queued messages; Poll blocks while the queue is empty.
type fakeSource struct {
	mu      sync.Mutex
	pending []transport.Message
	wake    chan struct{}
	next    map[int]int64 // next offset per partition
	maxes   []int
	err     error // returned by Poll once the queue is empty, if set
}

func newFakeSource() *fakeSource {
	return &fakeSource{wake: make(chan struct{}, 1), next: map[int]int64{}}
}

// push queues values as consecutive messages of topic/partition.
func (f *fakeSource) push(topic string, partition int, values ...[]byte) {
	f.mu.Lock()
	for _, v := range values {
		f.pending = append(f.pending, transport.Message{Topic: topic, Partition: partition,
			Offset: f.next[partition], Value: v})
		f.next[partition]++
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeSource) Poll(ctx context.Context, max int) ([]transport.Message, error) {
	for {
		f.mu.Lock()
		f.maxes = append(f.maxes, max)
		if n := min(max, len(f.pending)); n > 0 {
			out := slices.Clone(f.pending[:n])
			f.pending = f.pending[n:]
			f.mu.Unlock()
			return out, nil
		}
		err := f.err
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-f.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// memStore is an in-memory Store that deduplicates like the real ones.
type memStore struct {
	mu        sync.Mutex
	wm        Watermarks
	trades    []md.Trade
	integrity []md.Integrity
	books     []md.BookUpdate
	offsets   map[transport.TopicPartition]int64
	writes    []int // events per successful write
	failures  int   // fail this many writes first
	failErr   error
	gate      chan struct{} // when set, each Write waits to receive from it first
	active    int           // Writes running now
	maxActive int           // most Writes ever running at once
}

func newMemStore() *memStore {
	return &memStore{offsets: map[transport.TopicPartition]int64{}}
}

func (s *memStore) Write(ctx context.Context, b *Batch) (WriteResult, error) {
	s.mu.Lock()
	gate := s.gate
	s.active++
	s.maxActive = max(s.maxActive, s.active)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return WriteResult{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return WriteResult{}, s.failErr
	}
	if err := ctx.Err(); err != nil {
		return WriteResult{}, err
	}
	var res WriteResult
	var trades []md.Trade
	var integ []md.Integrity
	for _, t := range b.Trades {
		if _, ok := s.wm.Admit(md.KindTrade, &t.Header); ok {
			trades = append(trades, t)
		} else {
			res.Duplicates.Trades++
		}
	}
	for _, e := range b.Integrity {
		if _, ok := s.wm.Admit(md.KindIntegrity, &e.Header); ok {
			integ = append(integ, e)
		} else {
			res.Duplicates.Integrity++
		}
	}
	for i := range b.Books {
		u := &b.Books[i]
		if _, ok := s.wm.Admit(md.KindBookUpdate, &u.Header); ok {
			res.Written.Books++
			res.Levels += len(u.Bids) + len(u.Asks)
			// Keep a copy: the batch's level arena is recycled after Write.
			c := *u
			c.Bids, c.Asks = slices.Clone(u.Bids), slices.Clone(u.Asks)
			s.books = append(s.books, c)
		} else {
			res.Duplicates.Books++
		}
	}
	for i := range b.BookStatus {
		if _, ok := s.wm.Admit(md.KindBookStatus, &b.BookStatus[i].Header); ok {
			res.Written.BookStatus++
		} else {
			res.Duplicates.BookStatus++
		}
	}
	for i := range b.BBOs {
		if _, ok := s.wm.Admit(md.KindBBO, &b.BBOs[i].Header); ok {
			res.Written.BBOs++
		} else {
			res.Duplicates.BBOs++
		}
	}
	s.wm.Commit()
	s.trades = append(s.trades, trades...)
	s.integrity = append(s.integrity, integ...)
	for _, o := range b.Offsets {
		s.offsets[transport.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Next
	}
	res.Written.Trades, res.Written.Integrity = len(trades), len(integ)
	s.writes = append(s.writes, b.Len())
	return res, nil
}

// bookStore is a memStore that declares every kind the Runner decodes (see KindStore).
type bookStore struct{ *memStore }

func (bookStore) StoresKind(md.Kind) bool { return true }

func (s *memStore) Offsets(context.Context) ([]transport.Offset, error) { return nil, nil }
func (s *memStore) Close() error                                        { return nil }

func (s *memStore) snapshot() (writes []int, trades int, off map[transport.TopicPartition]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off = map[transport.TopicPartition]int64{}
	for k, v := range s.offsets {
		off[k] = v
	}
	return slices.Clone(s.writes), len(s.trades), off
}

func tradeMsg(symbol string, seq uint64) []byte {
	t := md.Trade{Header: md.Header{Venue: "binance", Symbol: symbol, RecvTime: time.Now().UnixNano(),
		Prov: md.Provenance{Epoch: 1, Seq: seq}, ParserVersion: 1},
		ID: md.NumericID(seq), Price: md.Decimal{Mant: 1, Scale: 0}, Qty: md.Decimal{Mant: 1}}
	return md.AppendTrade(nil, &t)
}

func integrityMsg(symbol string, seq uint64) []byte {
	e := md.Integrity{Header: md.Header{Venue: "binance", Symbol: symbol, RecvTime: 1,
		Prov: md.Provenance{Epoch: 1, Seq: seq}, ParserVersion: 1},
		Type: md.IntegrityGap, Stream: md.KindTrade}
	return md.AppendIntegrity(nil, &e)
}

func trades(from, to uint64) [][]byte {
	var out [][]byte
	for s := from; s <= to; s++ {
		out = append(out, tradeMsg("BTC-USDT", s))
	}
	return out
}

type harness struct {
	src    *fakeSource
	store  *memStore
	reg    *prometheus.Registry
	runner *Runner
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	return startWith(t, cfg, false)
}

// startWith starts a Runner on a memStore; with books the store declares the book kinds.
func startWith(t *testing.T, cfg Config, books bool) *harness {
	t.Helper()
	h := &harness{src: newFakeSource(), store: newMemStore(), reg: prometheus.NewRegistry(),
		done: make(chan error, 1)}
	cfg.Registerer = h.reg
	var st Store = h.store
	if books {
		st = bookStore{h.store}
	}
	r, err := NewRunner(h.src, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.runner = r
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- r.Run(ctx) }()
	return h
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunnerBatchesByCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{MaxRows: 10, MaxDelay: time.Hour})
		h.src.push(transport.TopicTrades, 0, trades(1, 25)...)
		synctest.Wait()
		writes, _, _ := h.store.snapshot()
		if !slices.Equal(writes, []int{10, 10}) {
			t.Fatalf("writes %v, want [10 10]", writes)
		}
		h.stop(t) // flushes the remaining 5
		writes, n, off := h.store.snapshot()
		if !slices.Equal(writes, []int{10, 10, 5}) || n != 25 {
			t.Fatalf("writes %v (%d trades), want [10 10 5]", writes, n)
		}
		if got := off[transport.TopicPartition{Topic: transport.TopicTrades}]; got != 25 {
			t.Fatalf("stored next offset %d, want 25", got)
		}
		for _, m := range h.src.maxes {
			if m < 1 || m > 10 {
				t.Fatalf("poll max %d outside 1..10", m)
			}
		}
	})
}

func TestRunnerBatchesByTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{MaxDelay: 200 * time.Millisecond})
		h.src.push(transport.TopicTrades, 0, trades(1, 3)...)
		time.Sleep(150 * time.Millisecond)
		h.src.push(transport.TopicTrades, 0, trades(4, 5)...)
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		if writes, _, _ := h.store.snapshot(); len(writes) != 0 {
			t.Fatalf("wrote %v before MaxDelay", writes)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if writes, _, _ := h.store.snapshot(); !slices.Equal(writes, []int{5}) {
			t.Fatalf("writes %v after MaxDelay, want [5]", writes)
		}
		// An idle runner writes nothing.
		time.Sleep(time.Second)
		if writes, _, _ := h.store.snapshot(); len(writes) != 1 {
			t.Fatalf("idle writes %v", writes)
		}
		h.stop(t)
	})
}

func TestRunnerBatchesByBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		size := len(tradeMsg("BTC-USDT", 1))
		h := start(t, Config{MaxBytes: 3 * size, MaxDelay: time.Hour})
		h.src.push(transport.TopicTrades, 0, trades(1, 7)...)
		synctest.Wait()
		if writes, _, _ := h.store.snapshot(); !slices.Equal(writes, []int{3, 3}) {
			t.Fatalf("writes %v, want [3 3]", writes)
		}
		h.stop(t)
	})
}

func TestRunnerFlushesOnCancelAndTracksOffsets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{MaxDelay: time.Hour})
		h.src.push(transport.TopicTrades, 0, trades(1, 3)...)
		h.src.push(transport.TopicTrades, 5, trades(10, 11)...)
		h.src.push(transport.TopicIntegrity, 2, integrityMsg("BTC-USDT", 1))
		synctest.Wait()
		if writes, _, _ := h.store.snapshot(); len(writes) != 0 {
			t.Fatalf("wrote %v before cancel", writes)
		}
		h.stop(t)
		writes, n, off := h.store.snapshot()
		if !slices.Equal(writes, []int{6}) || n != 5 {
			t.Fatalf("writes %v, %d trades", writes, n)
		}
		want := map[transport.TopicPartition]int64{
			{Topic: transport.TopicTrades, Partition: 0}:    3,
			{Topic: transport.TopicTrades, Partition: 5}:    2,
			{Topic: transport.TopicIntegrity, Partition: 2}: 1,
		}
		for k, v := range want {
			if off[k] != v {
				t.Fatalf("offsets %v, want %v", off, want)
			}
		}
	})
}

func TestRunnerDeadLettersUndecodable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var dead []string
		var deadOffsets []int64
		cfg := Config{MaxDelay: time.Hour, DeadLetter: func(m transport.Message, reason string) {
			mu.Lock()
			defer mu.Unlock()
			dead = append(dead, reason)
			deadOffsets = append(deadOffsets, m.Offset)
		}}
		h := start(t, cfg)
		good := tradeMsg("BTC-USDT", 1)
		badVersion := slices.Clone(good)
		badVersion[0] = 9
		book := []byte{md.WireVersion, byte(md.KindBookUpdate), 0, 0}
		zeroProv := func() []byte {
			tr := md.Trade{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", RecvTime: 1},
				ID: md.NumericID(1)}
			return md.AppendTrade(nil, &tr)
		}()
		badUTF8 := func() []byte {
			tr := md.Trade{Header: md.Header{Venue: "binance", Symbol: "BTC-\xff", RecvTime: 1,
				Prov: md.Provenance{Epoch: 1, Seq: 1}}}
			return md.AppendTrade(nil, &tr)
		}()
		h.src.push(transport.TopicTrades, 0,
			[]byte{1},                // 0 truncated
			badVersion,               // 1 version
			good[:len(good)-3],       // 2 truncated body
			book,                     // 3 unsupported kind
			zeroProv,                 // 4 invalid header
			badUTF8,                  // 5 invalid header
			good,                     // 6 stored
			integrityMsg("X", 1)[:5], // 7 truncated
		)
		synctest.Wait()
		h.stop(t)
		_, n, off := h.store.snapshot()
		if n != 1 {
			t.Fatalf("%d trades stored, want 1", n)
		}
		if off[transport.TopicPartition{Topic: transport.TopicTrades}] != 8 {
			t.Fatalf("offsets %v: dead-lettered messages must be committed", off)
		}
		mu.Lock()
		defer mu.Unlock()
		wantReasons := []string{ReasonTruncated, ReasonVersion, ReasonTruncated,
			ReasonUnsupportedKind, ReasonInvalidHeader, ReasonInvalidHeader, ReasonTruncated}
		if len(dead) != len(wantReasons) {
			t.Fatalf("dead letters %q", dead)
		}
		for i, r := range wantReasons {
			if !strings.HasPrefix(dead[i], r+": ") {
				t.Errorf("dead letter %d reason %q, want prefix %q", i, dead[i], r)
			}
		}
		if !slices.Equal(deadOffsets, []int64{0, 1, 2, 3, 4, 5, 7}) {
			t.Errorf("dead-letter offsets %v", deadOffsets)
		}
		if got := testutil.ToFloat64(h.runner.m.decodeErrors[ReasonTruncated]); got != 3 {
			t.Errorf("decode_errors{truncated} = %v", got)
		}
		if got := testutil.ToFloat64(h.runner.m.decodeErrors[ReasonInvalidHeader]); got != 2 {
			t.Errorf("decode_errors{invalid_header} = %v", got)
		}
	})
}

func TestRunnerCountsDuplicatesAndMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{MaxRows: 4, MaxDelay: time.Hour})
		h.src.push(transport.TopicTrades, 0, trades(1, 4)...)
		h.src.push(transport.TopicTrades, 0, trades(3, 6)...) // a replay overlapping by 2
		synctest.Wait()
		h.stop(t)
		m := h.runner.m
		if got := testutil.ToFloat64(m.trades.written); got != 6 {
			t.Errorf("rows_written{trade} = %v, want 6", got)
		}
		if got := testutil.ToFloat64(m.trades.duplicates); got != 2 {
			t.Errorf("duplicates{trade} = %v, want 2", got)
		}
		if got := testutil.ToFloat64(m.messages); got != 8 {
			t.Errorf("messages_total = %v, want 8", got)
		}
		names := map[string]bool{}
		mfs, err := h.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			names[mf.GetName()] = true
		}
		for _, n := range []string{"tickflow_sink_rows_written_total",
			"tickflow_sink_duplicates_total", "tickflow_sink_decode_errors_total",
			"tickflow_sink_messages_total", "tickflow_sink_batch_rows",
			"tickflow_sink_write_seconds", "tickflow_sink_last_write_timestamp_seconds",
			"tickflow_sink_event_age_seconds"} {
			if !names[n] {
				t.Errorf("metric %s not exported", n)
			}
		}
	})
}

func TestRunnerRetriesWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{MaxRows: 2, MaxDelay: time.Hour, RetryBackoff: time.Second})
		h.store.mu.Lock()
		h.store.failures, h.store.failErr = 2, errors.New("disk hiccup")
		h.store.mu.Unlock()
		h.src.push(transport.TopicTrades, 0, trades(1, 2)...)
		synctest.Wait() // blocked in the first backoff
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if writes, _, _ := h.store.snapshot(); !slices.Equal(writes, []int{2}) {
			t.Fatalf("writes %v after retries", writes)
		}
		if got := testutil.ToFloat64(h.runner.m.writeErrors); got != 2 {
			t.Fatalf("write_errors = %v", got)
		}
		h.stop(t)
	})
}

func TestRunnerGivesUpAfterWriteAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{MaxRows: 1, MaxDelay: time.Hour, WriteAttempts: 3,
			RetryBackoff: time.Millisecond})
		h.store.mu.Lock()
		h.store.failures, h.store.failErr = 100, errors.New("disk full")
		h.store.mu.Unlock()
		h.src.push(transport.TopicTrades, 0, trades(1, 1)...)
		err := <-h.done
		if err == nil || !strings.Contains(err.Error(), "disk full") ||
			!strings.Contains(err.Error(), "attempt 3") {
			t.Fatalf("run error %v", err)
		}
		h.cancel()
	})
}

func TestRunnerSourceErrorFlushesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{MaxDelay: time.Hour})
		h.src.push(transport.TopicTrades, 0, trades(1, 2)...)
		synctest.Wait()
		h.src.mu.Lock()
		h.src.err = errors.New("broker gone")
		h.src.mu.Unlock()
		h.src.push(transport.TopicTrades, 0) // wake the poller
		err := <-h.done
		if err == nil || !strings.Contains(err.Error(), "broker gone") {
			t.Fatalf("run error %v", err)
		}
		if writes, _, _ := h.store.snapshot(); !slices.Equal(writes, []int{2}) {
			t.Fatalf("writes %v: the batch in flight must be written", writes)
		}
		h.cancel()
	})
}

// checkStored checks the store's successful writes (events per write) and that it stored
// every trade of them and the offset after the last one (trades of partition 0 from 1 up).
func (h *harness) checkStored(t *testing.T, writes []int) {
	t.Helper()
	got, n, off := h.store.snapshot()
	total := 0
	for _, w := range writes {
		total += w
	}
	if !slices.Equal(got, writes) || n != total {
		t.Fatalf("writes %v (%d trades), want %v", got, n, writes)
	}
	if next := off[transport.TopicPartition{Topic: transport.TopicTrades}]; next != int64(total) {
		t.Fatalf("stored next offset %d, want %d", next, total)
	}
}

// TestRunnerDecodesWhileWriting: while a batch is being written the Runner fills the next
// one, but writes it only after the first write returned — one Write at a time, in order.
func TestRunnerDecodesWhileWriting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		h := start(t, Config{MaxRows: 10, MaxDelay: time.Hour})
		h.store.mu.Lock()
		h.store.gate = gate
		h.store.mu.Unlock()
		h.src.push(transport.TopicTrades, 0, trades(1, 25)...)
		synctest.Wait()
		pending := func() int {
			h.src.mu.Lock()
			defer h.src.mu.Unlock()
			return len(h.src.pending)
		}
		// Batch 1 is in its Write, batch 2 decoded and waiting for it.
		if writes, _, _ := h.store.snapshot(); len(writes) != 0 || pending() != 5 {
			t.Fatalf("writes %v, %d messages not polled; want none written and 5", writes, pending())
		}
		gate <- struct{}{} // batch 1 lands, batch 2's Write starts, the rest is polled
		synctest.Wait()
		if writes, _, _ := h.store.snapshot(); !slices.Equal(writes, []int{10}) || pending() != 0 {
			t.Fatalf("writes %v, %d messages not polled; want [10] and 0", writes, pending())
		}
		close(gate)
		h.stop(t)
		h.checkStored(t, []int{10, 10, 5})
		if h.store.maxActive != 1 {
			t.Fatalf("%d Writes ran at once, want 1", h.store.maxActive)
		}
	})
}

// TestRunnerWritesNothingAfterAFailedWrite: when a handed-over batch cannot be written, no
// later batch is (its offsets would skip the failed batch's messages); Run returns the error
// and drop discards both batches.
func TestRunnerWritesNothingAfterAFailedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Config{MaxRows: 10, MaxDelay: time.Hour, WriteAttempts: 1})
		h.store.mu.Lock()
		h.store.failures, h.store.failErr = 1, errors.New("disk full")
		h.store.mu.Unlock()
		h.src.push(transport.TopicTrades, 0, trades(1, 25)...)
		err := <-h.done
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("run error %v, want the failed write's", err)
		}
		synctest.Wait()
		if writes, _, off := h.store.snapshot(); len(writes) != 0 || len(off) != 0 {
			t.Fatalf("writes %v, offsets %v after the first write failed; want none", writes, off)
		}
		if n := h.runner.drop(); n < 10 {
			t.Fatalf("drop discarded %d messages, want the failed batch's 10 and any after", n)
		}
		h.cancel()
	})
}

// TestRunnerStopWaitsForTheWriteInFlight: stopping while a batch is being written lets the
// write finish, then writes the batch being filled.
func TestRunnerStopWaitsForTheWriteInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		h := start(t, Config{MaxRows: 10, MaxDelay: time.Hour, FlushTimeout: time.Minute})
		h.store.mu.Lock()
		h.store.gate = gate
		h.store.mu.Unlock()
		h.src.push(transport.TopicTrades, 0, trades(1, 15)...)
		synctest.Wait()
		h.cancel()
		synctest.Wait()
		time.Sleep(30 * time.Second) // well within FlushTimeout: the write is not cancelled
		close(gate)
		if err := <-h.done; err != nil {
			t.Fatalf("run: %v", err)
		}
		h.checkStored(t, []int{10, 5})
	})
}

// TestRunnerFinalFlushRetriesTheFailedWrite: a write in flight that fails while the Runner
// stops is retried by the final flush before the batch being filled is written.
func TestRunnerFinalFlushRetriesTheFailedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		h := start(t, Config{MaxRows: 10, MaxDelay: time.Hour, WriteAttempts: 1})
		h.store.mu.Lock()
		h.store.gate = gate
		h.store.failures, h.store.failErr = 1, errors.New("connection reset")
		h.store.mu.Unlock()
		h.src.push(transport.TopicTrades, 0, trades(1, 15)...)
		synctest.Wait()
		h.store.mu.Lock()
		h.store.gate = nil // the final flush's writes pass
		h.store.mu.Unlock()
		h.cancel()
		synctest.Wait()
		gate <- struct{}{} // the write in flight fails
		if err := <-h.done; err != nil {
			t.Fatalf("run: %v", err)
		}
		h.checkStored(t, []int{10, 5})
	})
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{{MaxRows: -1}, {MaxBytes: -1}, {MaxDelay: -1}, {FlushTimeout: -1},
		{WriteAttempts: -1}, {RetryBackoff: -1}}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRunner(newFakeSource(), newMemStore(), Config{MaxRows: -1}); err == nil {
		t.Fatal("NewRunner accepted an invalid config")
	}
	reg := prometheus.NewRegistry()
	if _, err := NewRunner(newFakeSource(), newMemStore(), Config{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRunner(newFakeSource(), newMemStore(), Config{Registerer: reg}); err == nil {
		t.Fatal("second runner on one registry: duplicate registration not reported")
	}
}
