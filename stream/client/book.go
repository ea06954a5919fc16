package client

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tickflow/tickflow/md"
)

// ErrBookGap is wrapped by Book.Apply's error when a delta does not follow the book: the
// client missed book messages. The book is invalid until the next snapshot; get one by
// unsubscribing and subscribing again the subscription that covers the channel (or by
// reconnecting). The gateway never skips book messages within a connection (a slow client
// gets a fresh snapshot instead), so this means a bug or a broken connection.
var ErrBookGap = errors.New("client: book gap")

// Book is a local copy of one book channel ("book:binance:BTC-USDT@20"), kept from the
// channel's messages: feed every message from Next to Apply. Messages of other channels
// are ignored, so one Book can watch a stream carrying many channels; for wildcard
// subscriptions keep one Book per concrete channel (Message.Channel).
//
// A snapshot replaces the book and makes it valid; a delta applies when its PrevSeq is at
// most the book's Seq and its Seq beyond it (book channels filter deltas that change
// nothing within their depth, so PrevSeq names the last message the channel sent, not
// always Seq-1); a delta with a larger PrevSeq is a gap (ErrBookGap). An invalid
// book_status, a gap or a reconnect makes the book invalid until the next snapshot; while
// invalid, Bids and Asks keep the last known levels but must not be trusted.
//
// A Book is not safe for concurrent use.
type Book struct {
	channel    string
	depth      int
	seq        uint64
	valid      bool
	reason     string
	bids, asks []md.Level // best first
	knownDepth uint32
}

// NewBook returns an empty, invalid Book of channel (as Message.Channel names it).
func NewBook(channel string) *Book {
	return &Book{channel: channel, reason: "no_snapshot"}
}

// Channel returns the book's channel.
func (b *Book) Channel() string { return b.channel }

// Valid reports whether the book is in sync: it has had a snapshot and every delta since,
// and the gateway has not reported it invalid.
func (b *Book) Valid() bool { return b.valid }

// Reason says why the book is not valid: a BookStatus reason, "gap", "reconnected" or
// "no_snapshot"; "" when valid.
func (b *Book) Reason() string { return b.reason }

// Seq returns the book sequence of the last snapshot or delta applied.
func (b *Book) Seq() uint64 { return b.seq }

// Depth returns the number of levels per side the channel carries (from its snapshot).
func (b *Book) Depth() int { return b.depth }

// KnownDepth returns the number of levels per side known right upstream (0 = all).
func (b *Book) KnownDepth() uint32 { return b.knownDepth }

// Bids returns the bids, best (highest) first. The slice is the Book's: valid until the
// next Apply, not to be modified.
func (b *Book) Bids() []md.Level { return b.bids }

// Asks returns the asks, best (lowest) first; like Bids.
func (b *Book) Asks() []md.Level { return b.asks }

// Apply updates the book from m and reports a gap (an error wrapping ErrBookGap). Messages
// of other channels and of other types are ignored, except TypeReconnected, which makes
// the book invalid until the snapshot the restored subscription brings.
func (b *Book) Apply(m *Message) error {
	if m.Type == TypeReconnected {
		b.invalidate("reconnected")
		return nil
	}
	if m.Channel != b.channel {
		return nil
	}
	switch m.Type {
	case TypeBookSnapshot:
		b.bids = setLevels(b.bids[:0], m.Book.Bids, true)
		b.asks = setLevels(b.asks[:0], m.Book.Asks, false)
		b.depth, b.seq, b.knownDepth = m.BookDepth, m.Book.Seq, m.Book.Depth
		b.valid, b.reason = true, ""
		b.truncate()
	case TypeBookDelta:
		if !b.valid {
			return nil // waiting for a snapshot
		}
		u := &m.Book
		if u.Seq <= b.seq {
			return nil // already applied
		}
		if u.PrevSeq > b.seq {
			b.invalidate("gap")
			return fmt.Errorf("%w on %s: delta %d follows %d, the book is at %d", ErrBookGap, b.channel, u.Seq, u.PrevSeq, b.seq)
		}
		for _, l := range u.Bids {
			b.bids = setLevel(b.bids, l, true)
		}
		for _, l := range u.Asks {
			b.asks = setLevel(b.asks, l, false)
		}
		b.seq = u.Seq
		b.truncate()
	case TypeBookStatus:
		if m.BookStatus.State == md.BookInvalid {
			b.invalidate(m.BookStatus.Reason)
		}
	}
	return nil
}

func (b *Book) invalidate(reason string) {
	if reason == "" {
		reason = "unspecified"
	}
	b.valid, b.reason = false, reason
}

// truncate keeps at most depth levels per side.
func (b *Book) truncate() {
	if b.depth > 0 {
		b.bids = b.bids[:min(len(b.bids), b.depth)]
		b.asks = b.asks[:min(len(b.asks), b.depth)]
	}
}

// setLevels loads a snapshot side (best first, but sorted anyway).
func setLevels(dst, ls []md.Level, bid bool) []md.Level {
	for _, l := range ls {
		dst = setLevel(dst, l, bid)
	}
	return dst
}

// setLevel sets one level of a side kept best first; quantity zero deletes it.
func setLevel(side []md.Level, l md.Level, bid bool) []md.Level {
	i, found := slices.BinarySearchFunc(side, l.Price, func(e md.Level, p md.Decimal) int {
		c := e.Price.Cmp(p)
		if bid {
			return -c
		}
		return c
	})
	switch {
	case l.Qty.IsZero():
		if found {
			side = slices.Delete(side, i, i+1)
		}
	case found:
		side[i] = l
	default:
		side = slices.Insert(side, i, l)
	}
	return side
}
