package sink

import (
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// Batch is the decoded events of one write, grouped by kind, and the next Kafka offsets per
// topic-partition once the batch is stored. Events of one [Key] appear in increasing
// provenance order (the order the normalizer emitted them). A Batch is reusable: Reset keeps
// the capacity of its slices. Not goroutine-safe.
type Batch struct {
	Trades    []md.Trade
	Integrity []md.Integrity
	// Offsets holds, per topic-partition consumed in this batch, the next offset to read
	// (last offset + 1). Messages that failed to decode advance it too.
	Offsets []transport.Offset
}

// Reset empties the batch, keeping capacity.
func (b *Batch) Reset() {
	b.Trades = b.Trades[:0]
	b.Integrity = b.Integrity[:0]
	b.Offsets = b.Offsets[:0]
}

// Len returns the number of events in the batch.
func (b *Batch) Len() int { return len(b.Trades) + len(b.Integrity) }

// Advance records that the message at offset of topic/partition is part of the batch: the
// partition's next offset becomes offset+1 unless it is already further.
func (b *Batch) Advance(topic string, partition int, offset int64) {
	next := offset + 1
	for i := len(b.Offsets) - 1; i >= 0; i-- {
		o := &b.Offsets[i]
		if o.Partition == partition && o.Topic == topic {
			if next > o.Next {
				o.Next = next
			}
			return
		}
	}
	b.Offsets = append(b.Offsets, transport.Offset{Topic: topic, Partition: partition, Next: next})
}

// KindCounts counts events per kind.
type KindCounts struct {
	Trades    int
	Integrity int
}

// Total returns the sum over kinds.
func (c KindCounts) Total() int { return c.Trades + c.Integrity }

// Add returns the per-kind sum of c and o.
func (c KindCounts) Add(o KindCounts) KindCounts {
	return KindCounts{Trades: c.Trades + o.Trades, Integrity: c.Integrity + o.Integrity}
}

// WriteResult reports what one [Store.Write] did.
type WriteResult struct {
	// Written counts the events stored.
	Written KindCounts
	// Duplicates counts the events skipped because their provenance was at or below the
	// watermark of their key (stored, or reached earlier in the same batch).
	Duplicates KindCounts
}
