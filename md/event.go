package md

import (
	"errors"
	"strconv"
)

// Kind names a unified event type. Values are part of wire codec v1: never renumber.
type Kind uint8

// Event kinds.
const (
	KindTrade        Kind = 1
	KindBookUpdate   Kind = 2
	KindBBO          Kind = 3
	KindCandle       Kind = 4
	KindFunding      Kind = 5
	KindOpenInterest Kind = 6
	KindLiquidation  Kind = 7
	KindBookStatus   Kind = 8
	KindIntegrity    Kind = 9
)

var kindNames = [...]string{"", "trade", "book", "bbo", "candle", "funding", "open_interest",
	"liquidation", "book_status", "integrity"}

// String returns the lower-case name used in topics, tables and channels ("trade").
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Side is the aggressor (taker) side of a trade.
type Side uint8

// Sides.
const (
	SideUnknown Side = 0
	SideBuy     Side = 1
	SideSell    Side = 2
)

// String returns "buy", "sell" or "unknown".
func (s Side) String() string {
	switch s {
	case SideBuy:
		return "buy"
	case SideSell:
		return "sell"
	}
	return "unknown"
}

// Source says how an event was captured.
type Source uint8

// Sources.
const (
	SourceLive     Source = 0 // from the live stream
	SourceBackfill Source = 1 // recovered over REST after a gap or reconnect
	SourceReimport Source = 2 // loaded by tickflow import
)

// String returns "live", "backfill" or "reimport".
func (s Source) String() string {
	switch s {
	case SourceBackfill:
		return "backfill"
	case SourceReimport:
		return "reimport"
	}
	return "live"
}

// Provenance locates the raw record an event came from: the connection epoch, the record's
// sequence within it, and the event's index inside the record. It totally orders one
// instrument's events (ADR 0003, 0007).
type Provenance struct {
	Epoch uint64
	Seq   uint64
	Index uint32
}

// Compare returns -1, 0 or +1 as p is before, equal to or after o.
func (p Provenance) Compare(o Provenance) int {
	switch {
	case p.Epoch != o.Epoch:
		return cmpU(p.Epoch, o.Epoch)
	case p.Seq != o.Seq:
		return cmpU(p.Seq, o.Seq)
	case p.Index != o.Index:
		return cmpU(uint64(p.Index), uint64(o.Index))
	}
	return 0
}

// IsZero reports whether p is the zero provenance (before every event).
func (p Provenance) IsZero() bool { return p == Provenance{} }

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// Header is carried by every unified event. Times are Unix nanoseconds.
type Header struct {
	Venue  string // "binance"
	Symbol string // unified symbol, "BTC-USDT"
	// ExchTime is the venue's event time: match time for trades (Binance T). 0 if unknown.
	ExchTime int64
	// SendTime is the venue's send time where it differs (Binance E). 0 if unknown.
	SendTime int64
	// RecvTime is when the host received the raw frame. Never 0.
	RecvTime int64
	// ClockOffset is the host clock's estimated offset from true time (host - true), 0 if
	// unknown. Receive time may precede exchange time on a skewed host: never reject on it.
	ClockOffset   int64
	Prov          Provenance
	Source        Source
	ParserVersion uint16
}

// MaxIDText is the longest text trade id (a UUID is 36 bytes).
const MaxIDText = 40

// ErrIDTooLong is returned for text ids longer than MaxIDText.
var ErrIDTooLong = errors.New("md: trade id longer than 40 bytes")

// TradeID is a venue trade id: numeric when the venue's id is a decimal integer, else text.
// It is a fixed-size value so events copy without allocating.
type TradeID struct {
	Num  uint64
	n    uint8
	text [MaxIDText]byte
}

// NumericID returns a numeric trade id.
func NumericID(n uint64) TradeID { return TradeID{Num: n} }

// TextID returns a text trade id. Ids that are decimal integers should use NumericID.
func TextID(b []byte) (TradeID, error) {
	var id TradeID
	if len(b) > MaxIDText {
		return id, ErrIDTooLong
	}
	if len(b) == 0 {
		return id, errors.New("md: empty trade id")
	}
	id.n = uint8(copy(id.text[:], b))
	return id, nil
}

// IsNumeric reports whether the id is numeric.
func (id TradeID) IsNumeric() bool { return id.n == 0 }

// Text returns the bytes of a text id (nil for numeric ids). The slice aliases id.
func (id *TradeID) Text() []byte {
	if id.n == 0 {
		return nil
	}
	return id.text[:id.n]
}

// AppendText appends the id as text.
func (id TradeID) AppendText(dst []byte) []byte {
	if id.n == 0 {
		return strconv.AppendUint(dst, id.Num, 10)
	}
	return append(dst, id.text[:id.n]...)
}

// String returns the id as text.
func (id TradeID) String() string { return string(id.AppendText(nil)) }

// Trade is one execution.
type Trade struct {
	Header
	ID    TradeID
	Price Decimal
	Qty   Decimal
	Side  Side // aggressor side; Binance m=true (buyer is maker) means SideSell
}

// IntegrityType says what an integrity event reports.
type IntegrityType uint8

// Integrity event types. Values are part of wire codec v1.
const (
	// IntegrityGap: data is missing; [From, To] and, when known, ids [FirstID, LastID].
	IntegrityGap IntegrityType = 1
	// IntegrityDisconnect: the connection carrying the instrument was down during [From, To].
	IntegrityDisconnect IntegrityType = 2
	// IntegrityBackfill: ids [FirstID, LastID] (Count events) were recovered over REST.
	IntegrityBackfill IntegrityType = 3
	// IntegrityResyncStarted: the book was invalidated and a resync began at From.
	IntegrityResyncStarted IntegrityType = 4
	// IntegrityResyncDone: the book was valid again at To.
	IntegrityResyncDone IntegrityType = 5
	// IntegrityChecksumFailure: the venue checksum did not match at From.
	IntegrityChecksumFailure IntegrityType = 6
)

var integrityNames = [...]string{"", "gap", "disconnect", "backfill", "resync_started",
	"resync_done", "checksum_failure"}

// String returns the snake_case name ("gap").
func (t IntegrityType) String() string {
	if int(t) < len(integrityNames) && integrityNames[t] != "" {
		return integrityNames[t]
	}
	return "integrity(" + strconv.Itoa(int(t)) + ")"
}

// Integrity is an integrity event: a gap, disconnect, backfill, resync or checksum failure
// concerning one instrument's stream. It is stored and streamed like any other event.
type Integrity struct {
	Header
	Type    IntegrityType
	Stream  Kind  // the stream concerned: KindTrade, KindBookUpdate, ...
	From    int64 // window start, Unix ns
	To      int64 // window end, Unix ns
	FirstID uint64
	LastID  uint64
	Count   uint64
}
