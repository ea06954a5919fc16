package stream

import (
	"sync"
	"sync/atomic"
)

// msgKind labels a queued frame for metrics.
type msgKind uint8

const (
	msgTrade msgKind = iota
	msgIntegrity
	msgControl // welcome, replies and errors
	msgBookSnapshot
	msgBookDelta
	msgBookStatus
	msgBBO
	numMsgKinds
)

var msgKindNames = [numMsgKinds]string{"trade", "integrity", "control", "book_snapshot", "book_delta",
	"book_status", "bbo"}

// message is one encoded frame, shared read-only by every client queue that holds it.
// It is reference counted so its buffer returns to a pool when the last writer is done:
// the publisher holds one reference while it fans out, each queue one more. buf must not
// be modified once the message has been enqueued anywhere.
type message struct {
	buf  []byte
	refs atomic.Int32
	kind msgKind
	pub  int64 // publish time, ns since Gateway start (monotonic); 0 for control frames and snapshots
	// cls is the book stream (book, depth option) a book frame belongs to, so a client's
	// backlog of one stream can be found and dropped; nil for other frames.
	cls *bookClass
}

// maxPooledMessage keeps unusually large buffers out of the pool.
const maxPooledMessage = 16 << 10

var messagePool = sync.Pool{New: func() any { return &message{buf: make([]byte, 0, 512)} }}

// newMessage returns an empty message holding one reference (the caller's).
func newMessage(kind msgKind) *message {
	m := messagePool.Get().(*message)
	m.buf = m.buf[:0]
	m.kind = kind
	m.pub = 0
	m.cls = nil
	m.refs.Store(1)
	return m
}

// retain adds a reference. Call it before handing the message to another owner.
func (m *message) retain() { m.refs.Add(1) }

// release drops a reference; the last one returns the message to the pool.
func (m *message) release() {
	switch n := m.refs.Add(-1); {
	case n == 0:
		m.cls = nil
		if cap(m.buf) <= maxPooledMessage {
			messagePool.Put(m)
		}
	case n < 0:
		panic("stream: message released more often than retained")
	}
}
