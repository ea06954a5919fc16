package binancesim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a simulated Binance spot exchange: a deterministic trade
// generator, the REST endpoints that serve its history and the WebSocket
// streams that publish it. Create it with New, then Start; all methods are
// safe for concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time // REST limiter and serverTime; tests may replace before Start

	syms    []*symbolState
	byUpper map[string]*symbolState
	byLower map[string]*symbolState
	market  *market
	tlog    *tradeLog
	exInfo  exchangeInfoCache

	weights  *weightLimiter
	connects *connectLimiter
	stats    counters

	// subMu serialises changes to subscriptions: the per-symbol
	// copy-on-write subscriber lists and every wsConn's stream list.
	subMu sync.Mutex

	mu         sync.Mutex // guards the fields below
	started    bool
	closed     bool
	ln         net.Listener
	httpSrv    *http.Server
	conns      map[*wsConn]struct{}
	nextConnID uint64

	stopGen     chan struct{} // closed by StopTrading/Close
	startGen    chan struct{} // closed by StartTrading (or at Start unless Config.Paused)
	startOnce   sync.Once
	stopGenOnce sync.Once
	genDone     chan struct{} // closed when the generation goroutine exits
	wg          sync.WaitGroup
}

// New validates cfg, applies defaults and builds the instruments. It does
// no I/O and starts no goroutines.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("venue", "binance", "component", "sim"),
		clock:    time.Now,
		byUpper:  make(map[string]*symbolState, cfg.Symbols),
		byLower:  make(map[string]*symbolState, cfg.Symbols),
		weights:  newWeightLimiter(cfg.WeightPerMinute, cfg.BanDuration),
		connects: newConnectLimiter(cfg.ConnectLimit),
		conns:    make(map[*wsConn]struct{}),
		stopGen:  make(chan struct{}),
		startGen: make(chan struct{}),
		genDone:  make(chan struct{}),
	}
	s.syms = buildSymbols(cfg.Symbols, cfg.Seed, cfg.HistoryLimit)
	for _, sym := range s.syms {
		s.byUpper[sym.inst.Symbol] = sym
		s.byLower[sym.lower] = sym
	}
	s.market = newMarket(s.syms, cfg.Seed)
	s.tlog = newTradeLog(cfg.TradeLog, s.log)
	if err := s.exInfo.build(s.syms, cfg.WeightPerMinute); err != nil {
		return nil, fmt.Errorf("binancesim: build exchange info: %w", err)
	}
	return s, nil
}

// ErrStarted is returned by Start on a second call or after Close.
var ErrStarted = errors.New("binancesim: server already started or closed")

// Start listens on Config.Addr, starts serving REST and WebSocket and
// starts trade generation. It returns once the listener is open.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return ErrStarted
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("binancesim: listen %s: %w", s.cfg.Addr, err)
	}
	s.started = true
	s.ln = ln
	mux := http.NewServeMux()
	s.routes(mux)
	s.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http serve stopped", "err", err)
		}
	}()
	if !s.cfg.Paused {
		s.StartTrading()
	}
	go s.generate()
	s.log.Info("binance simulator listening", "addr", ln.Addr().String(),
		"symbols", len(s.syms), "trade_rate", s.cfg.TradeRate, "seed", s.cfg.Seed)
	return nil
}

// Addr returns the listening address, "127.0.0.1:port", or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// StartTrading starts trade generation of a server configured with Paused. It is
// idempotent and a no-op otherwise.
func (s *Server) StartTrading() {
	s.startOnce.Do(func() { close(s.startGen) })
}

// StopTrading stops trade generation and flushes the TradeLog; REST and
// WebSocket keep being served. It returns once generation has stopped and
// is idempotent.
func (s *Server) StopTrading() {
	s.stopGenOnce.Do(func() { close(s.stopGen) })
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		<-s.genDone
	}
}

// Close stops generation, flushes the TradeLog, closes the listener and
// every WebSocket connection (each first receives a serverShutdown event
// and a close frame 1001) and waits for all goroutines. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.StopTrading()
	if !started {
		return nil
	}
	err := s.httpSrv.Close()
	for _, c := range conns {
		c.shutdownNotice()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		s.mu.Lock()
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.kill(true)
		}
		<-done
	}
	s.log.Info("binance simulator closed", "trades", s.stats.trades.Load())
	if err != nil {
		return fmt.Errorf("binancesim: close http server: %w", err)
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Instruments returns the served instruments in symbol order (BTCUSDT
// first). The slice is a copy.
func (s *Server) Instruments() []Instrument {
	out := make([]Instrument, len(s.syms))
	for i, sym := range s.syms {
		out[i] = sym.inst
	}
	return out
}

// generation pacing: every tick produce rate*dt trades; a stall longer
// than maxCatchUp is not made up for (the backlog is skipped).
const (
	genTick    = 2 * time.Millisecond
	maxCatchUp = 100 * time.Millisecond
	arenaChunk = 64 << 10
	maxFrame   = 1024 // upper bound of one encoded combined trade frame
)

// generate is the generation goroutine: it owns the market, the trade log
// and the encoding arena.
func (s *Server) generate() {
	defer close(s.genDone)
	defer s.tlog.flush()

	select {
	case <-s.stopGen:
		return
	case <-s.startGen:
	}
	tick := time.NewTicker(genTick)
	defer tick.Stop()
	var (
		last  = time.Now()
		acc   float64
		total int64
		g     genScratch
	)
	for {
		select {
		case <-s.stopGen:
			return
		case <-tick.C:
		}
		now := time.Now()
		dt := min(now.Sub(last), maxCatchUp)
		last = now
		acc += s.cfg.TradeRate * dt.Seconds()
		n := int64(acc)
		acc -= float64(n)
		if s.cfg.MaxTrades > 0 {
			n = min(n, s.cfg.MaxTrades-total)
		}
		if n > 0 {
			s.produce(&g, n, now.UnixMilli())
			total += n
		}
		if s.cfg.MaxTrades > 0 && total >= s.cfg.MaxTrades {
			s.log.Info("max trades reached; generation stopped", "trades", total)
			return
		}
	}
}

// genScratch holds buffers reused across ticks by the generation goroutine.
type genScratch struct {
	logBuf []byte
	arena  []byte // frames are carved from it and shared; never rewritten
}

// produce generates n trades at ms: history, trade log, and one encoding
// per trade shared by every subscribed connection.
func (s *Server) produce(g *genScratch, n int64, ms int64) {
	g.logBuf = g.logBuf[:0]
	for range n {
		idx, t := s.market.next()
		sym := s.syms[idx]
		sym.hist.add(t, ms)
		if s.tlog != nil {
			g.logBuf = sym.appendTradeLogLine(g.logBuf, t.id)
		}
		subs := sym.subs[kindTrade].Load()
		if subs == nil || len(*subs) == 0 {
			continue
		}
		if cap(g.arena)-len(g.arena) < maxFrame {
			g.arena = make([]byte, 0, arenaChunk)
		}
		start := len(g.arena)
		var rawOff int
		g.arena, rawOff = sym.appendCombinedTradeEvent(g.arena, t, ms, ms)
		f := outFrame{
			b:      g.arena[start:len(g.arena):len(g.arena)],
			rawOff: int32(rawOff),
			sym:    int32(idx),
			kind:   frameEvent,
		}
		for _, c := range *subs {
			c.enqueue(f)
		}
	}
	s.stats.trades.Add(n)
	s.tlog.write(g.logBuf)
}
