package sink

import (
	"context"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// Store stores batches of unified events exactly once. Implementations: sink/duckdb (embedded)
// and sink/clickhouse. A Store stores at least trades and integrity events; one that stores
// more kinds says so through [KindStore].
//
// Write stores every event whose provenance is strictly above the stored watermark of its
// [Key], advances those watermarks and stores b.Offsets — atomically: after a crash at any
// moment the store holds either all of it or none of it. Events at or below the watermark,
// including a provenance repeated inside the batch, are skipped and counted as duplicates.
// b is borrowed: the store must not retain it (or anything it points to) after Write
// returns. On error nothing must have become visible that a retry of the same batch would
// store twice: the caller may retry the same batch.
//
// Offsets returns the stored next offsets to resume consumption from (nil on a fresh store).
//
// Write is called by one goroutine at a time; Offsets and Close may be called from any
// goroutine.
type Store interface {
	Write(ctx context.Context, b *Batch) (WriteResult, error)
	Offsets(ctx context.Context) ([]transport.Offset, error)
	Close() error
}

// KindStore is implemented by a [Store] that declares which event kinds its Write stores. A
// [Runner] decodes only those kinds into the [Batch]; a message of any other kind goes to
// the dead-letter hook with reason unsupported_kind, so a store that predates a kind (and
// would ignore its Batch field) never drops its events silently while their offsets are
// committed. A Store that does not implement KindStore is taken to store md.KindTrade and
// md.KindIntegrity only.
type KindStore interface {
	Store
	// StoresKind reports whether Write stores events of kind k. It must be constant for the
	// life of the store.
	StoresKind(k md.Kind) bool
}

// BatchSizer is implemented by a [Store] whose writes want other batch limits than the
// [Runner]'s defaults: ClickHouse makes parts per INSERT, so it wants fewer, larger batches.
// A Runner uses the limits for the [Config] fields left zero (explicit settings win).
type BatchSizer interface {
	Store
	// BatchLimits returns the store's defaults of Config.MaxRows, Config.MaxBytes and
	// Config.MaxDelay (a zero value: the Runner's default). It must be constant for the life
	// of the store.
	BatchLimits() BatchLimits
}

// BatchLimits are a [BatchSizer]'s defaults of the batch limits of [Config].
type BatchLimits struct {
	MaxRows  int
	MaxBytes int
	MaxDelay time.Duration
}

// Source delivers unified-event messages to a [Runner], usually a Kafka consumer of
// transport.TopicTrades and transport.TopicIntegrity (plus transport.TopicBooks and
// transport.TopicBBO for a store that stores books, see [KindStore]) whose start offsets
// the caller set from [Store.Offsets] before constructing the Runner.
//
// Poll blocks until at least one message is available or ctx is done, and returns at most
// max messages. When ctx is done it returns ctx's error; messages not returned are not
// consumed (a later Poll returns them). Returned messages are owned by the caller.
type Source interface {
	Poll(ctx context.Context, max int) ([]transport.Message, error)
}
