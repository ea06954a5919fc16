package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/md"
)

// EngineConfig configures the shared session engine. Zero values mean defaults.
type EngineConfig struct {
	Venue string
	// ReadTimeout drops a connection that received nothing (data, ping) for this long
	// (default 45s: Binance pings every 20s).
	ReadTimeout time.Duration
	// BackoffMin and BackoffMax bound the reconnect backoff (defaults 200ms, 30s); each wait
	// is drawn uniformly from [BackoffMin, current] (full jitter) and current doubles.
	BackoffMin, BackoffMax time.Duration
	// HandshakeTimeout bounds the WebSocket dial (default 10s).
	HandshakeTimeout time.Duration
	// MaxFrameBytes is the WebSocket read limit (default 64 MiB: venue snapshots are MBs).
	MaxFrameBytes int64
	// SendPerSecond limits outbound messages per connection (default 4: Binance allows 5).
	SendPerSecond float64
}

func (c *EngineConfig) setDefaults() {
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 45 * time.Second
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 200 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 64 << 20
	}
	if c.SendPerSecond <= 0 {
		c.SendPerSecond = 4
	}
}

// Engine runs a Session's connections: dial, record, read, reconnect.
type Engine struct {
	cfg     EngineConfig
	session Session
	writer  RawWriter
	epochs  *Epochs
	rest    *REST
	log     *slog.Logger
	m       *Metrics
}

// NewEngine returns an engine. It does no I/O and starts no goroutines.
func NewEngine(cfg EngineConfig, s Session, w RawWriter, epochs *Epochs, rest *REST, m *Metrics, log *slog.Logger) *Engine {
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Engine{cfg: cfg, session: s, writer: w, epochs: epochs, rest: rest, log: log.With("venue", cfg.Venue), m: m}
}

// Run plans the slots and keeps every slot connected until ctx is done. It returns nil on
// cancellation.
func (e *Engine) Run(ctx context.Context) error {
	var slots []Slot
	bo := e.cfg.BackoffMin
	for {
		var err error
		if slots, err = e.session.Slots(ctx, e.rest); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		e.log.Warn("planning connections failed; retrying", "err", err, "in", bo)
		if !sleep(ctx, bo) {
			return nil
		}
		bo = min(2*bo, e.cfg.BackoffMax)
	}
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runSlot(ctx, s)
		}()
	}
	wg.Wait()
	return nil
}

func (e *Engine) runSlot(ctx context.Context, s Slot) {
	cur := e.cfg.BackoffMin
	for ctx.Err() == nil {
		start := time.Now()
		err := e.connectOnce(ctx, s)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			cur = e.cfg.BackoffMin
		}
		wait := e.cfg.BackoffMin + time.Duration(rand.Int64N(int64(cur-e.cfg.BackoffMin)+1))
		e.log.Info("connection ended; reconnecting", "slot", s.Name, "err", err, "in", wait)
		if !sleep(ctx, wait) {
			return
		}
		cur = min(2*cur, e.cfg.BackoffMax)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// errRawFull ends a connection whose records could not be written.
var errRawFull = errors.New("raw writer full: dropping connection to mark the gap")

func (e *Engine) connectOnce(ctx context.Context, s Slot) error {
	epoch, err := e.epochs.Next()
	if err != nil {
		return err
	}
	d := websocket.Dialer{HandshakeTimeout: e.cfg.HandshakeTimeout, ReadBufferSize: 64 << 10, WriteBufferSize: 16 << 10}
	ws, resp, err := d.DialContext(ctx, s.URL, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		e.m.Disconnects.WithLabelValues(e.cfg.Venue, "dial").Inc()
		return fmt.Errorf("%s: dial %s: %w", e.cfg.Venue, s.URL, err)
	}
	ws.SetReadLimit(e.cfg.MaxFrameBytes)
	cctx, cancel := context.WithCancel(ctx)
	c := &Conn{e: e, Slot: s, Epoch: epoch, ws: ws, ctx: cctx, cancel: cancel,
		sendEvery: time.Duration(float64(time.Second) / e.cfg.SendPerSecond),
		framesIn:  e.m.Frames.WithLabelValues(e.cfg.Venue, "in")}
	c.onAck = c.ack
	defer cancel()
	e.m.Connects.WithLabelValues(e.cfg.Venue).Inc()

	if err := c.Record(md.RawConnect, md.DirLocal, []byte("url="+s.URL), nil, time.Now().UnixNano()); err != nil {
		ws.Close()
		return err
	}
	if err := c.Record(md.RawSubscribe, md.DirLocal, []byte("symbols="+strings.Join(s.Symbols, ",")), nil, time.Now().UnixNano()); err != nil {
		ws.Close()
		return err
	}
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(e.cfg.ReadTimeout))
		c.wmu.Lock()
		defer c.wmu.Unlock()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return err
		}
		return nil
	})
	// Close the socket when the connection context ends, unblocking the read loop.
	stop := context.AfterFunc(cctx, func() { ws.Close() })
	defer stop()

	subErr := make(chan error, 1)
	c.Go(func(ctx context.Context) {
		if err := e.session.Subscribe(ctx, c); err != nil && ctx.Err() == nil {
			subErr <- err
			c.Fail(fmt.Errorf("subscribe: %w", err))
		}
	})
	err = c.readLoop()
	reason := c.reason(err)
	cancel()
	c.wg.Wait()
	ws.Close()
	_ = c.Record(md.RawDisconnect, md.DirLocal, []byte("reason="+reason), nil, time.Now().UnixNano())
	e.m.Disconnects.WithLabelValues(e.cfg.Venue, reason).Inc()
	e.session.OnClose(c, err)
	select {
	case se := <-subErr:
		return se
	default:
	}
	return err
}

