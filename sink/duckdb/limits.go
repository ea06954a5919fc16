package duckdb

import (
	"time"

	"github.com/tickflow/tickflow/sink"
)

// DefaultBatchDelay is the sink batch delay this store asks for (sink.BatchSizer): a write
// costs ~20% less CPU per row at 50k-row batches than at 10k (BenchmarkWriteTrades,
// BENCHMARKS.md), and live readers use the gateway, not the store, so half a second of
// storage latency buys throughput.
const DefaultBatchDelay = 500 * time.Millisecond

var _ sink.BatchSizer = (*Store)(nil)

// BatchLimits returns the sink batch limits for this store (sink.BatchSizer): the Runner's
// row and byte limits, and DefaultBatchDelay.
func (s *Store) BatchLimits() sink.BatchLimits {
	return sink.BatchLimits{MaxDelay: DefaultBatchDelay}
}
