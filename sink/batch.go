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
	// Books holds book updates (snapshots and deltas). The Runner's decoder stores their
	// levels in one arena owned by the Batch, so Bids and Asks of a decoded update alias
	// memory that Reset recycles; a store must copy what it keeps (it keeps nothing: see
	// [Store]). Batches built by hand may point Bids and Asks anywhere.
	Books []md.BookUpdate
	// BookStatus holds book-status events (the resync markers of each book).
	BookStatus []md.BookStatus
	// BBOs holds best bid/offer events.
	BBOs []md.BBO
	// Funding, OpenInterest and Liquidations hold derivatives events (decoded only for a
	// store that declares those kinds through [KindStore]).
	Funding      []md.Funding
	OpenInterest []md.OpenInterest
	Liquidations []md.Liquidation
	// Offsets holds, per topic-partition consumed in this batch, the next offset to read
	// (last offset + 1). Messages that failed to decode advance it too.
	Offsets []transport.Offset

	levels  []md.Level    // arena of the decoded books' levels
	scratch md.BookUpdate // decoding buffer of one book update
}

// maxArenaLevels bounds the level arena kept across Reset (32 MiB of md.Level): a batch
// holding more levels than that (a burst of full-depth snapshots) releases the arena, so
// one such batch does not pin its memory for the life of the process.
const maxArenaLevels = 1 << 20

// Reset empties the batch, keeping capacity (level storage included, up to a bound).
func (b *Batch) Reset() {
	b.Trades = b.Trades[:0]
	b.Integrity = b.Integrity[:0]
	b.Books = b.Books[:0]
	b.BookStatus = b.BookStatus[:0]
	b.BBOs = b.BBOs[:0]
	b.Funding = b.Funding[:0]
	b.OpenInterest = b.OpenInterest[:0]
	b.Liquidations = b.Liquidations[:0]
	b.Offsets = b.Offsets[:0]
	if cap(b.levels) > maxArenaLevels {
		b.levels = nil
	}
	b.levels = b.levels[:0]
	if cap(b.scratch.Bids) > maxArenaLevels || cap(b.scratch.Asks) > maxArenaLevels {
		b.scratch = md.BookUpdate{}
	}
}

// Len returns the number of events in the batch.
func (b *Batch) Len() int {
	return len(b.Trades) + len(b.Integrity) + len(b.Books) + len(b.BookStatus) + len(b.BBOs) +
		len(b.Funding) + len(b.OpenInterest) + len(b.Liquidations)
}

// Levels returns the number of book levels (bids and asks) in the batch's book updates.
func (b *Batch) Levels() int {
	n := 0
	for i := range b.Books {
		n += len(b.Books[i].Bids) + len(b.Books[i].Asks)
	}
	return n
}

// addBook appends a copy of u to Books, its levels copied into the batch's arena. It does
// not allocate once the arena and Books have grown to the batch's needs.
func (b *Batch) addBook(u *md.BookUpdate) {
	start := len(b.levels)
	b.levels = append(b.levels, u.Bids...)
	b.levels = append(b.levels, u.Asks...)
	mid, end := start+len(u.Bids), len(b.levels)
	b.Books = append(b.Books, *u)
	c := &b.Books[len(b.Books)-1]
	// Three-index slices: an append to one side can never overwrite the other or the next
	// update's levels. When the arena grew during this batch, earlier updates keep pointing
	// into the old array, which stays valid (and unchanged) until Reset.
	c.Bids = b.levels[start:mid:mid]
	c.Asks = b.levels[mid:end:end]
}

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
	Trades     int
	Integrity  int
	Books      int // book updates (messages, not levels)
	BookStatus int
	BBOs       int
	// Funding, OpenInterest and Liquidations count derivatives events.
	Funding      int
	OpenInterest int
	Liquidations int
}

// Total returns the sum over kinds.
func (c KindCounts) Total() int {
	return c.Trades + c.Integrity + c.Books + c.BookStatus + c.BBOs + c.Funding +
		c.OpenInterest + c.Liquidations
}

// Add returns the per-kind sum of c and o.
func (c KindCounts) Add(o KindCounts) KindCounts {
	return KindCounts{Trades: c.Trades + o.Trades, Integrity: c.Integrity + o.Integrity,
		Books: c.Books + o.Books, BookStatus: c.BookStatus + o.BookStatus, BBOs: c.BBOs + o.BBOs,
		Funding: c.Funding + o.Funding, OpenInterest: c.OpenInterest + o.OpenInterest,
		Liquidations: c.Liquidations + o.Liquidations}
}

// WriteResult reports what one [Store.Write] did.
type WriteResult struct {
	// Written counts the events stored.
	Written KindCounts
	// Duplicates counts the events skipped because their provenance was at or below the
	// watermark of their key (stored, or reached earlier in the same batch).
	Duplicates KindCounts
	// Levels counts the book levels stored with the written book updates (0 for stores
	// that do not store books).
	Levels int
}
