package stream

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// bufConn is the hijacked net.Conn under a WebSocket connection. Between beginBatch and
// endBatch it gathers the frames the websocket library writes into one buffer, so a
// writer that drains many queued messages makes one write system call per batch instead
// of one per frame. Outside a batch (handshake, pings, pongs, close frames) writes go
// straight through. Safe for concurrent use: the websocket library may write a control
// frame from the reader goroutine while the writer goroutine batches; the frame then joins
// the batch, whole (the library serializes frames).
type bufConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	buf      *[]byte
}

// batchFlushBytes is the most a batch buffers before it writes through.
const batchFlushBytes = 32 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, batchFlushBytes+4096); return &b }}

// Write buffers p during a batch and writes it through otherwise.
func (b *bufConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.Conn.Write(p)
	}
	*b.buf = append(*b.buf, p...)
	if len(*b.buf) >= batchFlushBytes {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// SetWriteDeadline is ignored during a batch (the batch has its own deadline, set by
// beginBatch; the library sets one per frame).
func (b *bufConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		return nil
	}
	return b.Conn.SetWriteDeadline(t)
}

// beginBatch starts buffering writes; every write of the batch must finish by deadline.
func (b *bufConn) beginBatch(deadline time.Time) {
	b.mu.Lock()
	b.batching = true
	b.buf = batchPool.Get().(*[]byte)
	b.Conn.SetWriteDeadline(deadline) //nolint:errcheck // a failed write reports it
	b.mu.Unlock()
}

// endBatch writes what the batch buffered and returns to write-through mode.
func (b *bufConn) endBatch() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.batching = false
	*b.buf = (*b.buf)[:0]
	batchPool.Put(b.buf)
	b.buf = nil
	return err
}

func (b *bufConn) flushLocked() error {
	if len(*b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(*b.buf)
	*b.buf = (*b.buf)[:0]
	return err
}

// hijackWriter hands the websocket upgrader a bufConn instead of the raw connection.
type hijackWriter struct {
	http.ResponseWriter
	conn *bufConn
}

// Hijack implements http.Hijacker.
func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &bufConn{Conn: nc}
	return h.conn, brw, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (h *hijackWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }
