package normalizer

import (
	"context"
	"log/slog"
	"time"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// OfflineConfig configures an [Offline] normalizer.
type OfflineConfig struct {
	// ParserVersion is stored with every event; 0 means the connector's ParserVersion.
	// Re-normalization sets a newer one so its rows supersede the old (ADR 0007).
	ParserVersion uint16
	// BookSnapshotEvery is Config.BookSnapshotEvery (default 30s; negative disables).
	BookSnapshotEvery time.Duration
	// Emit receives every unified event, wire-encoded (md.Append*), in emission order.
	// value is borrowed: it is reused after Emit returns. An error stops Process.
	Emit func(kind md.Kind, value []byte) error
	// Reject receives every record the live normalizer would dead-letter, with the error
	// and its low-cardinality reason (quoted values and numbers replaced by "_"). rec is
	// borrowed.
	Reject func(rec *md.RawRecord, reason string, err error)
	// Metrics receives the normalizer metrics (gaps, crossed books, stale snapshots, book
	// refreshes ...); nil means an unregistered set.
	Metrics *Metrics
	// Log receives the normalizer's (throttled) logs; nil means discard.
	Log *slog.Logger
}

// Offline runs a venue's normalization — the same parser dispatch, trade dedup, disconnect
// windows and book builder as [Normalizer.Run] — on raw records handed to it directly,
// without Kafka, checkpoints or resync requests. `tickflow import` and `tickflow
// renormalize` use it. It starts from empty state: feed it a venue's raw history from the
// start of a capture (instruments come from the exchangeInfo records in it).
//
// Not goroutine-safe: one goroutine calls Process.
type Offline struct {
	n   *Normalizer
	msg transport.Message
}

// NewOffline returns an offline normalizer for conn. It does no I/O.
func NewOffline(conn collectors.Connector, cfg OfflineConfig) *Offline {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := New(Config{BookSnapshotEvery: cfg.BookSnapshotEvery}, conn, nil, cfg.Metrics, log)
	if cfg.ParserVersion != 0 {
		n.version = cfg.ParserVersion
	}
	emit := cfg.Emit
	n.publish = func(_ string, kind md.Kind, val []byte) error {
		if emit == nil {
			return nil
		}
		return emit(kind, val)
	}
	reject := cfg.Reject
	n.reject = func(rec *md.RawRecord, err error) {
		if reject != nil {
			reject(rec, reasonKind(err), err)
		}
	}
	return &Offline{n: n}
}

// ParserVersion returns the parser version stored with the events.
func (o *Offline) ParserVersion() uint16 { return o.n.version }

// Process normalizes one raw record (rec is borrowed). Records must come in the order the
// collector wrote them per connection slot. It returns an error only when Emit failed;
// malformed records go to Reject.
func (o *Offline) Process(ctx context.Context, rec *md.RawRecord) error {
	o.msg.Value = md.AppendRaw(o.msg.Value[:0], rec)
	o.n.now = time.Now().UnixNano()
	return o.n.process(ctx, &o.msg)
}

// Counts returns the events emitted so far per kind name ("trade", "book", ...).
func (o *Offline) Counts() map[string]uint64 { return o.n.st.Counts }
