package stream

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickflow/tickflow/md"
)

// Gateway fans unified market-data events out to WebSocket clients. Create it with New,
// mount Handler, feed it with PublishTrade, PublishIntegrity, PublishBookUpdate,
// PublishBookStatus and PublishBBO, and stop it with Close.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	m        *metrics
	index    *index
	upgrader websocket.Upgrader
	start    time.Time
	epoch    string
	tokens   [][]byte

	// publisher state
	pubMu  sync.Mutex
	chans  map[Channel]*chanState // keyed by the event's (kind, venue, symbol) as given
	canon  map[Channel]*chanState // keyed by the canonical channel
	bbos   []*chanState           // the BBO channels, for wildcard subscriptions
	pubSeq uint64                 // publish counter, for per-connection dedup
	closed atomic.Bool

	books       map[Channel]*bookState  // keyed by (book, venue, symbol) as given
	booksCanon  map[Channel]*bookState  // keyed by the canonical channel
	bookOptRefs [MaxBookDepth + 1]int32 // subscriptions per book depth option (0 = none given)
	bookOptGen  uint64                  // bumped when an option comes into use
	bscr        bookScratch

	mu      sync.Mutex
	clients map[*conn]struct{}
	closing bool
	pending int // upgrades in progress, counted against MaxClients
	wg      sync.WaitGroup
	nextID  atomic.Uint64
}

// New returns a Gateway. It does no I/O and starts no goroutines. cfg should have passed
// Validate; fields that did not are replaced by defaults. reg may be nil (no metrics
// exported) and log may be nil (discard).
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) *Gateway {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		log.Warn("stream: invalid gateway config, using defaults for bad fields", "err", err)
	}
	now := time.Now()
	g := &Gateway{
		cfg:        cfg.withDefaults(),
		log:        log,
		index:      newIndex(),
		start:      now,
		epoch:      strconv.FormatInt(now.UnixNano(), 10),
		chans:      make(map[Channel]*chanState),
		canon:      make(map[Channel]*chanState),
		books:      make(map[Channel]*bookState),
		booksCanon: make(map[Channel]*bookState),
		clients:    make(map[*conn]struct{}),
	}
	for _, t := range cfg.Tokens {
		if t != "" {
			g.tokens = append(g.tokens, []byte(t))
		}
	}
	g.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      g.checkOrigin,
	}
	g.m = newMetrics(reg, g)
	return g
}

// Epoch identifies this gateway's sequence space: per-channel sequence numbers restart
// from 1 in every epoch. It is sent in the welcome frame.
func (g *Gateway) Epoch() string { return g.epoch }

// now is the monotonic time since the gateway started, in ns; never 0 after start.
func (g *Gateway) now() int64 { return int64(time.Since(g.start)) + 1 }

// ---- publishing ----

// PublishTrade delivers t to every client subscribed to a channel matching
// trades:<venue>:<symbol>. It encodes the frame once, never blocks on clients and does not
// allocate in steady state. t is not retained. Calls are serialized (one feeder goroutine
// is expected); it is a no-op after Close.
func (g *Gateway) PublishTrade(t *md.Trade) {
	g.pubMu.Lock()
	if !g.closed.Load() {
		g.m.published[msgTrade].Inc()
		g.fanout(g.channel(KindTrades, t.Venue, t.Symbol), msgTrade, t, nil)
	}
	g.pubMu.Unlock()
}

// PublishIntegrity delivers e to every client subscribed to a channel matching
// integrity:<venue>:<symbol>. Same contract as PublishTrade.
func (g *Gateway) PublishIntegrity(e *md.Integrity) {
	g.pubMu.Lock()
	if !g.closed.Load() {
		g.m.published[msgIntegrity].Inc()
		g.fanout(g.channel(KindIntegrity, e.Venue, e.Symbol), msgIntegrity, nil, e)
	}
	g.pubMu.Unlock()
}

// channel returns the state of a concrete channel, creating it on first use (the only
// allocation on the publish path). Caller holds pubMu.
func (g *Gateway) channel(kind ChannelKind, venue, symbol string) *chanState {
	key := Channel{Kind: kind, Venue: venue, Symbol: symbol}
	if cs, ok := g.chans[key]; ok {
		return cs
	}
	canon := Channel{Kind: kind, Venue: strings.ToLower(venue), Symbol: strings.ToUpper(symbol)}
	cs, ok := g.canon[canon]
	if !ok {
		cs = newChanState(g.index, canon)
		g.canon[canon] = cs
		if kind == KindBBO {
			g.bbos = append(g.bbos, cs)
		}
	}
	g.chans[key] = cs
	return cs
}