func (c *Conn) reason(err error) string {
	if f := c.failure.Load(); f != nil {
		if errors.Is(*f, errRawFull) {
			return "raw_full"
		}
		return "session"
	}
	var ce *websocket.CloseError
	var ne interface{ Timeout() bool }
	switch {
	case c.e != nil && c.ctx.Err() != nil && errors.Is(err, net.ErrClosed):
		return "shutdown"
	case errors.As(err, &ce):
		return "close_" + strconv.Itoa(ce.Code)
	case errors.As(err, &ne) && ne.Timeout():
		return "stale"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "eof"
	}
	return "error"
}

func (c *Conn) readLoop() error {
	var buf []byte
	bytesIn := c.e.m.Bytes.WithLabelValues(c.e.cfg.Venue)
	var deadlineSet time.Time
	for {
		// The read deadline moves at most once a second: a silent connection is still dropped
		// within ReadTimeout (+1s), without a timer update per frame.
		if now := time.Now(); now.Sub(deadlineSet) >= time.Second {
			_ = c.ws.SetReadDeadline(now.Add(c.e.cfg.ReadTimeout))
			deadlineSet = now
		}
		_, r, err := c.ws.NextReader()
		if err != nil {
			if f := c.failure.Load(); f != nil {
				return *f
			}
			return err
		}
		buf, err = readAllInto(buf[:0], r)
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		if err := c.Record(md.RawFrame, md.DirIn, nil, buf, now); err != nil {
			return err
		}
		bytesIn.Add(float64(len(buf)))
		c.e.session.OnFrame(c, buf, now)
		if f := c.failure.Load(); f != nil {
			return *f
		}
	}
}

