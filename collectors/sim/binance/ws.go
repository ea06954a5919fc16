package binancesim

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Why frames are written by hand: gorilla/websocket performs the handshake
// and reads (unmasking, control frames, fragmentation), but its writer
// issues one write syscall per message. At 100k+ trades/s per connection
// that dominates, so each connection's writer goroutine encodes the
// (unmasked, unfragmented, uncompressed) server frames itself into a
// bufio.Writer on the hijacked net.Conn and flushes once per batch. All
// writes to a connection go through that goroutine: data, replies, pongs,
// pings and close frames. The only exception is gorilla answering a
// protocol violation or an oversized message with a close frame from the
// read side, after which the connection is torn down anyway.

// Stream kinds the simulator publishes; kindSuffix maps each to the part
// of its stream name after "<symbol>@".
const (
	kindTrade         = iota
	kindDepth         // diff depth, 1000ms
	kindDepth100      // diff depth, 100ms
	kindBookTicker    // every change of the best bid or ask
	kindPartial5      // partial book depth, 1000ms
	kindPartial10     //
	kindPartial20     //
	kindPartial5Fast  // partial book depth, 100ms
	kindPartial10Fast //
	kindPartial20Fast //
	numServedKinds
)

var kindSuffix = [numServedKinds]string{
	kindTrade:         "trade",
	kindDepth:         "depth",
	kindDepth100:      "depth@100ms",
	kindBookTicker:    "bookTicker",
	kindPartial5:      "depth5",
	kindPartial10:     "depth10",
	kindPartial20:     "depth20",
	kindPartial5Fast:  "depth5@100ms",
	kindPartial10Fast: "depth10@100ms",
	kindPartial20Fast: "depth20@100ms",
}

// partialLevels is the number of levels of a partial depth kind.
func partialLevels(kind int) int {
	switch kind {
	case kindPartial5, kindPartial5Fast:
		return 5
	case kindPartial10, kindPartial10Fast:
		return 10
	}
	return 20
}

// isDiffDepth reports whether kind is a diff depth stream (the kinds with
// update-id continuity, where gap and reorder faults apply).
func isDiffDepth(kind uint8) bool { return kind == kindDepth || kind == kindDepth100 }

// frameKind says how the writer treats a queued frame.
type frameKind uint8

const (
	frameEvent frameKind = iota // market data: filtered, faultable, raw or combined
	frameText                   // reply or notice: sent as is
	framePong                   // pong answering a client ping
)

// outFrame is one queued outgoing frame. For frameEvent, b is the combined
// form {"stream":...,"data":<raw>} shared by every subscriber and the raw
// payload is b[rawOff:len(b)-1]; b is never modified.
type outFrame struct {
	b      []byte
	rawOff int32
	sym    int32
	kind   frameKind
	stream uint8 // stream kind (kindTrade, ...) of a frameEvent
}

// closeRequest asks the writer to end the connection.
type closeRequest struct {
	code   int
	reason string
	clean  bool // send a close frame and wait briefly for the peer's
	flush  bool // write what is queued first (server shutdown)
}

const (
	closeWait      = time.Second // how long a clean close waits for the peer
	pingRing       = 256
	readLimit      = 1 << 20
	writeBufSize   = 64 << 10
	maxPingPayload = 20
)

// wsConn is one WebSocket connection: a reader goroutine (requests,
// pings, pongs, inbound limit) and a writer goroutine (queue, pings,
// timers, faults). The generator only calls enqueue.
type wsConn struct {
	s  *Server
	id uint64
	ws *websocket.Conn
	nc net.Conn

	combined atomic.Bool
	nsym     int
	sub      []atomic.Bool // by kind*nsym + symbol index; checked by the writer

	// Guarded by s.subMu.
	streams   []string
	streamSet map[string]struct{}

	mu      sync.Mutex // guards q and dead
	q       []outFrame
	dead    bool
	limit   int
	wakeC   chan struct{}
	closing atomic.Bool

	closeOnce  sync.Once
	closeC     chan closeRequest
	killOnce   sync.Once
	done       chan struct{} // closed by kill
	readerDone chan struct{}

	pingSent atomic.Int64 // last ping sequence sent
	pongSeq  atomic.Int64 // highest ping sequence answered

	// Writer-owned.
	spare  []outFrame
	hdr    [14]byte
	faults *faultInjector
	stale  bool
	held   outFrame  // diff depth event held back by the reorder fault
	heldAt time.Time // when it was held
}

// subFlag is the flag saying c is subscribed to kind of symbol index sym.
func (c *wsConn) subFlag(kind, sym int) *atomic.Bool { return &c.sub[kind*c.nsym+sym] }

var upgrader = websocket.Upgrader{
	HandshakeTimeout:  10 * time.Second,
	ReadBufferSize:    4096,
	WriteBufferSize:   256,
	EnableCompression: false,
	CheckOrigin:       func(*http.Request) bool { return true },
}