// fanout assigns the next sequence number of cs and enqueues the event (encoded lazily,
// once) to every connection subscribed to a pattern matching cs, once per connection.
// Caller holds pubMu.
func (g *Gateway) fanout(cs *chanState, kind msgKind, t *md.Trade, e *md.Integrity) {
	cs.seq++
	g.pubSeq++
	var m *message
	for i, sh := range cs.shards {
		sh.mu.RLock()
		set := sh.subs[cs.pats[i]]
		if len(set) > 0 && m == nil {
			m = newMessage(kind)
			if t != nil {
				m.buf = appendTrade(m.buf, cs, cs.seq, t)
			} else {
				m.buf = appendIntegrity(m.buf, cs, cs.seq, e)
			}
			m.pub = g.now()
		}
		for c := range set {
			if c.lastPub != g.pubSeq {
				c.lastPub = g.pubSeq
				c.enqueue(m)
			}
		}
		sh.mu.RUnlock()
	}
	if m != nil {
		m.release()
	}
}

// ---- connections ----

// Handler returns the WebSocket endpoint (cmd mounts it at /ws). It authenticates before
// upgrading: a missing or unknown token gets HTTP 401 with a JSON error body.
func (g *Gateway) Handler() http.Handler { return http.HandlerFunc(g.serveHTTP) }

func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		httpError(w, http.StatusUpgradeRequired, CodeBadRequest,
			"this endpoint speaks WebSocket: connect with a WebSocket client (see docs/streaming.md)")
		return
	}
	if !g.authorized(r) {
		g.m.clientErrors[CodeUnauthorized].Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="tickflow"`)
		httpError(w, http.StatusUnauthorized, CodeUnauthorized,
			"missing or unknown API token; send it as \"Authorization: Bearer <token>\" or as ?token=<token>")
		return
	}
	if !g.reserve() {
		httpError(w, http.StatusServiceUnavailable, "unavailable",
			"the gateway is shutting down or at its client limit; retry later with backoff")
		return
	}
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := g.upgrader.Upgrade(hw, r, nil)
	if err != nil || hw.conn == nil {
		g.unreserve()
		if ws != nil {
			ws.Close() //nolint:errcheck // refusing anyway
		}
		g.log.Debug("stream: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return // the upgrader has answered the request
	}
	id := g.nextID.Add(1)
	c := newConn(g, ws, hw.conn, g.log.With("client", id, "remote", r.RemoteAddr))
	if !g.register(c) {
		ws.WriteControl(websocket.CloseMessage, //nolint:errcheck // best effort
			websocket.FormatCloseMessage(CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		ws.Close() //nolint:errcheck // closing anyway
		return
	}
	defer g.wg.Done()
	c.log.Debug("stream: client connected")
	c.sendControl(func(b []byte) []byte { return appendWelcome(b, g.epoch, &g.cfg) })
	go c.writeLoop()
	c.readLoop()
	<-c.writerDone
	c.unsubscribeAll()
	c.mu.Lock()
	c.dropQueueLocked()
	c.mu.Unlock()
	g.mu.Lock()
	delete(g.clients, c)
	g.mu.Unlock()
	c.log.Debug("stream: client disconnected", "reason", reasonNames[c.closeReason()])
}

func httpError(w http.ResponseWriter, status int, code ErrorCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(appendError(nil, 0, false, code, msg)) //nolint:errcheck // client gone
}

// reserve counts an upgrade in progress against MaxClients.
func (g *Gateway) reserve() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing || (g.cfg.MaxClients > 0 && len(g.clients)+g.pending >= g.cfg.MaxClients) {
		return false
	}
	g.pending++
	return true
}

func (g *Gateway) unreserve() {
	g.mu.Lock()
	g.pending--
	g.mu.Unlock()
}

// register turns a reservation into a client; false if the gateway closed meanwhile.
func (g *Gateway) register(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending--
	if g.closing {
		return false
	}
	g.clients[c] = struct{}{}
	g.wg.Add(1)
	return true
}

func (g *Gateway) numClients() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.clients)
}

func (g *Gateway) queuedBytes() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for c := range g.clients {
		c.mu.Lock()
		n += c.queued
		c.mu.Unlock()
	}
	return n
}

func (g *Gateway) authorized(r *http.Request) bool {
	if len(g.tokens) == 0 {
		return true
	}
	tok := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, rest, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			tok = strings.TrimSpace(rest)
		}
	}
	if tok == "" {
		return false
	}
	ok := 0
	for _, t := range g.tokens {
		ok |= subtle.ConstantTimeCompare(t, []byte(tok))
	}
	return ok == 1
}

func (g *Gateway) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, o := range g.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// ---- shutdown ----

// Close tells every client the gateway is going away (close frame 1001 after their queued
// frames), refuses new connections, and waits until every connection's goroutines have
// ended or ctx is done; then it drops the remaining sockets and returns ctx's error.
// http.Server.Shutdown does not wait for hijacked WebSockets: call Close first. Publish
// calls after Close are no-ops. Close may be called more than once.
func (g *Gateway) Close(ctx context.Context) error {
	g.closed.Store(true)
	g.mu.Lock()
	g.closing = true
	clients := make([]*conn, 0, len(g.clients))
	for c := range g.clients {
		clients = append(clients, c)
	}
	g.mu.Unlock()
	for _, c := range clients {
		c.terminate(reasonShutdown)
	}
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, c := range clients {
		c.raw.Close() //nolint:errcheck // forcing
	}
	<-done
	return fmt.Errorf("stream: close: clients did not finish closing in time, dropped: %w", ctx.Err())
}
