// Package md is tickflow's one vocabulary: instruments, unified market-data events, the
// exact decimal form, the raw envelope that collectors write, and the versioned binary
// wire codec for both.
//
// md imports nothing of tickflow's. Everything else depends on it:
// collectors write [RawRecord]s, the normalizer turns them into events ([Trade],
// [Integrity], ...), the sink stores them and the stream gateway serves them.
//
// # Ownership and concurrency
//
// Values are plain data and not safe for concurrent mutation. [Decoder] and [Interner] are
// not goroutine-safe: give each goroutine its own. Encoding functions are pure and append to
// the destination they are given ("dst is appended to and returned"). Decoding into an event
// copies everything it keeps, except that strings are interned by the Decoder: they stay
// valid forever and the decoded value never refers to the input buffer. [DecodeRaw] is the
// exception: the decoded Frame and Meta alias the input (borrowed, not retained).
//
// # Hot path
//
// Encode and decode of trades, integrity events and raw records allocate nothing in steady
// state; tests with testing.AllocsPerRun lock that in.
//
// See docs/adr/0001 (raw envelope), 0003 (event ids), 0004 (symbols) and 0005 (decimals and
// wire codec), and docs/wire.md for the byte layout.
package md