func readAllInto(dst []byte, r io.Reader) ([]byte, error) {
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

// Conn is one connection of a slot, during one epoch. Its methods are safe for concurrent
// use.
type Conn struct {
	Slot  Slot
	Epoch uint64

	e      *Engine
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex // orders records: seq assignment and queueing happen together
	seq uint64
	rec md.RawRecord // reused by Record (under mu): the writer encodes it before returning

	framesIn prometheus.Counter // frames received, labelled once
	acks     atomic.Uint64
	onAck    func(error)

	wmu       sync.Mutex // serializes writes to the socket
	lastSend  time.Time
	sendEvery time.Duration

	failure atomic.Pointer[error]
}

func (c *Conn) ack(err error) {
	if err != nil {
		c.Fail(fmt.Errorf("raw record not stored: %w", err))
		return
	}
	c.acks.Add(1)
}

// Context is cancelled when the connection ends.
func (c *Conn) Context() context.Context { return c.ctx }

// Venue returns the venue name.
func (c *Conn) Venue() string { return c.e.cfg.Venue }

// Seq returns the sequence number of the last record written.
func (c *Conn) Seq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// AckedSeq returns the highest sequence number known durable in Kafka: records of one
// connection go to one partition and are acknowledged in order.
func (c *Conn) AckedSeq() uint64 { return c.acks.Load() }

// Record writes one raw record of this connection with the next sequence number. It never
// blocks on Kafka; if the record cannot be queued the connection is failed (a new epoch
// then marks the gap) and the error returned.
func (c *Conn) Record(typ md.RawType, dir md.Direction, meta, frame []byte, recvTime int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec = md.RawRecord{Type: typ, Dir: dir, Venue: c.e.cfg.Venue, Conn: c.Slot.Name, Epoch: c.Epoch,
		Seq: c.seq + 1, RecvTime: recvTime, Meta: meta, Frame: frame}
	err := c.e.writer.Write(&c.rec, c.onAck)
	c.rec.Meta, c.rec.Frame = nil, nil // do not keep the caller's buffers alive
	if err != nil {
		c.e.m.RawDrops.WithLabelValues(c.e.cfg.Venue).Inc()
		c.Fail(fmt.Errorf("%w: %v", errRawFull, err))
		return errRawFull
	}
	c.seq++
	if typ == md.RawFrame {
		if dir == md.DirIn {
			c.framesIn.Inc()
		} else {
			c.e.m.Frames.WithLabelValues(c.e.cfg.Venue, dirLabel(dir)).Inc()
		}
	}
	return nil
}

func dirLabel(d md.Direction) string {
	if d == md.DirOut {
		return "out"
	}
	return "in"
}

// Send records an outbound frame and writes it, paced to the venue's inbound limit.
func (c *Conn) Send(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if wait := c.sendEvery - time.Since(c.lastSend); wait > 0 {
		if !sleep(c.ctx, wait) {
			return c.ctx.Err()
		}
	}
	if err := c.Record(md.RawFrame, md.DirOut, nil, frame, time.Now().UnixNano()); err != nil {
		return err
	}
	c.lastSend = time.Now()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		return fmt.Errorf("%s: send: %w", c.e.cfg.Venue, err)
	}
	return nil
}

// REST performs a GET under the venue budget and records the response (any status) in this
// connection's raw stream with meta "<status> <pathQuery>".
func (c *Conn) REST(ctx context.Context, pathQuery string, weight int) (*Response, error) {
	resp, err := c.e.rest.Get(ctx, pathQuery, weight)
	if resp != nil {
		if rerr := c.RecordREST(resp); rerr != nil {
			return resp, rerr
		}
	}
	return resp, err
}

// GetUnrecorded performs a GET under the venue budget without recording it yet: the
// session must call RecordREST with the response (used when state must be persisted before
// the response enters raw).
func (c *Conn) GetUnrecorded(ctx context.Context, pathQuery string, weight int) (*Response, error) {
	return c.e.rest.Get(ctx, pathQuery, weight)
}

// RecordREST records a REST response in this connection's raw stream.
func (c *Conn) RecordREST(resp *Response) error {
	meta := strconv.Itoa(resp.Status) + " " + resp.PathQuery
	return c.Record(md.RawREST, md.DirIn, []byte(meta), resp.Body, resp.RecvTime)
}

// Go runs f on a goroutine bound to the connection: ctx is cancelled when the connection
// ends, and the connection waits for f before it is closed.
func (c *Conn) Go(f func(ctx context.Context)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f(c.ctx)
	}()
}

// Fail ends the connection with err (the engine reconnects).
func (c *Conn) Fail(err error) {
	c.failure.CompareAndSwap(nil, &err)
	c.cancel()
}

// Metrics returns the collector metrics.
func (c *Conn) Metrics() *Metrics { return c.e.m }

// Log returns the connection's logger.
func (c *Conn) Log() *slog.Logger { return c.e.log.With("slot", c.Slot.Name, "epoch", c.Epoch) }
