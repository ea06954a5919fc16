package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/stream/internal/jsonscan"
)

// ProtocolVersion is the gateway protocol version this client speaks.
const ProtocolVersion = 1

// resubscribeChunk is how many channels one re-subscribe request carries after a reconnect.
const resubscribeChunk = 200

// Client is a connection to a tickflow streaming gateway. Subscribe, Unsubscribe, Ping,
// Subscriptions, Epoch and Close are safe for concurrent use; Next is meant for one
// consuming goroutine. Requests wait for their reply, which the connection's reader
// goroutine delivers: do not call them from the goroutine that calls Next while Next's
// buffer is full.
type Client struct {
	url    string
	opts   Options
	log    *slog.Logger
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	msgs    chan Message  // reader -> Next; closed when the client ends
	runDone chan struct{} // closed after msgs, when the reader goroutine has exited

	mu      sync.Mutex
	ws      *websocket.Conn // current connection; nil while reconnecting
	up      chan struct{}   // closed while ws != nil; replaced when it drops
	pending map[int64]*call
	subs    map[string]struct{} // canonical channels the gateway confirmed
	nextID  int64
	err     error // why the client ended
	epoch   string

	writeMu sync.Mutex // serializes data frames written to ws

	// reader-owned
	scan        jsonscan.Scanner
	f           frame
	in          *md.Interner
	seqs        map[string]seqState
	gen         uint64 // sequence generation: bumped when the epoch changes
	readTimeout time.Duration
	rbuf        []byte
	async       *ServerError // last error frame without a request id (precedes a close)
}

type seqState struct {
	seq, gen uint64
}

// call is a request waiting for its reply.
type call struct {
	op   string
	ws   *websocket.Conn // the connection it was sent on
	done chan result     // nil for the reader's own re-subscribe requests
}

type result struct {
	channels []string
	err      error
}

// welcome is the first frame of a connection.
type welcome struct {
	epoch        string
	pingInterval time.Duration
}

// Dial connects to the gateway at url (ws:// or wss://, e.g. ws://host:8080/ws) and waits
// for its welcome frame. ctx bounds the dial only. A refused token is a *ServerError with
// Code CodeUnauthorized and Status 401.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	c := &Client{
		url:     url,
		opts:    opts,
		log:     opts.Logger.With("url", url),
		msgs:    make(chan Message, opts.Buffer),
		runDone: make(chan struct{}),
		pending: make(map[int64]*call),
		subs:    make(map[string]struct{}),
		in:      md.NewInterner(0),
		seqs:    make(map[string]seqState),
	}
	ws, w, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.epoch = w.epoch
	c.setReadTimeout(w)
	c.ws = ws
	c.up = make(chan struct{})
	close(c.up)
	go c.run(ws)
	return c, nil
}

func (c *Client) setReadTimeout(w welcome) {
	c.readTimeout = c.opts.ReadTimeout
	if c.readTimeout <= 0 {
		iv := w.pingInterval
		if iv <= 0 {
			iv = 20 * time.Second
		}
		c.readTimeout = 2*iv + 5*time.Second
	}
}

