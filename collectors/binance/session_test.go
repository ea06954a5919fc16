package binance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tickflow/tickflow/collectors"
	binancesim "github.com/tickflow/tickflow/collectors/sim/binance"
	"github.com/tickflow/tickflow/md"
	"github.com/valyala/fastjson"
)

// memWriter is an in-memory collectors.RawWriter. It keeps a copy of every record (the engine
// reuses its buffers) in write order and acknowledges records asynchronously, in order, from
// its own goroutine, like a Kafka producer's completion callbacks.
type memWriter struct {
	mu      sync.Mutex
	recs    []md.RawRecord
	pending []func(error)
	full    bool
	nack    bool // acknowledge with an error (the record was not stored)

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

var _ collectors.RawWriter = (*memWriter)(nil)

var (
	errMemFull   = errors.New("memwriter: full")
	errNotStored = errors.New("memwriter: not stored")
)

func newMemWriter(t *testing.T) *memWriter {
	w := &memWriter{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.ackLoop()
	t.Cleanup(w.close) // registered before the engine's cleanup, so it runs after it
	return w
}

func (w *memWriter) Write(rec *md.RawRecord, onAck func(error)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.full {
		return errMemFull
	}
	cp := *rec
	cp.Meta = bytes.Clone(rec.Meta)
	cp.Frame = bytes.Clone(rec.Frame)
	w.recs = append(w.recs, cp)
	w.pending = append(w.pending, onAck)
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return nil
}

func (w *memWriter) ackLoop() {
	defer close(w.done)
	var batch []func(error)
	for {
		select {
		case <-w.stop:
			return
		case <-w.kick:
		}
		time.Sleep(time.Millisecond) // acks come later than writes, in batches
		w.mu.Lock()
		batch, w.pending = w.pending, batch[:0]
		var err error
		if w.nack {
			err = errNotStored
		}
		w.mu.Unlock()
		for _, f := range batch {
			if f != nil {
				f(err)
			}
		}
	}
}

func (w *memWriter) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *memWriter) setFull(full bool) {
	w.mu.Lock()
	w.full = full
	w.mu.Unlock()
}

func (w *memWriter) setNack(nack bool) {
	w.mu.Lock()
	w.nack = nack
	w.mu.Unlock()
}

// records returns the records written so far (shared, never modified).
func (w *memWriter) records() []md.RawRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.recs[:len(w.recs):len(w.recs)]
}

// syncBuffer is the simulator's TradeLog.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// truth returns the simulator's TradeLog as native symbol -> ids (call after StopTrading).
func (s *syncBuffer) truth(t *testing.T) map[string][]uint64 {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		sym, id, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseUint(id, 10, 64)
		if !ok || err != nil {
			t.Fatalf("trade log line %q", sc.Text())
		}
		out[sym] = append(out[sym], n)
	}
	return out
}

func startSim(t *testing.T, cfg binancesim.Config) (*binancesim.Server, *syncBuffer) {
	t.Helper()
	tl := &syncBuffer{}
	cfg.TradeLog = tl
	s, err := binancesim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("simulator close: %v", err)
		}
	})
	return s, tl
}

// collector is one Engine with a binance Session against the simulator.
type collector struct {
	w       *memWriter
	reg     *prometheus.Registry
	metrics *collectors.Metrics
	epochs  string
	cancel  context.CancelFunc
	done    chan error
	tr      *http.Transport
	stopped bool
}

type collectorConfig struct {
	addr     string
	symbols  []string
	stateDir string
	noState  bool // no state directory: the session keeps no state file
	options  map[string]string
	engine   collectors.EngineConfig
}

