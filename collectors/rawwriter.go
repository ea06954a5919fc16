package collectors

import (
	"sync"

	"github.com/tickflow/tickflow/internal/freelist"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// RawWriter writes raw records. Write must not block: it returns an error when the record
// cannot be queued. onAck runs once the record is durable (err == nil) or finally failed.
// rec and the buffers it points to are borrowed for the call only: Write encodes or copies
// what it keeps.
type RawWriter interface {
	Write(rec *md.RawRecord, onAck func(error)) error
}

// KafkaRawWriter writes raw records to tickflow.raw.<venue>, keyed by venue/slot.
type KafkaRawWriter struct {
	P *transport.Producer

	once   sync.Once
	free   freelist.List[rawBuf]
	topics sync.Map // venue -> topic name, so no name is built per record
}

// rawBufsKept bounds the record buffers kept for reuse (about 64k frames in flight).
const rawBufsKept = 1 << 16

type rawBuf struct {
	key, val []byte
	onAck    func(error)
	w        *KafkaRawWriter
	done     transport.DoneFunc
}

// Write encodes rec and queues it without blocking (transport.ErrFull when full).
func (w *KafkaRawWriter) Write(rec *md.RawRecord, onAck func(error)) error {
	w.once.Do(func() {
		w.free.Max = rawBufsKept
		w.free.New = func() *rawBuf {
			b := &rawBuf{w: w}
			b.done = b.complete
			return b
		}
	})
	b := w.free.Get()
	b.key = rec.Key(b.key[:0])
	b.val = md.AppendRaw(b.val[:0], rec)
	b.onAck = onAck
	if err := w.P.TryProduce(w.topic(rec.Venue), b.key, b.val, b.done); err != nil {
		b.onAck = nil
		w.free.Put(b)
		return err
	}
	return nil
}

func (w *KafkaRawWriter) topic(venue string) string {
	if t, ok := w.topics.Load(venue); ok {
		return t.(string)
	}
	t := transport.RawTopic(venue)
	w.topics.Store(venue, t)
	return t
}

func (b *rawBuf) complete(err error) {
	if b.onAck != nil {
		b.onAck(err)
	}
	b.onAck = nil
	if cap(b.val) <= 1<<20 { // do not pool multi-MB snapshot buffers
		b.w.free.Put(b)
	}
}
