package stream

import (
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickflow/tickflow/stream/internal/jsonscan"
)

// closeReason says why a connection is being closed; the first reason wins.
type closeReason uint8

const (
	reasonNone        closeReason = iota
	reasonPeer                    // the client closed, or reading failed (incl. pong timeout)
	reasonWrite                   // writing to the socket failed or timed out
	reasonSlow                    // the queue overflowed ClientQueueBytes
	reasonRateLimited             // too many requests per second
	reasonShutdown                // Gateway.Close
)

var reasonNames = [...]string{"", "peer", "write_error", "slow_consumer", "rate_limited", "shutdown"}

// conn is one client connection. Three parties touch it:
//   - the reader (the HTTP handler goroutine): reads requests, owns subs, rl, scan, rbuf;
//   - the writer goroutine: the only one writing data frames to ws;
//   - the publisher (under Gateway.pubMu): owns lastPub and calls enqueue.
//
// mu guards the queue, closing, bboSlot and resync; it is taken inside a shard read lock by
// the publisher, so code holding mu must not take a shard lock.
type conn struct {
	g   *Gateway
	ws  *websocket.Conn
	raw *bufConn
	log *slog.Logger

	mu      sync.Mutex
	queue   []*message // may hold nils: book frames dropped from the backlog
	spare   []*message
	queued  int // bytes enqueued and not yet written (including the batch being written)
	closing closeReason
	// bboSlot is the queue index of the not yet written BBO frame of each channel, so a
	// newer one replaces it (conflation). Reset when the writer takes the queue.
	bboSlot map[*chanState]int
	// resync holds the book streams this client fell behind on: their frames are not
	// queued until Gateway.resync queues a fresh snapshot. The value says the
	// slow_consumer note (book_status invalid) is still owed.
	resync     map[*bookClass]bool
	resyncList []*bookClass // Gateway.resync's scratch (under pubMu)

	wake       chan struct{} // cap 1: something was queued or closing was set
	readerDone chan struct{}
	writerDone chan struct{}

	lastPub uint64 // publisher-owned: the last publish this conn was enqueued for (dedup)

	pingSent atomic.Uint64 // id of the last ping sent (writer)
	pongSeen atomic.Uint64 // id of the last matching pong (reader)

	// reader-owned
	subs map[Channel]struct{}
	rl   rateLimiter
	scan jsonscan.Scanner
	rbuf []byte
}

