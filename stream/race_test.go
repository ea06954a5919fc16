//go:build race

package stream

// raceEnabled: the race detector adds allocations (and empties sync.Pools at random), so
// allocation-count tests of paths through pools and goroutines skip under -race.
const raceEnabled = true