// dial opens a connection and reads the welcome frame.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, welcome, error) {
	hdr := http.Header{}
	for k, v := range c.opts.Header {
		hdr[k] = slices.Clone(v)
	}
	if c.opts.Token != "" {
		hdr.Set("Authorization", "Bearer "+c.opts.Token)
	}
	ws, resp, err := c.opts.Dialer.DialContext(ctx, c.url, hdr)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				se := &ServerError{Code: CodeUnauthorized, Status: resp.StatusCode, Message: "token refused"}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				var f frame
				var s jsonscan.Scanner
				if decodeFrame(&s, body, &f) == nil && len(f.msg) > 0 {
					se.Message = string(f.msg)
				}
				return nil, welcome{}, se
			}
			return nil, welcome{}, fmt.Errorf("client: dial %s: HTTP %d: %w", c.url, resp.StatusCode, err)
		}
		return nil, welcome{}, fmt.Errorf("client: dial %s: %w", c.url, err)
	}
	deadline := time.Now().Add(DefaultHandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ws.SetReadDeadline(deadline) //nolint:errcheck // a failed read reports it
	stop := context.AfterFunc(ctx, func() { ws.NetConn().SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	_, data, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, welcome{}, fmt.Errorf("client: read welcome from %s: %w", c.url, err)
	}
	var f frame
	var s jsonscan.Scanner
	if err := decodeFrame(&s, data, &f); err != nil || string(f.typ) != "welcome" {
		ws.Close()
		return nil, welcome{}, fmt.Errorf("%w: first frame from %s is not a welcome: %.200s", ErrProtocol, c.url, data)
	}
	if f.protocol != ProtocolVersion {
		ws.Close()
		return nil, welcome{}, fmt.Errorf("%w: gateway speaks protocol %d, this client %d", ErrProtocol, f.protocol, ProtocolVersion)
	}
	ws.SetReadDeadline(time.Time{}) //nolint:errcheck // see above
	return ws, welcome{epoch: string(f.epoch), pingInterval: time.Duration(f.pingMS) * time.Millisecond}, nil
}

// ---- requests ----

// Subscribe subscribes to channels (names or patterns such as "trades:binance:BTC-USDT",
// "trades:*:BTC-USDT") and waits for the gateway's confirmation. It is all or nothing: on
// error (a *ServerError for refused channels) nothing was subscribed. Subscriptions are
// restored after a reconnect.
func (c *Client) Subscribe(ctx context.Context, channels ...string) error {
	_, err := c.request(ctx, "subscribe", channels)
	return err
}

// Unsubscribe ends subscriptions, named exactly as subscribed, and waits for the
// confirmation. All or nothing, like Subscribe.
func (c *Client) Unsubscribe(ctx context.Context, channels ...string) error {
	_, err := c.request(ctx, "unsubscribe", channels)
	return err
}

// Ping asks the gateway for a pong and returns the round-trip time. The reply queues
// behind data frames, so this measures delivery backlog too.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.request(ctx, "ping", nil)
	return time.Since(start), err
}

// Subscriptions returns the channels the gateway has confirmed, in canonical form (venue
// lower case, symbol upper case), sorted.
func (c *Client) Subscriptions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.subs))
	for ch := range c.subs {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out
}

// Epoch returns the gateway epoch of the current sequence numbers (from the last welcome).
func (c *Client) Epoch() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

func (c *Client) request(ctx context.Context, op string, channels []string) (result, error) {
	if (op == "subscribe" || op == "unsubscribe") && len(channels) == 0 {
		return result{}, fmt.Errorf("client: %s: no channels given", op)
	}
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return result{}, err
		}
		ws, up := c.ws, c.up
		if ws == nil {
			c.mu.Unlock()
			select {
			case <-up:
				continue
			case <-ctx.Done():
				return result{}, fmt.Errorf("client: %s: waiting for reconnect: %w", op, ctx.Err())
			case <-c.runDone:
				continue
			}
		}
		c.nextID++
		id := c.nextID
		cl := &call{op: op, ws: ws, done: make(chan result, 1)}
		c.pending[id] = cl
		c.mu.Unlock()

		if err := c.write(ctx, ws, appendRequest(nil, op, id, channels)); err != nil {
			c.forget(id)
			return result{}, fmt.Errorf("client: send %s: %w", op, err)
		}
		select {
		case r := <-cl.done:
			return r, r.err
		case <-ctx.Done():
			c.forget(id)
			return result{}, fmt.Errorf("client: %s: %w", op, ctx.Err())
		}
	}
}