// handleWS serves /ws, /ws/<streams>, /stream and /stream?streams=a/b.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	var names []string
	combined := false
	switch {
	case r.URL.Path == "/ws" || r.URL.Path == "/ws/":
	case strings.HasPrefix(r.URL.Path, "/ws/"):
		names = strings.Split(strings.TrimPrefix(r.URL.Path, "/ws/"), "/")
	case r.URL.Path == "/stream" || r.URL.Path == "/stream/":
		combined = true
		if q := r.URL.Query().Get("streams"); q != "" {
			names = strings.Split(q, "/")
		}
	default:
		http.NotFound(w, r)
		return
	}
	if len(names) > MaxStreamsPerConn {
		http.Error(w, "too many streams", http.StatusBadRequest)
		return
	}
	for _, n := range names {
		if _, err := s.parseStream(n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	if !s.connects.allow(remoteIP(r), time.Now()) {
		s.stats.tooMany.Add(1)
		w.Header().Set("Retry-After", "60")
		writeRESTError(w, http.StatusTooManyRequests, -1003, "Too many connection attempts.")
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := s.newConn(ws, combined)
	if c == nil {
		return
	}
	if len(names) > 0 {
		if msg := s.subscribe(c, names, nil); msg != "" {
			c.kill(false) // the goroutines below see it and exit
		}
	}
	go c.readLoop()
	go c.writeLoop()
}

func (s *Server) newConn(ws *websocket.Conn, combined bool) *wsConn {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.NetConn().Close()
		return nil
	}
	s.nextConnID++
	c := &wsConn{
		s:          s,
		id:         s.nextConnID,
		ws:         ws,
		nc:         ws.NetConn(),
		nsym:       len(s.syms),
		sub:        make([]atomic.Bool, numServedKinds*len(s.syms)),
		streamSet:  make(map[string]struct{}),
		limit:      s.cfg.SendQueue,
		wakeC:      make(chan struct{}, 1),
		closeC:     make(chan closeRequest, 1),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		faults:     newFaultInjector(s.cfg.Faults, s.cfg.Seed, s.nextConnID),
	}
	c.combined.Store(combined)
	s.conns[c] = struct{}{}
	s.wg.Add(2) // reader and writer; kill before they start still needs them
	s.mu.Unlock()
	s.stats.connections.Add(1)
	s.stats.active.Add(1)
	return c
}

// enqueue queues f without blocking. A connection whose queue is full is
// closed as a slow consumer, as Binance does.
func (c *wsConn) enqueue(f outFrame) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	if len(c.q) >= c.limit {
		c.dead = true
		c.q = nil
		c.mu.Unlock()
		c.s.stats.slowConsumers.Add(1)
		c.s.log.Warn("closing slow consumer", "conn", c.id, "queued_frames", c.limit)
		c.kill(true)
		return
	}
	wasEmpty := len(c.q) == 0
	c.q = append(c.q, f)
	c.mu.Unlock()
	if wasEmpty {
		select {
		case c.wakeC <- struct{}{}:
		default:
		}
	}
}

// requestClose ends the connection: an unclean request tears it down at
// once (TCP reset), a clean one is carried out by the writer. The first
// request wins.
func (c *wsConn) requestClose(cr closeRequest) {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		if !cr.clean {
			c.kill(true)
			return
		}
		c.closeC <- cr
	})
}

// shutdownNotice sends serverShutdown and closes with 1001 (server Close).
func (c *wsConn) shutdownNotice() {
	ms := strconv.AppendInt(nil, time.Now().UnixMilli(), 10)
	var b []byte
	if c.combined.Load() {
		b = append(append(append(b, `{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":`...), ms...), "}}"...)
	} else {
		b = append(append(append(b, `{"e":"serverShutdown","E":`...), ms...), '}')
	}
	c.enqueue(outFrame{b: b, kind: frameText})
	c.requestClose(closeRequest{code: websocket.CloseGoingAway, reason: "server shutdown", clean: true, flush: true})
}

// kill tears the connection down: closes the socket (with a TCP reset if
// abrupt), stops both goroutines and drops its subscriptions.
func (c *wsConn) kill(abrupt bool) {
	c.killOnce.Do(func() {
		c.closing.Store(true)
		c.mu.Lock()
		c.dead = true
		c.q = nil
		c.mu.Unlock()
		if tc, ok := c.nc.(*net.TCPConn); ok && abrupt {
			_ = tc.SetLinger(0)
		}
		_ = c.nc.Close()
		close(c.done)
		c.s.removeConn(c)
	})
}

func (s *Server) removeConn(c *wsConn) {
	s.unsubscribeAll(c)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stats.active.Add(-1)
}

// readLoop reads requests and control frames and enforces InboundLimit.
func (c *wsConn) readLoop() {
	defer c.s.wg.Done()
	defer close(c.readerDone)
	s := c.s
	lim := newInboundLimiter(s.cfg.InboundLimit)
	inbound := func() bool {
		if lim.allow(time.Now()) {
			return true
		}
		if !c.closing.Load() {
			s.stats.inboundCloses.Add(1)
			c.requestClose(closeRequest{code: websocket.ClosePolicyViolation, reason: "Too many requests", clean: true})
		}
		return false
	}
	c.ws.SetReadLimit(readLimit)
	c.ws.SetPingHandler(func(data string) error {
		if inbound() && !c.closing.Load() {
			c.enqueue(outFrame{b: []byte(data), kind: framePong})
		}
		return nil
	})
	c.ws.SetPongHandler(func(data string) error {
		inbound()
		if seq, err := strconv.ParseInt(data, 10, 64); err == nil && seq > 0 && seq <= c.pingSent.Load() {
			if seq > c.pongSeq.Load() {
				c.pongSeq.Store(seq)
			}
		}
		return nil
	})
	c.ws.SetCloseHandler(func(code int, text string) error {
		if code == websocket.CloseNoStatusReceived {
			code = websocket.CloseNormalClosure
		}
		c.requestClose(closeRequest{code: code, clean: true})
		return nil
	})
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			c.requestClose(closeRequest{}) // no-op if a clean close is under way
			return
		}
		if !inbound() || c.closing.Load() {
			continue
		}
		if reply := s.handleRequest(c, msg); reply != nil {
			c.enqueue(outFrame{b: reply, kind: frameText})
		}
	}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