func newConn(g *Gateway, ws *websocket.Conn, raw *bufConn, log *slog.Logger) *conn {
	c := &conn{
		g:          g,
		ws:         ws,
		raw:        raw,
		log:        log,
		queue:      make([]*message, 0, 64),
		spare:      make([]*message, 0, 64),
		wake:       make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		subs:       make(map[Channel]struct{}),
	}
	c.rl.init(g.cfg.MaxMessagesPerSecond, time.Now())
	return c
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// overflowsLocked reports whether n more bytes would take the queue over
// ClientQueueBytes. A frame larger than the limit is accepted into an empty queue (a deep
// book snapshot can be), so memory stays bounded by the limit plus one frame.
func (c *conn) overflowsLocked(n int) bool {
	return c.queued > 0 && c.queued+n > c.g.cfg.ClientQueueBytes
}

// appendLocked queues m, taking a reference, and reports whether the writer needs a
// wake-up: a non-empty queue already has one pending (the writer empties the queue and
// then waits for the next signal), so only the first message signals.
func (c *conn) appendLocked(m *message) bool {
	m.retain()
	c.queue = append(c.queue, m)
	c.queued += len(m.buf)
	return len(c.queue) == 1
}

// slowLocked makes the client a slow consumer: its queue is dropped and the writer
// disconnects it. The caller signals the writer after unlocking.
func (c *conn) slowLocked() {
	c.closing = reasonSlow
	c.dropQueueLocked()
	c.g.m.slow.Inc()
	c.g.m.clientErrors[CodeSlowConsumer].Inc()
}

// enqueue adds m (a trade, integrity or control frame) to the queue, taking a reference.
// It never blocks on the network. If the queue would exceed ClientQueueBytes, the client's
// book backlogs are dropped first (those streams resume with a snapshot later); if that
// is not enough the client becomes a slow consumer and is disconnected. It reports
// whether m was queued.
func (c *conn) enqueue(m *message) bool {
	c.mu.Lock()
	if c.closing != reasonNone {
		c.mu.Unlock()
		return false
	}
	if c.overflowsLocked(len(m.buf)) {
		c.evictBooksLocked()
		if c.overflowsLocked(len(m.buf)) {
			c.slowLocked()
			c.mu.Unlock()
			c.signal()
			return false
		}
	}
	first := c.appendLocked(m)
	c.mu.Unlock()
	if first {
		c.signal()
	}
	return true
}

func (c *conn) dropQueueLocked() {
	for i, m := range c.queue {
		if m != nil {
			c.queued -= len(m.buf)
			m.release()
		}
		c.queue[i] = nil
	}
	c.queue = c.queue[:0]
	clear(c.bboSlot)
	clear(c.resync)
}

// terminate asks the writer to close the connection for reason (the first reason wins).
// Pending frames are still written for shutdown and rate limiting, dropped otherwise.
func (c *conn) terminate(reason closeReason) {
	c.mu.Lock()
	if c.closing == reasonNone {
		c.closing = reason
		if reason == reasonPeer || reason == reasonWrite || reason == reasonSlow {
			c.dropQueueLocked()
		}
	}
	c.mu.Unlock()
	c.signal()
}

func (c *conn) closeReason() closeReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// sendControl queues a reply or error frame built by fn.
func (c *conn) sendControl(build func([]byte) []byte) {
	m := newMessage(msgControl)
	m.buf = build(m.buf)
	c.enqueue(m)
	m.release()
}

func (c *conn) sendError(id int64, hasID bool, code ErrorCode, msg string) {
	c.g.m.clientErrors[code].Inc()
	c.sendControl(func(b []byte) []byte { return appendError(b, id, hasID, code, msg) })
}

// ---- writer ----

// writeLoop is the connection's writer goroutine: it drains the queue in batches, pings,
// and performs the close handshake when the connection ends.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	cfg := &c.g.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.wake:
		case <-ping.C:
			if err := c.ping(); err != nil {
				c.log.Debug("stream: ping failed", "err", err)
				c.terminate(reasonWrite)
			}
		}
		c.mu.Lock()
		batch := c.queue
		c.queue, c.spare = c.spare, nil
		if len(c.bboSlot) > 0 {
			clear(c.bboSlot) // frames taken into the batch can no longer be replaced
		}
		reason := c.closing
		c.mu.Unlock()

		written := 0
		if len(batch) > 0 && (reason == reasonNone || reason == reasonShutdown || reason == reasonRateLimited) {
			if err := c.writeBatch(batch); err != nil {
				c.log.Debug("stream: write failed", "err", err)
				c.terminate(reasonWrite)
				reason = c.closeReason()
			}
		}
		for i, m := range batch {
			if m != nil {
				written += len(m.buf)
				m.release()
				batch[i] = nil
			}
		}
		c.mu.Lock()
		c.queued -= written
		c.spare = batch[:0]
		// Checked under mu after the bytes are subtracted, so a stream suspended while the
		// batch was written is seen here or by the next batch.
		resync := reason == reasonNone && len(c.resync) > 0 && c.queued <= c.g.cfg.ClientQueueBytes/2
		c.mu.Unlock()
		if reason != reasonNone {
			c.finish(reason)
			return
		}
		if resync {
			c.g.resync(c)
		}
	}
}

