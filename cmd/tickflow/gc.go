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
)

// applyGCDefaults sets the defaults unless the user chose through GOGC / GOMEMLIMIT.
func applyGCDefaults() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