func (c *Client) forget(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *Client) write(ctx context.Context, ws *websocket.Conn, frame []byte) error {
	deadline := time.Now().Add(c.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ws.SetWriteDeadline(deadline) //nolint:errcheck // a failed write reports it
	return ws.WriteMessage(websocket.TextMessage, frame)
}

// appendRequest encodes a request frame. Channel names are JSON-escaped.
func appendRequest(dst []byte, op string, id int64, channels []string) []byte {
	dst = append(dst, `{"op":"`...)
	dst = append(dst, op...)
	dst = append(dst, `","id":`...)
	dst = strconv.AppendInt(dst, id, 10)
	if channels != nil {
		dst = append(dst, `,"channels":[`...)
		for i, ch := range channels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendQuoteToASCII(dst, ch)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// ---- consuming ----

// Next returns the next message: a trade, an integrity event, a gap report or a reconnect
// report, in the order the gateway sent them. It returns ctx's error when ctx ends first,
// and the error that ended the client once it has ended (ErrClosed after Close; the
// connection's error, wrapping a *ServerError such as slow_consumer when the gateway said
// why, when it dropped without Options.Reconnect).
func (c *Client) Next(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-c.msgs:
		if !ok {
			return Message{}, c.endErr()
		}
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

func (c *Client) endErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and stops reconnecting. Messages not yet returned by Next
// are dropped. It is safe to call more than once.
func (c *Client) Close() error {
	c.cancel()
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		ws.WriteControl(websocket.CloseMessage, //nolint:errcheck // closing anyway
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		ws.Close() //nolint:errcheck // closing anyway
	}
	<-c.runDone
	return nil
}

// ---- reader goroutine ----

// fatal reports errors that reconnecting cannot fix.
func fatal(err error) bool { return errors.Is(err, ErrProtocol) || errors.Is(err, ErrResubscribe) }

// run reads connections until the client ends, reconnecting if configured.
func (c *Client) run(ws *websocket.Conn) {
	var err error
	for {
		cur := ws
		stop := context.AfterFunc(c.ctx, func() { cur.Close() }) // Close unblocks the read
		err = c.readConn(ws)
		stop()
		cause := err
		if c.async != nil {
			cause = fmt.Errorf("client: disconnected: %w: %w", c.async, err)
			c.async = nil
		} else if !errors.Is(err, ErrClosed) && !fatal(err) {
			cause = fmt.Errorf("client: disconnected: %w", err)
		}
		c.dropConn(ws)
		ws.Close() //nolint:errcheck // done with it
		if c.ctx.Err() != nil {
			err = ErrClosed
			break
		}
		err = cause
		if !c.opts.Reconnect || fatal(err) {
			break
		}
		c.log.Info("client: connection lost, reconnecting", "err", cause)
		if ws, err = c.reconnect(cause); err != nil {
			break
		}
	}
	c.mu.Lock()
	c.err = err
	for id, cl := range c.pending {
		if cl.done != nil {
			cl.done <- result{err: err}
		}
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.msgs)
	close(c.runDone)
}

// dropConn marks the client disconnected and fails the requests sent on ws.
func (c *Client) dropConn(ws *websocket.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws == ws {
		c.ws = nil
		c.up = make(chan struct{})
	}
	for id, cl := range c.pending {
		if cl.ws == ws {
			if cl.done != nil {
				cl.done <- result{err: ErrConnectionLost}
			}
			delete(c.pending, id)
		}
	}
}

// reconnect dials with backoff until it succeeds, the client is closed, the token is
// refused or MaxAttempts is reached; then re-subscribes and reports the reconnect.
func (c *Client) reconnect(cause error) (*websocket.Conn, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		if c.opts.MaxAttempts > 0 && attempt > c.opts.MaxAttempts {
			return nil, fmt.Errorf("client: gave up reconnecting after %d attempts: %w", c.opts.MaxAttempts, lastErr)
		}
		t := time.NewTimer(c.backoff(attempt))
		select {
		case <-c.ctx.Done():
			t.Stop()
			return nil, ErrClosed
		case <-t.C:
		}
		ws, w, err := c.dial(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil, ErrClosed
			}
			var se *ServerError
			if errors.As(err, &se) && se.Code == CodeUnauthorized {
				return nil, err
			}
			lastErr = err
			c.log.Debug("client: reconnect failed", "attempt", attempt, "err", err)
			continue
		}
		if err := c.resubscribe(ws); err != nil {
			ws.Close() //nolint:errcheck // retrying
			lastErr = err
			continue
		}
		changed := w.epoch != c.epoch
		if changed {
			c.gen++ // every channel's sequence restarted
		}
		c.setReadTimeout(w)
		c.mu.Lock()
		c.epoch = w.epoch
		c.ws = ws
		close(c.up)
		c.mu.Unlock()
		c.log.Info("client: reconnected", "attempts", attempt, "epoch_changed", changed)
		// If Close was called meanwhile, deliver fails and the next read does too.
		c.deliver(Message{Type: TypeReconnected, Reconnect: Reconnect{Attempts: attempt, Cause: cause, EpochChanged: changed}})
		return ws, nil
	}
}

// backoff returns the wait before attempt n: exponential from MinBackoff, capped at
// MaxBackoff, with jitter in [d/2, d]. The first attempt waits MinBackoff/2..MinBackoff.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.MinBackoff
	for i := 1; i < n && d < c.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// resubscribe re-sends every confirmed subscription on a new connection. The replies are
// handled by readConn; a refusal ends the client.
func (c *Client) resubscribe(ws *websocket.Conn) error {
	chans := c.Subscriptions()
	for len(chans) > 0 {
		n := min(len(chans), resubscribeChunk)
		c.mu.Lock()
		c.nextID++
		id := c.nextID
		c.pending[id] = &call{op: "subscribe", ws: ws}
		c.mu.Unlock()
		if err := c.write(c.ctx, ws, appendRequest(nil, "subscribe", id, chans[:n])); err != nil {
			c.forget(id)
			return fmt.Errorf("client: re-subscribe: %w", err)
		}
		chans = chans[n:]
	}
	return nil
}

// deliver hands m to Next; false if the client was closed meanwhile.
func (c *Client) deliver(m Message) bool {
	select {
	case c.msgs <- m:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// readConn reads frames from ws until it fails or the client is closed.
func (c *Client) readConn(ws *websocket.Conn) error {
	ws.SetPingHandler(func(data string) error {
		ws.SetReadDeadline(time.Now().Add(c.readTimeout)) //nolint:errcheck // reported by the read
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.opts.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		ws.SetReadDeadline(time.Now().Add(c.readTimeout)) //nolint:errcheck // reported by the read
		_, r, err := ws.NextReader()
		if err != nil {
			return err
		}
		if c.rbuf, err = readAll(c.rbuf[:0], r); err != nil {
			return err
		}
		if err := c.handle(c.rbuf); err != nil {
			return err
		}
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

// handle processes one frame.
func (c *Client) handle(data []byte) error {
	f := &c.f
	if err := decodeFrame(&c.scan, data, f); err != nil {
		return err
	}
	switch string(f.typ) {
	case "trade", "integrity":
		m := Message{Channel: c.in.Bytes(f.channel), Seq: f.seq}
		var err error
		if string(f.typ) == "trade" {
			m.Type = TypeTrade
			err = f.trade(&m.Trade, c.in)
		} else {
			m.Type = TypeIntegrity
			err = f.integrity(&m.Integrity, c.in)
		}
		if err != nil {
			return fmt.Errorf("%s frame on %s: %w", f.typ, f.channel, err)
		}
		if gap, ok := c.checkSeq(m.Channel, m.Seq); ok {
			if !c.deliver(Message{Type: TypeGap, Channel: m.Channel, Seq: m.Seq, Gap: gap}) {
				return ErrClosed
			}
		}
		if !c.deliver(m) {
			return ErrClosed
		}
	case "book_snapshot", "book_delta", "book_status", "bbo":
		// Book channels carry the book's own sequence (client.Book checks it) and BBO
		// channels conflate, so neither is tracked for TypeGap.
		m := Message{Channel: c.in.Bytes(f.channel), Seq: f.seq}
		var err error
		switch string(f.typ) {
		case "book_snapshot":
			m.Type, m.BookDepth = TypeBookSnapshot, int(f.depth)
			err = f.book(&m.Book, true, c.in)
		case "book_delta":
			m.Type = TypeBookDelta
			err = f.book(&m.Book, false, c.in)
		case "book_status":
			m.Type = TypeBookStatus
			err = f.bookStatus(&m.BookStatus, c.in)
		default:
			m.Type = TypeBBO
			err = f.bbo(&m.BBO, c.in)
		}
		if err != nil {
			return fmt.Errorf("%s frame on %s: %w", f.typ, f.channel, err)
		}
		if !c.deliver(m) {
			return ErrClosed
		}
	case "subscribed", "unsubscribed", "subscriptions", "pong", "error":
		return c.reply(f)
	}
	// welcome (only first) and unknown frame types are ignored: later gateways add types.
	return nil
}

// checkSeq records seq for channel and reports a gap if it does not follow the last one.
func (c *Client) checkSeq(channel string, seq uint64) (Gap, bool) {
	st, seen := c.seqs[channel]
	c.seqs[channel] = seqState{seq: seq, gen: c.gen}
	switch {
	case !seen || (st.gen == c.gen && seq == st.seq+1):
		return Gap{}, false
	case st.gen != c.gen || seq <= st.seq:
		return Gap{Last: st.seq, Reset: true}, true
	}
	return Gap{Last: st.seq, Missed: seq - st.seq - 1}, true
}

// reply completes the request a reply answers.
func (c *Client) reply(f *frame) error {
	var serr *ServerError
	if string(f.typ) == "error" {
		serr = &ServerError{Code: string(f.code), Message: string(f.msg)}
		if !f.hasReqID {
			c.async = serr // e.g. slow_consumer, rate_limited: the close follows
			c.log.Warn("client: gateway error", "code", serr.Code, "message", serr.Message)
			return nil
		}
	}
	if !f.hasReqID {
		return nil
	}
	chans := make([]string, len(f.channels))
	for i, ch := range f.channels {
		chans[i] = string(ch)
	}
	c.mu.Lock()
	cl, ok := c.pending[f.reqID]
	delete(c.pending, f.reqID)
	if ok && serr == nil {
		switch string(f.typ) {
		case "subscribed":
			for _, ch := range chans {
				c.subs[ch] = struct{}{}
			}
		case "unsubscribed":
			for _, ch := range chans {
				delete(c.subs, ch)
			}
		}
	}
	c.mu.Unlock()
	if !ok {
		return nil // its caller gave up
	}
	if string(f.typ) == "unsubscribed" {
		c.forgetSeqs(chans)
	}
	if cl.done == nil { // the reader's own re-subscribe
		if serr != nil {
			return fmt.Errorf("%w: %w", ErrResubscribe, serr)
		}
		return nil
	}
	if serr != nil {
		cl.done <- result{err: serr}
	} else {
		cl.done <- result{channels: chans}
	}
	return nil
}

// forgetSeqs drops sequence tracking for channels matching the unsubscribed patterns, so a
// later subscription does not report the unsubscribed interval as a gap.
func (c *Client) forgetSeqs(patterns []string) {
	for ch := range c.seqs {
		for _, p := range patterns {
			if matches(p, ch) {
				delete(c.seqs, ch)
				break
			}
		}
	}
}

// matches reports whether pattern kind:venue:symbol[@option] ("*" wildcards) covers
// channel; options must be equal.
func matches(pattern, channel string) bool {
	pattern, popt, _ := strings.Cut(pattern, "@")
	channel, copt, _ := strings.Cut(channel, "@")
	if popt != copt {
		return false
	}
	for range 3 {
		p, prest, _ := strings.Cut(pattern, ":")
		ch, crest, _ := strings.Cut(channel, ":")
		if p != "*" && p != ch {
			return false
		}
		pattern, channel = prest, crest
	}
	return true
}
