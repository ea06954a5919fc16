package collectors

import (
	"sync"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// RawWriter writes raw records. Write must not block: it returns an error when the record
// cannot be queued. onAck runs once the record is durable (err == nil) or finally failed.
type RawWriter interface {
	Write(rec *md.RawRecord, onAck func(error)) error
}

// KafkaRawWriter writes raw records to tickflow.raw.<venue>, keyed by venue/slot.
type KafkaRawWriter struct {
	P    *transport.Producer
	pool sync.Pool
}

type rawBuf struct {
	key, val []byte
	onAck    func(error)
	w        *KafkaRawWriter
	done     transport.DoneFunc
}

// Write encodes rec and queues it without blocking (transport.ErrFull when full).
func (w *KafkaRawWriter) Write(rec *md.RawRecord, onAck func(error)) error {
	b, _ := w.pool.Get().(*rawBuf)
	if b == nil {
		b = &rawBuf{w: w}
		b.done = b.complete
	}
	b.key = rec.Key(b.key[:0])
	b.val = md.AppendRaw(b.val[:0], rec)
	b.onAck = onAck
	if err := w.P.TryProduce(transport.RawTopic(rec.Venue), b.key, b.val, b.done); err != nil {
		b.onAck = nil
		w.pool.Put(b)
		return err
	}
	return nil
}

func (b *rawBuf) complete(err error) {
	if b.onAck != nil {
		b.onAck(err)
	}
	b.onAck = nil
	if cap(b.val) <= 1<<20 { // do not pool multi-MB snapshot buffers
		b.w.pool.Put(b)
	}
}