// writeBatch writes queued frames with one deadline and, through bufConn, few syscalls.
func (c *conn) writeBatch(batch []*message) error {
	c.raw.beginBatch(time.Now().Add(c.g.cfg.WriteTimeout))
	var err error
	for _, m := range batch {
		if m == nil {
			continue
		}
		if err = c.ws.WriteMessage(websocket.TextMessage, m.buf); err != nil {
			break
		}
	}
	if ferr := c.raw.endBatch(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	m := c.g.m
	now := c.g.now()
	var counts [numMsgKinds]int
	bytes := 0
	for _, msg := range batch {
		if msg == nil {
			continue
		}
		counts[msg.kind]++
		bytes += len(msg.buf)
		if msg.pub != 0 {
			m.latency.Observe(float64(now-msg.pub) / 1e9)
		}
	}
	for k, n := range counts {
		if n > 0 {
			m.sent[k].Add(float64(n))
		}
	}
	m.bytesSent.Add(float64(bytes))
	return nil
}

// ping sends a ping whose payload is its id and arms the pong deadline, unless a ping is
// still unanswered (then the deadline set for it is already running).
func (c *conn) ping() error {
	if c.pingSent.Load() != c.pongSeen.Load() {
		return nil
	}
	id := c.pingSent.Add(1)
	now := time.Now()
	// Arm the deadline before sending, so the pong cannot arrive first.
	if err := c.raw.SetReadDeadline(now.Add(c.g.cfg.PongTimeout)); err != nil {
		return err
	}
	var p [20]byte
	return c.ws.WriteControl(websocket.PingMessage, strconv.AppendUint(p[:0], id, 10), now.Add(c.g.cfg.WriteTimeout))
}

// onPong runs on the reader goroutine for every pong.
func (c *conn) onPong(data string) error {
	id, err := strconv.ParseUint(data, 10, 64)
	if err == nil && id == c.pingSent.Load() && id != 0 {
		c.pongSeen.Store(id)
		return c.raw.SetReadDeadline(time.Time{})
	}
	return nil
}

// finish performs the close handshake for reason and closes the socket.
func (c *conn) finish(reason closeReason) {
	cfg := &c.g.cfg
	deadline := time.Now().Add(cfg.CloseGrace)
	var code int
	var text string
	switch reason {
	case reasonSlow:
		// Best effort: the socket is probably full, in which case this times out.
		msg := appendError(nil, 0, false, CodeSlowConsumer, slowConsumerMessage(cfg.ClientQueueBytes))
		c.ws.SetWriteDeadline(deadline) //nolint:errcheck // always nil
		if err := c.ws.WriteMessage(websocket.TextMessage, msg); err == nil {
			c.g.m.sent[msgControl].Inc()
			c.g.m.bytesSent.Add(float64(len(msg)))
		}
		code, text = ClosePolicyViolation, "slow consumer"
	case reasonRateLimited:
		code, text = ClosePolicyViolation, "rate limit exceeded"
	case reasonShutdown:
		code, text = CloseGoingAway, "server shutting down"
	}
	if reason == reasonSlow || reason == reasonRateLimited {
		c.log.Info("stream: disconnecting client", "reason", reasonNames[reason])
	} else {
		c.log.Debug("stream: closing client", "reason", reasonNames[reason])
	}
	if code != 0 {
		err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), deadline)
		if err == nil {
			// Give the client until the deadline to answer with its close frame.
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-c.readerDone:
			case <-t.C:
			}
			t.Stop()
		}
	}
	c.raw.Close() //nolint:errcheck // nothing to do about it
}

func slowConsumerMessage(limit int) string {
	return "your connection fell more than " + strconv.Itoa(limit) +
		" bytes behind the live stream and is being closed; read frames as fast as they arrive " +
		"(do not block the read loop), subscribe to fewer channels, or spread them over more connections"
}

// ---- reader ----

// readLoop reads and handles requests until the connection fails or is closed.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	c.ws.SetReadLimit(int64(c.g.cfg.MaxMessageBytes))
	c.ws.SetPongHandler(c.onPong)
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			c.log.Debug("stream: read ended", "err", err)
			c.terminate(reasonPeer)
			return
		}
		if c.rbuf, err = readAll(c.rbuf[:0], r); err != nil {
			c.log.Debug("stream: read ended", "err", err)
			c.terminate(reasonPeer)
			return
		}
		if c.closeReason() != reasonNone {
			continue // draining until the client answers our close frame
		}
		if !c.rl.allow(time.Now()) {
			c.sendError(0, false, CodeRateLimited, "more than "+strconv.Itoa(c.g.cfg.MaxMessagesPerSecond)+
				" requests per second; the connection is being closed. Put many channels in one subscribe request instead of sending one request per channel")
			c.terminate(reasonRateLimited)
			continue
		}
		if mt != websocket.TextMessage {
			c.sendError(0, false, CodeBadRequest, "binary frames are not accepted; send requests as JSON text frames, e.g. "+requestExample)
			continue
		}
		c.handle(c.rbuf)
	}
}

func readAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// handle executes one request.
func (c *conn) handle(data []byte) {
	max := c.g.cfg.MaxSubscriptions
	req, rerr := parseRequest(&c.scan, data, max)
	if rerr != nil {
		c.sendError(req.id, req.hasID, rerr.code, rerr.msg)
		return
	}
	switch req.op {
	case opPing:
		c.sendControl(func(b []byte) []byte { return appendPong(b, req.id, req.hasID) })
	case opList:
		names := make([]string, 0, len(c.subs))
		for ch := range c.subs {
			names = append(names, ch.String())
		}
		slices.Sort(names)
		c.sendControl(func(b []byte) []byte {
			return appendChannelsReply(b, "subscriptions", req.id, req.hasID, names)
		})
	case opSubscribe:
		c.subscribe(&req)
	case opUnsubscribe:
		c.unsubscribe(&req)
	}
}

// subscribe is all or nothing: either every channel of the request is subscribed or none.
// No data frame of a new channel precedes its "subscribed" reply, and every event published
// after the reply was queued follows it.
func (c *conn) subscribe(req *request) {
	added := 0
	for _, ch := range req.channels {
		if _, ok := c.subs[ch]; !ok {
			added++
		}
	}
	max := c.g.cfg.MaxSubscriptions
	if len(c.subs)+added > max {
		c.sendError(req.id, req.hasID, CodeTooManySubscriptions,
			"subscribing to "+strconv.Itoa(added)+" more channels would make "+strconv.Itoa(len(c.subs)+added)+
				" subscriptions, over the limit of "+strconv.Itoa(max)+
				" per connection; nothing was subscribed. Unsubscribe from some, use wildcards such as trades:binance:*, or open another connection")
		return
	}
	names := channelNames(req.channels)
	// Under pubMu the reply and the index change are one point in the event stream: every
	// event published after it is delivered, none published before it. Book and BBO
	// channels then get their current state (snapshot or status, latest BBO), still under
	// pubMu, so nothing is missed or repeated between that state and the next update.
	c.g.pubMu.Lock()
	c.sendControl(func(b []byte) []byte {
		return appendChannelsReply(b, "subscribed", req.id, req.hasID, names)
	})
	fresh := make([]Channel, 0, added)
	for _, ch := range req.channels {
		if _, ok := c.subs[ch]; !ok {
			fresh = append(fresh, ch)
		}
	}
	c.g.initialState(c, fresh) // before c.subs holds them: it skips what c already receives
	for _, ch := range fresh {
		c.subs[ch] = struct{}{}
		c.g.index.add(ch, c)
		c.g.refOption(ch, 1)
	}
	c.g.pubMu.Unlock()
}

// unsubscribe is all or nothing too; a channel not held is a bad request, because
// subscriptions match exactly (unsubscribing trades:binance:BTC-USDT does not carve it out
// of trades:*:*).
func (c *conn) unsubscribe(req *request) {
	for _, ch := range req.channels {
		if _, ok := c.subs[ch]; !ok {
			c.sendError(req.id, req.hasID, CodeBadRequest, "not subscribed to "+strconv.Quote(ch.String())+
				"; nothing was unsubscribed. Unsubscribe names exactly as subscribed (send {\"op\":\"list\"} to see them)")
			return
		}
	}
	names := channelNames(req.channels)
	c.g.pubMu.Lock() // as in subscribe: nothing published after the reply is delivered
	for _, ch := range req.channels {
		delete(c.subs, ch)
		c.g.index.remove(ch, c)
		c.g.refOption(ch, -1)
	}
	c.sendControl(func(b []byte) []byte {
		return appendChannelsReply(b, "unsubscribed", req.id, req.hasID, names)
	})
	c.g.pubMu.Unlock()
}

func channelNames(chs []Channel) []string {
	names := make([]string, len(chs))
	for i, ch := range chs {
		names[i] = ch.String()
	}
	return names
}

// unsubscribeAll removes every subscription of the connection from the index.
func (c *conn) unsubscribeAll() {
	c.g.pubMu.Lock()
	for ch := range c.subs {
		c.g.index.remove(ch, c)
		c.g.refOption(ch, -1)
	}
	c.g.pubMu.Unlock()
	clear(c.subs)
}

// ---- rate limit ----

// rateLimiter is a token bucket: rate tokens per second, burst of one second's worth.
type rateLimiter struct {
	rate   float64
	tokens float64
	last   time.Time
}

func (r *rateLimiter) init(perSecond int, now time.Time) {
	r.rate = float64(perSecond)
	r.tokens = r.rate
	r.last = now
}

func (r *rateLimiter) allow(now time.Time) bool {
	r.tokens = min(r.rate, r.tokens+now.Sub(r.last).Seconds()*r.rate)
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}
