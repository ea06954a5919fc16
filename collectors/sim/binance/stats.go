package binancesim

import "sync/atomic"

// Stats is a snapshot of the server's counters since Start.
type Stats struct {
	// Trades is the number of trades generated (the exchange's truth).
	Trades int64
	// FramesSent counts market-data frames (trades and order-book frames)
	// written to connections, duplicates and malformed replacements
	// included.
	FramesSent int64
	// Dropped counts trade frames withheld by the DropRate fault.
	Dropped int64
	// Duplicated counts trade frames sent twice by the DuplicateRate fault.
	Duplicated int64
	// Malformed counts frames (trade or order-book) replaced by garbage by
	// the MalformedRate fault.
	Malformed int64

	// BookUpdates counts order-book update ids (level changes) across all
	// symbols, as of the last 100 ms depth boundary.
	BookUpdates int64
	// DepthBatches counts diff depth update batches: one per symbol per
	// 100 ms interval with changes, one BookLog line each.
	DepthBatches int64
	// DepthEvents counts diff depth events encoded for subscribers (100 ms
	// and 1000 ms streams), once per event however many subscribers.
	DepthEvents int64
	// PartialDepthEvents counts partial book depth events encoded.
	PartialDepthEvents int64
	// BookTickerEvents counts bookTicker events encoded.
	BookTickerEvents int64
	// DepthFramesSent counts order-book frames written to connections
	// (included in FramesSent).
	DepthFramesSent int64
	// DepthGaps counts diff depth events skipped by DepthGapRate.
	DepthGaps int64
	// DepthDropped counts order-book frames lost by DepthDropRate.
	DepthDropped int64
	// DepthDuplicated counts order-book frames sent twice by
	// DepthDuplicateRate.
	DepthDuplicated int64
	// DepthReordered counts diff depth events held back by
	// DepthReorderRate.
	DepthReordered int64
	// DepthMalformed counts order-book frames garbled by MalformedRate
	// (included in Malformed).
	DepthMalformed int64
	// RESTDepthRequests counts GET /api/v3/depth requests received,
	// rejected ones included (also counted in RESTRequests).
	RESTDepthRequests int64
	// Disconnects counts connections ended by the DisconnectEvery fault.
	Disconnects int64
	// Stale counts connections that went silent by the StaleEvery fault.
	Stale int64
	// Connections counts accepted WebSocket connections.
	Connections int64
	// ActiveConnections is the number of WebSocket connections open now.
	ActiveConnections int64
	// SlowConsumers counts connections closed because their send queue
	// overflowed.
	SlowConsumers int64
	// InboundLimitCloses counts connections closed for sending more than
	// InboundLimit messages per second.
	InboundLimitCloses int64
	// PongTimeouts counts connections closed for not answering pings.
	PongTimeouts int64
	// LifetimeCloses counts connections closed at ConnLifetime.
	LifetimeCloses int64
	// RESTRequests counts REST requests received, rejected ones included.
	RESTRequests int64
	// TooManyRequests counts HTTP 429 answers (REST weight and WebSocket
	// connection attempts).
	TooManyRequests int64
	// Banned counts HTTP 418 answers.
	Banned int64
}

// counters are the live atomics behind Stats.
type counters struct {
	trades, framesSent, dropped, duplicated, malformed     atomic.Int64
	disconnects, stale, connections, active, slowConsumers atomic.Int64
	inboundCloses, pongTimeouts, lifetimeCloses, restReqs  atomic.Int64
	tooMany, banned                                        atomic.Int64

	bookUpdates, depthBatches, depthEvents, partialEvents, bookTickers atomic.Int64
	depthFrames, depthGaps, depthDropped, depthDuplicated              atomic.Int64
	depthReordered, depthMalformed, restDepth                          atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Trades:             c.trades.Load(),
		FramesSent:         c.framesSent.Load(),
		Dropped:            c.dropped.Load(),
		Duplicated:         c.duplicated.Load(),
		Malformed:          c.malformed.Load(),
		Disconnects:        c.disconnects.Load(),
		Stale:              c.stale.Load(),
		Connections:        c.connections.Load(),
		ActiveConnections:  c.active.Load(),
		SlowConsumers:      c.slowConsumers.Load(),
		InboundLimitCloses: c.inboundCloses.Load(),
		PongTimeouts:       c.pongTimeouts.Load(),
		LifetimeCloses:     c.lifetimeCloses.Load(),
		RESTRequests:       c.restReqs.Load(),
		TooManyRequests:    c.tooMany.Load(),
		Banned:             c.banned.Load(),
		BookUpdates:        c.bookUpdates.Load(),
		DepthBatches:       c.depthBatches.Load(),
		DepthEvents:        c.depthEvents.Load(),
		PartialDepthEvents: c.partialEvents.Load(),
		BookTickerEvents:   c.bookTickers.Load(),
		DepthFramesSent:    c.depthFrames.Load(),
		DepthGaps:          c.depthGaps.Load(),
		DepthDropped:       c.depthDropped.Load(),
		DepthDuplicated:    c.depthDuplicated.Load(),
		DepthReordered:     c.depthReordered.Load(),
		DepthMalformed:     c.depthMalformed.Load(),
		RESTDepthRequests:  c.restDepth.Load(),
	}
}