func startCollector(t *testing.T, cc collectorConfig) *collector {
	t.Helper()
	if cc.stateDir == "" {
		cc.stateDir = t.TempDir()
	}
	if cc.symbols == nil {
		cc.symbols = []string{"BTCUSDT", "PEPEUSDT"}
	}
	// Trades only unless a test asks for more (an empty value removes an option: default).
	opts := map[string]string{"idle_after": "150ms", "tail_every": "150ms", "channels": "trade"}
	for k, v := range cc.options {
		opts[k] = v
		if v == "" {
			delete(opts, k)
		}
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c := &collector{w: newMemWriter(t), reg: prometheus.NewRegistry(), done: make(chan error, 1),
		epochs: filepath.Join(cc.stateDir, "epoch"), tr: &http.Transport{}}
	c.metrics = collectors.NewMetrics(c.reg)
	sessDir := cc.stateDir
	if cc.noState {
		sessDir = ""
	}
	sess, err := NewSession(collectors.SessionEnv{WSURL: "ws://" + cc.addr, RESTURL: "http://" + cc.addr,
		Symbols: cc.symbols, StateDir: sessDir, Log: log, Metrics: c.metrics, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	epochs, err := collectors.OpenEpochs(c.epochs)
	if err != nil {
		t.Fatal(err)
	}
	rest := &collectors.REST{Venue: Venue, BaseURL: "http://" + cc.addr, Budget: collectors.NewBudget(WeightPerMinute(opts)),
		Client: &http.Client{Transport: c.tr, Timeout: 5 * time.Second}, Metrics: c.metrics, WeightHeader: "X-Mbx-Used-Weight-1m"}
	ecfg := cc.engine
	ecfg.Venue = Venue
	if ecfg.BackoffMin == 0 {
		ecfg.BackoffMin, ecfg.BackoffMax = 10*time.Millisecond, 100*time.Millisecond
	}
	if ecfg.HandshakeTimeout == 0 {
		ecfg.HandshakeTimeout = 5 * time.Second
	}
	eng := collectors.NewEngine(ecfg, sess, c.w, epochs, rest, c.metrics, log)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { c.done <- eng.Run(ctx) }()
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop cancels the engine and waits for Run to return.
func (c *collector) stop(t *testing.T) {
	t.Helper()
	if c.stopped {
		return
	}
	c.stopped = true
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("engine Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("engine did not stop within 15s of cancellation")
	}
	c.tr.CloseIdleConnections()
}

// counter sums a counter metric's values over the series whose labels include want.
func (c *collector) counter(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := c.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelsMatch(m, want) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// capture follows the trade ids in recorded frames and REST responses, parsed by the real
// parser. Malformed records are counted and skipped.
type capture struct {
	p         *Parser
	out       collectors.Output
	n         int
	ids       map[string]map[uint64]bool // native symbol -> ids
	restIDs   map[string]map[uint64]bool // the ids seen in REST responses
	malformed int
}

func newCapture() *capture {
	return &capture{p: NewParser(), ids: map[string]map[uint64]bool{}, restIDs: map[string]map[uint64]bool{}}
}

func (c *capture) update(recs []md.RawRecord) {
	natives := map[string]string{}
	for ; c.n < len(recs); c.n++ {
		rec := &recs[c.n]
		c.out.Reset()
		if err := c.p.Parse(rec, &c.out); err != nil {
			c.malformed++
			continue
		}
		for i := range c.out.Trades {
			tr := &c.out.Trades[i]
			native, ok := natives[tr.Symbol]
			if !ok {
				for _, s := range []string{"BTCUSDT", "PEPEUSDT", "ETHUSDT"} {
					if in := c.p.Instrument(s); in != nil && in.Symbol == tr.Symbol {
						native = s
					}
				}
				natives[tr.Symbol] = native
			}
			add(c.ids, native, tr.ID.Num)
			if rec.Type == md.RawREST {
				add(c.restIDs, native, tr.ID.Num)
			}
		}
	}
}

func add(m map[string]map[uint64]bool, k string, id uint64) {
	if m[k] == nil {
		m[k] = map[uint64]bool{}
	}
	m[k][id] = true
}

// missing lists the ids of truth that are not captured, from the first captured id of each
// symbol (or from from[sym]+1 when given) on. Trades before the collector's start are not
// expected unless from says so.
func (c *capture) missing(truth map[string][]uint64, symbols []string, from map[string]uint64) (n int, sample []string) {
	for _, sym := range symbols {
		got := c.ids[sym]
		lo, ok := from[sym]
		if ok {
			lo++
		} else {
			if len(got) == 0 {
				n++
				sample = append(sample, sym+": nothing captured")
				continue
			}
			lo = ^uint64(0)
			for id := range got {
				lo = min(lo, id)
			}
		}
		for _, id := range truth[sym] {
			if id >= lo && !got[id] {
				n++
				if len(sample) < 10 {
					sample = append(sample, sym+" "+strconv.FormatUint(id, 10))
				}
			}
		}
	}
	return n, sample
}

// waitCovered waits until every trade of truth from the capture start on is in the capture.
func waitCovered(t *testing.T, w *memWriter, c *capture, truth map[string][]uint64, symbols []string, from map[string]uint64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.update(w.records())
		n, sample := c.missing(truth, symbols, from)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d trades of the simulator's trade log are in no recorded frame or REST response, e.g. %v",
				timeout, n, sample)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countTradeFrames(recs []md.RawRecord) int {
	n := 0
	for i := range recs {
		if recs[i].Type == md.RawFrame && recs[i].Dir == md.DirIn && bytes.Contains(recs[i].Frame, []byte(`"e":"trade"`)) {
			n++
		}
	}
	return n
}

// epochRun is the records of one epoch.
type epochRun struct {
	epoch uint64
	recs  []md.RawRecord
}

// checkEpochs checks the raw stream invariants of ADR 0001 on what one collector recorded:
// epochs strictly increase in write order, every epoch starts with the connect marker (seq 1)
// and the subscribe marker (seq 2), seqs are contiguous, and a disconnect marker ends every
// epoch but possibly the last.
func checkEpochs(t *testing.T, recs []md.RawRecord, wantSymbols string) []epochRun {
	t.Helper()
	var runs []epochRun
	for i := range recs {
		r := recs[i]
		if r.Venue != Venue || r.Conn != "trade-0" {
			t.Fatalf("record %d: venue %q conn %q", i, r.Venue, r.Conn)
		}
		if r.RecvTime == 0 {
			t.Fatalf("record %d has no receive time", i)
		}
		if len(runs) == 0 || r.Epoch != runs[len(runs)-1].epoch {
			if len(runs) > 0 && r.Epoch <= runs[len(runs)-1].epoch {
				t.Fatalf("record %d: epoch %d after epoch %d", i, r.Epoch, runs[len(runs)-1].epoch)
			}
			runs = append(runs, epochRun{epoch: r.Epoch})
		}
		run := &runs[len(runs)-1]
		if want := uint64(len(run.recs) + 1); r.Seq != want {
			t.Fatalf("epoch %d: record %d has seq %d, want %d", r.Epoch, len(run.recs), r.Seq, want)
		}
		run.recs = append(run.recs, r)
	}
	for i, run := range runs {
		if run.recs[0].Type != md.RawConnect || !strings.HasPrefix(string(run.recs[0].Meta), "url=ws://") {
			t.Errorf("epoch %d starts with %s %q, want the connect marker", run.epoch, run.recs[0].Type, run.recs[0].Meta)
		}
		if len(run.recs) < 2 || run.recs[1].Type != md.RawSubscribe || string(run.recs[1].Meta) != "symbols="+wantSymbols {
			t.Errorf("epoch %d: second record is not the subscribe marker for %s", run.epoch, wantSymbols)
		}
		last := run.recs[len(run.recs)-1]
		if i < len(runs)-1 && last.Type != md.RawDisconnect {
			t.Errorf("epoch %d ends with %s, want a disconnect marker", run.epoch, last.Type)
		}
		for j, r := range run.recs {
			if r.Type == md.RawDisconnect && j != len(run.recs)-1 {
				t.Errorf("epoch %d: records after the disconnect marker", run.epoch)
			}
		}
	}
	return runs
}

func readEpochFile(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSessionSubscribesAndRecords runs the engine with the default channels against the
// simulator and checks the raw stream of one connection: markers, exchangeInfo, the SUBSCRIBE
// request and its reply, trade, depth and bookTicker frames, and a depth snapshot fetched after
// the first diff event, with contiguous sequence numbers.
func TestSessionSubscribesAndRecords(t *testing.T) {
	t.Parallel()
	sim, _ := startSim(t, binancesim.Config{Seed: 1, Symbols: 3, TradeRate: 150})
	c := startCollector(t, collectorConfig{addr: sim.Addr(), symbols: []string{"pepeusdt", "BTCUSDT"},
		options: map[string]string{"channels": ""}})
	snapshots := func() map[string]bool {
		got := map[string]bool{}
		for _, r := range c.w.records() {
			if r.Type == md.RawREST && strings.HasPrefix(string(r.Meta), "200 /api/v3/depth?") {
				_, q, _ := strings.Cut(string(r.Meta), "?")
				got[string(queryParam([]byte(q), "symbol"))] = true
			}
		}
		return got
	}
	waitUntil(t, 10*time.Second, "30 trade frames and depth snapshots", func() bool {
		snaps := snapshots()
		return countTradeFrames(c.w.records()) >= 30 && snaps["BTCUSDT"] && snaps["PEPEUSDT"]
	})
	c.stop(t)

	recs := c.w.records()
	runs := checkEpochs(t, recs, "BTCUSDT,PEPEUSDT")
	if len(runs) != 1 {
		t.Fatalf("%d epochs, want 1", len(runs))
	}
	if got := readEpochFile(t, c.epochs); got != runs[0].epoch {
		t.Errorf("epoch file holds %d, the connection used %d", got, runs[0].epoch)
	}
	if recs[0].Meta == nil || string(recs[0].Meta) != "url=ws://"+sim.Addr()+"/stream" {
		t.Errorf("connect marker meta %q", recs[0].Meta)
	}
	if recs[2].Type != md.RawREST || string(recs[2].Meta) != "200 /api/v3/exchangeInfo" {
		t.Errorf("third record %s %q, want the exchangeInfo response", recs[2].Type, recs[2].Meta)
	} else if insts, err := ParseExchangeInfo(recs[2].Frame, 1); err != nil || len(insts) != 3 {
		t.Errorf("recorded exchangeInfo: %d instruments, %v", len(insts), err)
	}
	last := recs[len(recs)-1]
	if last.Type != md.RawDisconnect || string(last.Meta) != "reason=shutdown" {
		t.Errorf("last record %s %q, want disconnect reason=shutdown", last.Type, last.Meta)
	}

	subAt, replyAt := -1, -1
	firstDepth := map[string]int{}
	var lastRecv int64
	streams := map[string]int{}
	for i, r := range recs {
		switch {
		case r.Type == md.RawFrame && r.Dir == md.DirOut:
			var req struct {
				Method string   `json:"method"`
				Params []string `json:"params"`
				ID     int      `json:"id"`
			}
			if err := json.Unmarshal(r.Frame, &req); err != nil {
				t.Fatalf("outbound frame %q: %v", r.Frame, err)
			}
			want := []string{"btcusdt@trade", "btcusdt@depth@100ms", "btcusdt@bookTicker",
				"pepeusdt@trade", "pepeusdt@depth@100ms", "pepeusdt@bookTicker"}
			if req.Method != "SUBSCRIBE" || !slices.Equal(req.Params, want) || req.ID != 1 || subAt >= 0 {
				t.Errorf("outbound frame %s", r.Frame)
			}
			subAt = i
		case r.Type == md.RawFrame && r.Dir == md.DirIn:
			if r.RecvTime < lastRecv {
				t.Errorf("record %d: inbound receive time went back", i)
			}
			lastRecv = r.RecvTime
			if string(r.Frame) == `{"result":null,"id":1}` {
				replyAt = i
				continue
			}
			var f struct {
				Stream string `json:"stream"`
				Data   struct {
					S string `json:"s"`
				} `json:"data"`
			}
			if err := json.Unmarshal(r.Frame, &f); err != nil {
				t.Fatalf("inbound frame %q: %v", r.Frame, err)
			}
			sym, kind, _ := strings.Cut(f.Stream, "@")
			if sym != strings.ToLower(f.Data.S) || (kind != "trade" && kind != "depth@100ms" && kind != "bookTicker") {
				t.Errorf("unexpected inbound frame %s", r.Frame)
			}
			streams[f.Stream]++
			if _, ok := firstDepth[f.Data.S]; !ok && kind == "depth@100ms" {
				firstDepth[f.Data.S] = i
			}
		case r.Type == md.RawREST && strings.HasPrefix(string(r.Meta), "200 /api/v3/depth?"):
			_, q, _ := strings.Cut(string(r.Meta), "?")
			sym := string(queryParam([]byte(q), "symbol"))
			if at, ok := firstDepth[sym]; !ok || at > i {
				t.Errorf("%s snapshot fetched before its first diff event (it could not bridge the buffered events)", sym)
			}
			if !strings.HasSuffix(string(r.Meta), "&limit=1000") {
				t.Errorf("snapshot request %q, want the default limit 1000", r.Meta)
			}
		case r.Type == md.RawResync:
			t.Errorf("resync marker %q on a fault-free connection", r.Meta)
		}
	}
	if subAt < 0 || replyAt < subAt {
		t.Errorf("SUBSCRIBE at record %d, reply at %d", subAt, replyAt)
	}
	for _, st := range []string{"btcusdt@trade", "pepeusdt@trade", "btcusdt@depth@100ms", "pepeusdt@depth@100ms", "btcusdt@bookTicker", "pepeusdt@bookTicker"} {
		if streams[st] == 0 {
			t.Errorf("no %s frame recorded (got %v)", st, streams)
		}
	}
	if got := c.counter(t, "tickflow_collector_connects_total", nil); got != 1 {
		t.Errorf("connects %v, want 1", got)
	}
	inbound := 0
	for _, r := range recs {
		if r.Type == md.RawFrame && r.Dir == md.DirIn {
			inbound++
		}
	}
	if got := c.counter(t, "tickflow_collector_frames_total", map[string]string{"dir": "in"}); int(got) != inbound {
		t.Errorf("frames_total{dir=in} %v, recorded %d", got, inbound)
	}
}

// TestSessionBackfillsLostFrames drops and garbles frames on the wire; after trading stops,
// the recorded frames and REST responses together hold every trade the simulator made since
// the collector's first one.
func TestSessionBackfillsLostFrames(t *testing.T) {
	t.Parallel()
	sim, tl := startSim(t, binancesim.Config{Seed: 2, Symbols: 3, TradeRate: 150,
		Faults: binancesim.Faults{DropRate: 0.03, MalformedRate: 0.03, DuplicateRate: 0.02}})
	c := startCollector(t, collectorConfig{addr: sim.Addr()})
	waitUntil(t, 15*time.Second, "drops and malformed frames", func() bool {
		st := sim.Stats()
		return st.Dropped >= 5 && st.Malformed >= 5 && countTradeFrames(c.w.records()) >= 100
	})
	sim.StopTrading()
	truth := tl.truth(t)
	cp := newCapture()
	waitCovered(t, c.w, cp, truth, []string{"BTCUSDT", "PEPEUSDT"}, nil, 15*time.Second)
	c.stop(t)

	checkEpochs(t, c.w.records(), "BTCUSDT,PEPEUSDT")
	if cp.malformed == 0 {
		t.Error("no malformed frame was recorded")
	}
	if len(cp.restIDs["BTCUSDT"])+len(cp.restIDs["PEPEUSDT"]) == 0 {
		t.Error("nothing was backfilled")
	}
	hist := 0
	for _, r := range c.w.records() {
		if r.Type == md.RawREST && strings.HasPrefix(string(r.Meta), "200 /api/v3/historicalTrades?") {
			hist++
		}
	}
	if hist == 0 {
		t.Error("no historicalTrades request was recorded")
	}
	if c.counter(t, "tickflow_collector_gaps_total", map[string]string{"kind": "trade"}) == 0 {
		t.Error("no wire gap counted")
	}
	if c.counter(t, "tickflow_collector_backfilled_total", nil) == 0 {
		t.Error("backfilled_total is 0")
	}
}

// TestSessionReconnectsWithNewEpoch has the simulator cut connections (clean closes and TCP
// resets); the engine reconnects under a new, larger epoch each time, and the trades of the
// outages are backfilled.
func TestSessionReconnectsWithNewEpoch(t *testing.T) {
	t.Parallel()
	sim, tl := startSim(t, binancesim.Config{Seed: 3, Symbols: 3, TradeRate: 400,
		Faults: binancesim.Faults{DisconnectEvery: 400 * time.Millisecond, CleanCloseRatio: 0.5}})
	// Symbols are not idle across a reconnect, so the tail check does not cover the outages:
	// the backfill after each reconnect does.
	c := startCollector(t, collectorConfig{addr: sim.Addr(), options: map[string]string{"idle_after": "1s", "tail_every": "1s"}})
	// Long enough that the final tail check (the last 100 trades) cannot cover the outages.
	waitUntil(t, 15*time.Second, "four connections", func() bool {
		recs := c.w.records()
		n := 0
		for _, r := range recs {
			if r.Type == md.RawConnect {
				n++
			}
		}
		return n >= 4 && sim.Stats().Disconnects >= 3 && countTradeFrames(recs) >= 800
	})
	sim.StopTrading()
	truth := tl.truth(t)
	cp := newCapture()
	waitCovered(t, c.w, cp, truth, []string{"BTCUSDT", "PEPEUSDT"}, nil, 15*time.Second)
	c.stop(t)

	runs := checkEpochs(t, c.w.records(), "BTCUSDT,PEPEUSDT")
	if len(runs) < 3 {
		t.Fatalf("%d epochs, want at least 3", len(runs))
	}
	for i := 1; i < len(runs); i++ {
		prev := runs[i-1].recs[len(runs[i-1].recs)-1]
		if reason := string(prev.Meta); reason == "reason=shutdown" || !strings.HasPrefix(reason, "reason=") {
			t.Errorf("epoch %d ended with %q", runs[i-1].epoch, reason)
		}
		if runs[i].recs[0].RecvTime < prev.RecvTime {
			t.Errorf("epoch %d connected before epoch %d's disconnect marker", runs[i].epoch, runs[i-1].epoch)
		}
	}
	if got := readEpochFile(t, c.epochs); got != runs[len(runs)-1].epoch {
		t.Errorf("epoch file %d, last epoch %d", got, runs[len(runs)-1].epoch)
	}
	if got := c.counter(t, "tickflow_collector_connects_total", nil); int(got) != len(runs) {
		t.Errorf("connects_total %v, epochs %d", got, len(runs))
	}
}

// TestSessionResumesFromStateFile stops a collector, lets the market trade on, and starts a
// new one with the same state directory: it backfills from the id persisted in the state file,
// so nothing after that id is lost across the restart.
func TestSessionResumesFromStateFile(t *testing.T) {
	t.Parallel()
	sim, tl := startSim(t, binancesim.Config{Seed: 4, Symbols: 2, TradeRate: 200})
	dir := t.TempDir()
	statePath := filepath.Join(dir, "binance-trade-0.json")
	c1 := startCollector(t, collectorConfig{addr: sim.Addr(), stateDir: dir})
	readState := func() (slotState, bool) {
		var st slotState
		b, err := os.ReadFile(statePath)
		return st, err == nil && json.Unmarshal(b, &st) == nil && st.LastTradeIDs["BTCUSDT"] > 0 && st.LastTradeIDs["PEPEUSDT"] > 0
	}
	var first slotState
	waitUntil(t, 10*time.Second, "the state file", func() (ok bool) { first, ok = readState(); return ok })
	// The state advances as records are acknowledged (the first write may be the session's
	// baseline, taken before anything was recorded).
	waitUntil(t, 10*time.Second, "the state file to advance", func() bool {
		st, ok := readState()
		return ok && st.LastTradeIDs["BTCUSDT"] > first.LastTradeIDs["BTCUSDT"] && st.LastTradeIDs["PEPEUSDT"] > first.LastTradeIDs["PEPEUSDT"]
	})
	c1.stop(t)
	var st slotState
	b, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	st = slotState{}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state file %s: %v", b, err)
	}
	// Every id from the first collector's first one up to the persisted id was recorded.
	cp1 := newCapture()
	cp1.update(c1.w.records())
	for sym, persisted := range st.LastTradeIDs {
		lowest := ^uint64(0)
		for id := range cp1.ids[sym] {
			lowest = min(lowest, id)
		}
		if persisted+1 < lowest {
			t.Errorf("state file says %s %d is durable, below the first id recorded (%d)", sym, persisted, lowest)
		}
		for id := lowest; id <= persisted; id++ {
			if !cp1.ids[sym][id] {
				t.Errorf("state file says %s is durable up to %d, but %d was never recorded", sym, persisted, id)
				break
			}
		}
	}
	epoch1 := readEpochFile(t, c1.epochs)

	time.Sleep(2 * time.Second) // trades the next collector must backfill (more than the 100 of a tail check)

	c2 := startCollector(t, collectorConfig{addr: sim.Addr(), stateDir: dir})
	wantFrom := "200 /api/v3/historicalTrades?symbol=BTCUSDT&fromId=" + strconv.FormatUint(st.LastTradeIDs["BTCUSDT"]+1, 10) + "&"
	waitUntil(t, 10*time.Second, "a backfill from the persisted id", func() bool {
		for _, r := range c2.w.records() {
			if r.Type == md.RawREST && strings.HasPrefix(string(r.Meta), wantFrom) {
				return true
			}
		}
		return false
	})
	sim.StopTrading()
	truth := tl.truth(t)
	cp2 := newCapture()
	waitCovered(t, c2.w, cp2, truth, []string{"BTCUSDT", "PEPEUSDT"}, st.LastTradeIDs, 15*time.Second)
	c2.stop(t)
	for sym, id := range st.LastTradeIDs {
		if !cp2.restIDs[sym][id+1] {
			t.Errorf("%s %d (after the persisted id) did not come from REST", sym, id+1)
		}
	}
	runs := checkEpochs(t, c2.w.records(), "BTCUSDT,PEPEUSDT")
	if runs[0].epoch <= epoch1 {
		t.Errorf("restarted collector's epoch %d is not above the previous %d", runs[0].epoch, epoch1)
	}
}

// TestEngineAnswersPings keeps an almost idle connection open only through the simulator's
// pings: the read deadline (700ms) is shorter than the gap between trades, so the connection
// survives only if the ping handler answers and extends the deadline.
func TestEngineAnswersPings(t *testing.T) {
	t.Parallel()
	sim, _ := startSim(t, binancesim.Config{Seed: 5, Symbols: 2, TradeRate: 0.2,
		PingInterval: 100 * time.Millisecond, PongTimeout: time.Second, InboundLimit: 100})
	c := startCollector(t, collectorConfig{addr: sim.Addr(), options: map[string]string{"idle_after": "1h", "tail_every": "1h"},
		engine: collectors.EngineConfig{ReadTimeout: 700 * time.Millisecond}})
	waitUntil(t, 10*time.Second, "the subscription", func() bool {
		for _, r := range c.w.records() {
			if r.Type == md.RawFrame && string(r.Frame) == `{"result":null,"id":1}` {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second)
	st := sim.Stats()
	c.stop(t)
	if st.Connections != 1 || st.PongTimeouts != 0 || st.InboundLimitCloses != 0 {
		t.Errorf("simulator saw %d connections, %d pong timeouts, %d inbound-limit closes; want 1, 0, 0",
			st.Connections, st.PongTimeouts, st.InboundLimitCloses)
	}
	for _, r := range c.w.records() {
		if r.Type == md.RawDisconnect && string(r.Meta) != "reason=shutdown" {
			t.Errorf("connection ended with %q", r.Meta)
		}
	}
}

// TestEngineDropsStaleConnection has the simulator go silent (no data, no pings); the read
// deadline ends the connection with reason "stale" and the engine reconnects.
func TestEngineDropsStaleConnection(t *testing.T) {
	t.Parallel()
	sim, _ := startSim(t, binancesim.Config{Seed: 6, Symbols: 2, TradeRate: 100,
		Faults: binancesim.Faults{StaleEvery: 300 * time.Millisecond}})
	c := startCollector(t, collectorConfig{addr: sim.Addr(), engine: collectors.EngineConfig{ReadTimeout: 300 * time.Millisecond}})
	waitUntil(t, 10*time.Second, "a stale disconnect and a reconnect", func() bool {
		stale := false
		for _, r := range c.w.records() {
			if r.Type == md.RawDisconnect && string(r.Meta) == "reason=stale" {
				stale = true
			}
			if stale && r.Type == md.RawConnect {
				return true
			}
		}
		return false
	})
	c.stop(t)
	checkEpochs(t, c.w.records(), "BTCUSDT,PEPEUSDT")
	if c.counter(t, "tickflow_collector_disconnects_total", map[string]string{"reason": "stale"}) == 0 {
		t.Error("disconnects_total{reason=stale} is 0")
	}
}

// TestEngineRawWriterFull: when the raw writer refuses records the connection is dropped
// (reason raw_full) rather than blocking the read loop, and a new epoch starts once the writer
// accepts records again.
func TestEngineRawWriterFull(t *testing.T) {
	t.Parallel()
	sim, _ := startSim(t, binancesim.Config{Seed: 8, Symbols: 2, TradeRate: 100})
	c := startCollector(t, collectorConfig{addr: sim.Addr()})
	waitUntil(t, 10*time.Second, "trade frames", func() bool { return countTradeFrames(c.w.records()) >= 5 })
	c.w.setFull(true)
	waitUntil(t, 10*time.Second, "a raw_full disconnect", func() bool {
		return c.counter(t, "tickflow_collector_disconnects_total", map[string]string{"reason": "raw_full"}) > 0
	})
	n := len(c.w.records())
	c.w.setFull(false)
	waitUntil(t, 10*time.Second, "a new epoch with trades", func() bool {
		recs := c.w.records()
		return len(recs) > n && recs[n].Type == md.RawConnect && countTradeFrames(recs[n:]) > 0
	})
	c.stop(t)
	recs := c.w.records()
	// The first epoch has no disconnect marker (the writer refused it); the stream otherwise
	// holds the invariants.
	if recs[n].Epoch <= recs[n-1].Epoch || recs[n].Seq != 1 {
		t.Errorf("after raw_full: epoch %d seq %d follows epoch %d", recs[n].Epoch, recs[n].Seq, recs[n-1].Epoch)
	}
	checkEpochs(t, recs[n:], "BTCUSDT,PEPEUSDT")
	if c.counter(t, "tickflow_collector_raw_drops_total", nil) == 0 {
		t.Error("raw_drops_total is 0")
	}
}

// TestSessionUnackedClose: when Kafka fails to store records of a connection, the session
// re-backfills what it captured after the last durable id. A session that has no durable id
// from a state file (first start, or none kept) re-backfills from its baseline or the first id
// it captured, never from id 1 (on Binance that is the symbol's whole history).
func TestSessionUnackedClose(t *testing.T) {
	t.Parallel()
	sim, _ := startSim(t, binancesim.Config{Seed: 10, Symbols: 2, TradeRate: 100})
	// The venue has traded before the collector's first start, so the session's baseline
	// (the newest trade at its first subscription) is a real id.
	waitUntil(t, 5*time.Second, "trades at the venue", func() bool { return sim.Stats().Trades >= 50 })
	c := startCollector(t, collectorConfig{addr: sim.Addr(), noState: true})
	waitUntil(t, 10*time.Second, "trade frames", func() bool { return countTradeFrames(c.w.records()) >= 10 })
	c.w.setNack(true)
	waitUntil(t, 10*time.Second, "the connection to fail", func() bool {
		return c.counter(t, "tickflow_collector_disconnects_total", map[string]string{"reason": "session"}) > 0
	})
	c.w.setNack(false)
	first := c.w.records()[0].Epoch
	cp := newCapture()
	cp.update(c.w.records())
	lowest := map[string]uint64{}
	for sym, ids := range cp.ids {
		lowest[sym] = ^uint64(0)
		for id := range ids {
			lowest[sym] = min(lowest[sym], id)
		}
	}
	var req md.RawRecord
	waitUntil(t, 15*time.Second, "a re-backfill on the next connection", func() bool {
		for _, r := range c.w.records() {
			if r.Epoch > first && r.Type == md.RawREST && strings.Contains(string(r.Meta), "/api/v3/historicalTrades?") {
				req = r
				return true
			}
		}
		return false
	})
	c.stop(t)
	for _, r := range c.w.records() {
		if r.Type != md.RawREST || !strings.Contains(string(r.Meta), "/api/v3/historicalTrades?") {
			continue
		}
		_, pq, _ := strings.Cut(string(r.Meta), " ")
		_, q, _ := strings.Cut(pq, "?")
		sym := string(queryParam([]byte(q), "symbol"))
		from, err := strconv.ParseUint(string(queryParam([]byte(q), "fromId")), 10, 64)
		if err != nil {
			t.Fatalf("request %q: %v", r.Meta, err)
		}
		if lo, ok := lowest[sym]; ok && from < lo {
			t.Errorf("after an unacknowledged close the session re-backfills %s from id %d, below the first id it "+
				"captured (%d) (request %q)", sym, from, lo, r.Meta)
		}
	}
	if req.Epoch == 0 {
		t.Fatal("no re-backfill")
	}
}

func TestSessionSlots(t *testing.T) {
	t.Parallel()
	sim, _ := startSim(t, binancesim.Config{Seed: 9, Symbols: 250, TradeRate: 1})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	rest := &collectors.REST{Venue: Venue, BaseURL: "http://" + sim.Addr(), Budget: collectors.NewBudget(6000),
		Client: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
	ctx := context.Background()

	s, err := NewSession(collectors.SessionEnv{WSURL: "ws://x"})
	if err != nil {
		t.Fatal(err)
	}
	slots, err := s.Slots(ctx, rest)
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) != 2 || len(slots[0].Symbols) != 200 || len(slots[1].Symbols) != 50 {
		t.Fatalf("slots %d (%d, ...), want 200 + 50 symbols", len(slots), len(slots[0].Symbols))
	}
	for i, sl := range slots {
		if sl.Name != "trade-"+strconv.Itoa(i) || sl.URL != "ws://x/stream" || !slices.IsSorted(sl.Symbols) {
			t.Errorf("slot %d: %s %s sorted=%v", i, sl.Name, sl.URL, slices.IsSorted(sl.Symbols))
		}
	}
	if slots[0].Symbols[len(slots[0].Symbols)-1] >= slots[1].Symbols[0] {
		t.Error("slots overlap")
	}

	s, _ = NewSession(collectors.SessionEnv{WSURL: "ws://x", Symbols: []string{"ethusdt", "BTCUSDT", "NOPEUSDT"}})
	slots, err = s.Slots(ctx, rest)
	if err != nil || len(slots) != 1 || !slices.Equal(slots[0].Symbols, []string{"BTCUSDT", "ETHUSDT"}) {
		t.Fatalf("slots %+v, %v; want one slot of BTCUSDT, ETHUSDT", slots, err)
	}

	s, _ = NewSession(collectors.SessionEnv{WSURL: "ws://x", Symbols: []string{"NOPEUSDT"}})
	if _, err := s.Slots(ctx, rest); err == nil || !strings.Contains(err.Error(), "NOPEUSDT") {
		t.Fatalf("no listed symbol: %v", err)
	}

	// A corrupt state file is ignored (logged), not fatal.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "binance-trade-0.json"), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ = NewSession(collectors.SessionEnv{WSURL: "ws://x", Symbols: []string{"BTCUSDT"}, StateDir: dir, Log: slog.New(slog.DiscardHandler)})
	if _, err := s.Slots(ctx, rest); err != nil {
		t.Fatalf("corrupt state file: %v", err)
	}
}

func TestSessionOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		ok   bool
	}{
		{nil, true},
		{map[string]string{"idle_after": "250ms", "tail_every": "2s"}, true},
		{map[string]string{"idle_after": "3"}, false},
		{map[string]string{"tail_every": "soon"}, false},
		{map[string]string{"channels": "trade"}, true},
		{map[string]string{"channels": "trade, depth,bookTicker"}, true},
		{map[string]string{"channels": "trade,ticker"}, false},
		{map[string]string{"depth_limit": "100"}, true},
		{map[string]string{"depth_limit": "1"}, false},
		{map[string]string{"depth_limit": "lots"}, false},
		{map[string]string{"resnapshot_every": "0"}, true},
		{map[string]string{"resnapshot_every": "hourly"}, false},
	} {
		s, err := NewSession(collectors.SessionEnv{Options: tc.opts})
		if (err == nil) != tc.ok {
			t.Errorf("options %v: %v", tc.opts, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "binance: option ") {
			t.Errorf("error %q", err)
		}
		if err == nil && tc.opts["idle_after"] == "250ms" && (s.idleAfter != 250*time.Millisecond || s.tailEvery != 2*time.Second) {
			t.Errorf("options not applied: %v %v", s.idleAfter, s.tailEvery)
		}
	}
	if WeightPerMinute(nil) != defaultWeightPerMin || WeightPerMinute(map[string]string{"rest_weight_per_minute": "1200"}) != 1200 ||
		WeightPerMinute(map[string]string{"rest_weight_per_minute": "-5"}) != defaultWeightPerMin {
		t.Error("WeightPerMinute")
	}
}

func TestMergeAndTrimRanges(t *testing.T) {
	r := func(pairs ...uint64) []idRange {
		var out []idRange
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, idRange{pairs[i], pairs[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		in   []idRange
		add  idRange
		want []idRange
	}{
		{nil, idRange{5, 9}, r(5, 9)},
		{r(1, 3), idRange{5, 9}, r(1, 3, 5, 9)},
		{r(1, 3), idRange{4, 9}, r(1, 9)}, // adjacent ranges merge
		{r(5, 9), idRange{1, 3}, r(1, 3, 5, 9)},
		{r(1, 3, 10, 12), idRange{2, 11}, r(1, 12)},
		{r(1, 3, 10, 12), idRange{5, 6}, r(1, 3, 5, 6, 10, 12)},
		{r(1, 20), idRange{5, 6}, r(1, 20)},
	} {
		if got := mergeRange(slices.Clone(tc.in), tc.add); !slices.Equal(got, tc.want) {
			t.Errorf("mergeRange(%v, %v) = %v, want %v", tc.in, tc.add, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   []idRange
		upTo uint64
		want []idRange
	}{
		{r(5, 9), 4, r(5, 9)},
		{r(5, 9), 5, r(6, 9)},
		{r(5, 9), 9, nil},
		{r(5, 9, 12, 14), 12, r(13, 14)},
		{r(5, 9, 12, 14), 100, nil},
	} {
		if got := trimFront(slices.Clone(tc.in), tc.upTo); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("trimFront(%v, %d) = %v, want %v", tc.in, tc.upTo, got, tc.want)
		}
	}
	var tr symTracker
	tr.last = 10
	if tr.safe() != 10 {
		t.Error("safe without pending")
	}
	tr.pending = r(4, 6)
	if tr.safe() != 3 {
		t.Error("safe with pending")
	}
}

func TestTradeIDRange(t *testing.T) {
	p := new(fastjson.Parser)
	for _, tc := range []struct {
		body       string
		lo, hi, n  uint64
		wantParsed bool
	}{
		{`[{"id":5},{"id":3},{"id":9}]`, 3, 9, 3, true},
		{`[]`, 0, 0, 0, true},
		{`{"code":-1121}`, 0, 0, 0, false},
		{`garbage`, 0, 0, 0, false},
	} {
		lo, hi, n := tradeIDRange(p, []byte(tc.body), "id")
		if lo != tc.lo || hi != tc.hi || uint64(n) != tc.n {
			t.Errorf("tradeIDRange(%s) = %d %d %d", tc.body, lo, hi, n)
		}
	}
}
