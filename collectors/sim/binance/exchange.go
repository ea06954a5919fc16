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
	blog    *tradeLog // Config.BookLog
	exInfo  exchangeInfoCache
	snaps   []snapCache // per symbol, for Faults.SnapshotDelay

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

	closedC     chan struct{} // closed by Close
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
		closedC:  make(chan struct{}),
		stopGen:  make(chan struct{}),
		startGen: make(chan struct{}),
		genDone:  make(chan struct{}),
	}
	s.syms = buildSymbols(cfg.Symbols, cfg.Seed, cfg.HistoryLimit)
	for _, sym := range s.syms {
		s.byUpper[sym.inst.Symbol] = sym
		s.byLower[sym.lower] = sym
		sym.book.topN = cfg.BookHashDepth
	}
	s.market = newMarket(s.syms, cfg.Seed)
	s.tlog = newTradeLog(cfg.TradeLog, s.log, "trade log")
	s.blog = newTradeLog(cfg.BookLog, s.log, "book log")
	s.snaps = make([]snapCache, len(s.syms))
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

// StopTrading stops trade generation (and with it the order books, after
// their last depth events are published) and flushes the TradeLog and
// BookLog; REST and WebSocket keep being served. It returns once
// generation has stopped and is idempotent.
func (s *Server) StopTrading() {
	s.stopGenOnce.Do(func() { close(s.stopGen) })
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		<-s.genDone
	}
}

// Close stops generation, flushes the TradeLog and BookLog, closes the listener and
// every WebSocket connection (each first receives a serverShutdown event
// and a close frame 1001) and waits for all goroutines. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closedC)
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

// generate is the generation goroutine: it owns the market, the order
// books' state, the trade and book logs and the encoding arena.
func (s *Server) generate() {
	defer close(s.genDone)
	defer s.blog.flush()
	defer s.tlog.flush()

	select {
	case <-s.stopGen:
		return
	case <-s.startGen:
	}
	tick := time.NewTicker(genTick)
	defer tick.Stop()
	var (
		last      = time.Now()
		nextDepth = last.Add(depthInterval)
		nextSlow  = last.Add(slowEvery * depthInterval)
		acc       float64
		total     int64
		g         genScratch
	)
	// Whatever ends generation, the last interval's changes are published.
	defer func() { s.publishDepth(&g, time.Now().UnixMilli(), true) }()
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
		if !now.Before(nextDepth) {
			// 100 ms boundary; the 1000 ms one falls on the first 100 ms
			// boundary at or after each second, so both end on the same u.
			slow := !now.Before(nextSlow)
			s.publishDepth(&g, now.UnixMilli(), slow)
			nextDepth = nextDepth.Add(depthInterval)
			if now.Sub(nextDepth) > maxCatchUp {
				nextDepth = now.Add(depthInterval) // stalled: do not burst
			}
			if slow {
				nextSlow = nextSlow.Add(slowEvery * depthInterval)
				if now.Sub(nextSlow) > maxCatchUp {
					nextSlow = now.Add(slowEvery * depthInterval)
				}
			}
		}
		if s.cfg.MaxTrades > 0 && total >= s.cfg.MaxTrades {
			s.log.Info("max trades reached; generation stopped", "trades", total)
			return
		}
	}
}

// genScratch holds buffers reused across ticks by the generation goroutine.
type genScratch struct {
	logBuf     []byte
	bookLogBuf []byte
	hashBuf    []byte
	arena      []byte     // frames are carved from it and shared; never rewritten
	pending    []outFrame // bookTicker frames waiting for the book lock's release
	tickers    int64      // bookTicker events since the last produce
}

// produce generates n trades at ms: history, trade log, one encoding per
// trade shared by every subscribed connection, then the trade's effect on
// the order book and the order flow after it (depth.go).
func (s *Server) produce(g *genScratch, n int64, ms int64) {
	g.logBuf = g.logBuf[:0]
	for range n {
		idx, t := s.market.next()
		sym := s.syms[idx]
		sym.hist.add(t, ms)
		if s.tlog != nil {
			g.logBuf = sym.appendTradeLogLine(g.logBuf, t.id)
		}
		if subs := sym.subscribers(kindTrade); subs != nil {
			start, rawOff := g.beginFrame(sym, kindTrade, maxFrame)
			g.arena = sym.appendTradeEvent(g.arena, t, ms, ms)
			fanOut(subs, g.endFrame(sym, kindTrade, start, rawOff))
		}
		s.bookTrade(g, sym, t)
	}
	s.stats.trades.Add(n)
	if g.tickers > 0 {
		s.stats.bookTickers.Add(g.tickers)
		g.tickers = 0
	}
	s.tlog.write(g.logBuf)
}
