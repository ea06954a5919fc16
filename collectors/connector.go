package collectors

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/md"
)

// Connector is one venue's plugin: both halves of its protocol.
type Connector interface {
	// Name is the venue name used in topics, keys and symbols ("binance").
	Name() string
	// NewSession returns the collector half. It does no I/O.
	NewSession(env SessionEnv) (Session, error)
	// NewParser returns a fresh normalizer half.
	NewParser() Parser
	// ParserVersion is stored with every event; bump it when parsing output changes.
	ParserVersion() uint16
}

// SessionEnv is what the engine gives a Session.
type SessionEnv struct {
	// WSURL and RESTURL are the venue's base URLs (overridden to the simulator in demos).
	WSURL   string
	RESTURL string
	// Symbols limits the native symbols collected (empty = all the venue lists).
	Symbols []string
	// StateDir is a directory the session may keep small state files in.
	StateDir string
	Log      *slog.Logger
	Metrics  *Metrics
	// Options are venue-specific settings (key=value from config).
	Options map[string]string
}

// Slot is one connection the engine keeps open: its name is stable across reconnects and
// keys the raw topic (ADR 0002).
type Slot struct {
	Name string
	URL  string
	// Symbols are the native symbols this connection carries (for markers and disconnect
	// windows).
	Symbols []string
}

// Session is the collector half of a connector. The engine calls Slots once, then for every
// connection of a slot: Subscribe once, then OnFrame for every inbound data frame (already
// recorded to raw), then OnClose.
type Session interface {
	// Slots plans the connections. It may use rest (e.g. to list instruments).
	Slots(ctx context.Context, rest *REST) ([]Slot, error)
	// Subscribe sends the subscription frames on a new connection with c.Send, after the
	// engine recorded the connect marker. It may record REST responses with c.REST.
	Subscribe(ctx context.Context, c *Conn) error
	// OnFrame inspects an inbound frame for wire continuity. frame is borrowed: do not
	// retain it. It runs on the read loop and must not block: start slow work with c.Go.
	OnFrame(c *Conn, frame []byte, recvTime int64)
	// OnClose is called when the connection ended.
	OnClose(c *Conn, err error)
}

// SnapshotRequester is a Session that takes book snapshot requests from the normalizer
// (the control topic, ADR 0006): symbol is the unified symbol; epoch and seq locate the raw
// record that prompted the request. It reports false for stale requests (an epoch no longer
// current, or a snapshot recorded after seq) and unknown symbols. It must not block.
type SnapshotRequester interface {
	RequestSnapshot(symbol string, epoch, seq uint64) bool
}

// Parser is the normalizer half of a connector. Not goroutine-safe: one per normalizer.
type Parser interface {
	// Parse turns one raw record into unified events appended to out. Provenance Epoch and
	// Seq come from rec, Index is the event's index in the record. An error means the record
	// is malformed (it goes to the dead-letter topic with the error text); events appended
	// before the error are discarded by the caller.
	Parse(rec *md.RawRecord, out *Output) error
	// Instrument returns the instrument of a native symbol, or nil if unknown.
	Instrument(native string) *md.Instrument
}

// StatefulParser is a Parser whose state must survive normalizer restarts: it is written to
// normalizer checkpoints.
type StatefulParser interface {
	Parser
	MarshalState() ([]byte, error)
	UnmarshalState([]byte) error
}

// Output collects the events a Parser produced from one record. Reset keeps capacity.
type Output struct {
	Trades      []md.Trade
	Instruments []md.Instrument
	BBOs        []md.BBO
	// Books are venue book messages (snapshots and deltas) for the normalizer's book
	// builder; use NextBook to add one so level buffers are reused.
	Books []BookMsg
}

// Reset empties the output, keeping its buffers.
func (o *Output) Reset() {
	o.Trades = o.Trades[:0]
	o.Instruments = o.Instruments[:0]
	o.BBOs = o.BBOs[:0]
	o.Books = o.Books[:0]
}

// NextBook appends an empty BookMsg, reusing the level buffers of an earlier one, and
// returns it.
func (o *Output) NextBook() *BookMsg {
	if len(o.Books) < cap(o.Books) {
		o.Books = o.Books[:len(o.Books)+1]
		b := &o.Books[len(o.Books)-1]
		bids, asks := b.Bids[:0], b.Asks[:0]
		*b = BookMsg{Bids: bids, Asks: asks}
		return b
	}
	o.Books = append(o.Books, BookMsg{})
	return &o.Books[len(o.Books)-1]
}

// BookMsg is one venue book message as parsed: a snapshot (REST or in-band) or a delta with
// the venue's update ids. The normalizer's book builder applies them under the venue's
// continuity rule (BookParser.ContinueBook).
type BookMsg struct {
	md.Header
	Snapshot bool
	// FirstID and LastID are the venue update ids the message covers (Binance U and u; a
	// snapshot's lastUpdateId in both). PrevID is the venue's previous id where it sends
	// one (Binance USD-M pu, OKX prevSeqId).
	FirstID, LastID, PrevID uint64
	// Depth is the number of levels per side a snapshot holds (its requested limit).
	Depth uint32
	// Bids and Asks hold absolute quantities; 0 deletes a level.
	Bids, Asks []md.Level
}

// BookVerdict is what to do with a delta given the book's last applied id.
type BookVerdict uint8

// Book verdicts.
const (
	BookApply BookVerdict = iota // the delta continues the book
	BookSkip                     // the delta is older than the book: ignore it
	BookGap                      // a delta is missing: the book must be resynced
)

// BookParser is a Parser that emits BookMsgs; it states the venue's continuity rule.
type BookParser interface {
	Parser
	// ContinueBook decides about delta m for a book whose last applied venue id is last
	// (after a snapshot: the snapshot's id; bridging is part of the rule).
	ContinueBook(last uint64, m *BookMsg) BookVerdict
}

// Metrics are the collector metrics shared by the engine and sessions.
type Metrics struct {
	Frames      *prometheus.CounterVec
	Bytes       *prometheus.CounterVec
	Connects    *prometheus.CounterVec
	Disconnects *prometheus.CounterVec
	RawDrops    *prometheus.CounterVec
	REST        *prometheus.CounterVec
	RESTWeight  *prometheus.GaugeVec
	Backfilled  *prometheus.CounterVec
	Gaps        *prometheus.CounterVec
}

// NewMetrics creates and registers the collector metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Frames: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_collector_frames_total",
			Help: "Raw frames recorded."}, []string{"venue", "dir"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_collector_bytes_total",
			Help: "Inbound frame bytes recorded."}, []string{"venue"}),
		Connects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_collector_connects_total",
			Help: "Connections established."}, []string{"venue"}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_collector_disconnects_total",
			Help: "Connections ended, by reason."}, []string{"venue", "reason"}),
		RawDrops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_collector_raw_drops_total",
			Help: "Raw records not written because the producer was full (the connection is then reset)."}, []string{"venue"}),
		REST: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_collector_rest_requests_total",
			Help: "REST requests by HTTP status."}, []string{"venue", "status"}),
		RESTWeight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tickflow_collector_rest_weight_used",
			Help: "REST weight used in the current minute as reported by the venue."}, []string{"venue"}),
		Backfilled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_collector_backfilled_total",
			Help: "Items fetched by backfills."}, []string{"venue"}),
		Gaps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_collector_gaps_total",
			Help: "Wire gaps seen by sessions."}, []string{"venue", "kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.Frames, m.Bytes, m.Connects, m.Disconnects, m.RawDrops, m.REST, m.RESTWeight, m.Backfilled, m.Gaps)
	}
	return m
}
