package md

import "strconv"

// Level is one price level of a book. In a delta, Qty 0 deletes the level.
type Level struct {
	Price Decimal
	Qty   Decimal
}

// BookUpdate is a change to an instrument's L2 book, or (Snapshot) its full state.
//
// Seq is tickflow's own sequence: contiguous per instrument book (Seq == PrevSeq+1 for
// every message, snapshots included), because venue ids are not contiguous (Binance U..u).
// A consumer that sees a Seq other than its last+1 has missed a message. A snapshot replaces
// the book. FirstID/LastID are the venue's update ids the message covers (Binance U and u;
// a snapshot's lastUpdateId in both). Depth is the number of levels per side known to be
// right after this message: a diff-stream book is right only down to the deepest price of
// its last snapshot, so Depth shrinks as the market moves toward that price (until a
// refresh snapshot); consumers must not trust levels beyond it.
type BookUpdate struct {
	Header
	Snapshot bool
	Seq      uint64
	PrevSeq  uint64
	FirstID  uint64
	LastID   uint64
	Depth    uint32
	Bids     []Level // best first (price descending)
	Asks     []Level // best first (price ascending)
}

// BBO is the best bid and offer.
type BBO struct {
	Header
	BidPrice Decimal
	BidQty   Decimal
	AskPrice Decimal
	AskQty   Decimal
	UpdateID uint64 // venue update id (Binance bookTicker u)
}

// BookState says whether a published book can be trusted.
type BookState uint8

// Book states. Values are part of wire codec v1.
const (
	// BookValid: the book is in sync from the message with Seq on.
	BookValid BookState = 1
	// BookInvalid: the book is known wrong (gap, crossed, checksum, disconnect) and must not
	// be used until a later BookValid; a resync is under way.
	BookInvalid BookState = 2
)

// String returns "valid" or "invalid".
func (s BookState) String() string {
	switch s {
	case BookValid:
		return "valid"
	case BookInvalid:
		return "invalid"
	}
	return "bookstate(" + strconv.Itoa(int(s)) + ")"
}

// BookStatus reports a change of a book's state. It travels on the books topic with the
// updates, so its order relative to them holds.
type BookStatus struct {
	Header
	State BookState
	// Reason for BookInvalid: IntegrityGap, IntegrityDisconnect, IntegrityChecksumFailure,
	// IntegrityResyncStarted (crossed book or a requested resync). 0 for BookValid.
	Reason IntegrityType
	// Seq is the book sequence the status applies from (the last message before invalidity,
	// or the snapshot that made the book valid).
	Seq uint64
}
