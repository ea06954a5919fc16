package main

import (
	"os"
	"runtime/debug"
)

// Garbage-collector defaults of the long-running commands. The pipeline's live heap is small
// (buffers are reused; DuckDB's memory is outside the Go heap) and its allocation rate high,
// so Go's default GOGC=100 collects very often; measured with `tickflow bench` (see
// BENCHMARKS.md). A soft memory limit keeps the larger growth factor from turning into RSS:
// near the limit the collector runs as often as it has to.
const (
	defaultGCPercent   = 200
	defaultMemoryLimit = 1 << 30
	// The ClickHouse sink holds two 250,000-row batches and builds fresh clickhouse-go column
	// buffers for each INSERT (~60% of its allocations): at 200 / 1 GiB the collector took over
	// half its CPU, the CPU the ClickHouse server on the same machine lacked. 400 / 2 GiB
	// stored 1.1x the trades/s (`bench-kafka --mode sink`, BENCHMARKS.md).
	sinkGCPercent   = 400
	sinkMemoryLimit = 2 << 30
)

// applyGCDefaults sets the collector's growth factor and soft memory limit unless the user
// chose them through GOGC / GOMEMLIMIT.
func applyGCDefaults(gcPercent int, memoryLimit int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
