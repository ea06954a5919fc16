// Package stream is tickflow's streaming gateway: it fans live unified market-data events
// (package md) out to algo traders over WebSocket, as JSON text frames.
//
// It owns the client protocol (docs/streaming.md): the channel grammar
// <kind>:<venue>:<symbol>[@<depth>] with "*" wildcards for venue and symbol, the request ops
// (subscribe, unsubscribe, ping, list), reply, error and data frame schemas, per-channel
// sequence numbers, authentication, per-client limits, the slow-consumer and conflation
// policies and the gateway's metrics. It does not read Kafka: cmd runs a consumer that calls
// PublishTrade, PublishIntegrity, PublishBookUpdate, PublishBookStatus and PublishBBO.
//
// # Fan-out
//
// Every event is encoded once, lazily (only if someone subscribed), into a pooled,
// reference-counted buffer that all subscriber queues share. Subscribers are found in an
// index sharded by channel pattern (64 shards); a concrete channel resolves its four
// matching patterns (exact, venue:*, *:symbol, *:*) once, and a connection holding several
// of them receives the event once. Each connection has a byte-bounded queue
// (Config.ClientQueueBytes, counting bytes queued and being written) drained by its own
// writer goroutine, which writes whole batches with one system call where it can.
//
// # Books
//
// The gateway keeps a copy of every instrument's L2 book (sorted slices of mantissas,
// MaxBookLevels per side) and its validity, from the snapshots, deltas and statuses the
// normalizer publishes. A book channel book:<venue>:<symbol>@<depth> (default
// DefaultBookDepth levels, at most MaxBookDepth) is one "class" per (book, depth option):
// on subscribe a client gets the class's snapshot (or, if the book is not valid, a
// book_status invalid frame and the snapshot when it becomes valid), under the publish
// lock so nothing is missed or repeated before the next delta; then, per update, the
// levels that changed within its depth, computed and encoded once per class and shared
// by the class's subscribers. Classes whose window an update did not touch get no frame;
// a delta's prev_seq names the class's previous frame. See book.go.
//
// # Slow consumers
//
// Publishing never waits for a client. A client whose queue would overflow is a slow
// consumer: its queue is dropped at once (bounding memory), and its writer sends a
// slow_consumer error frame (best effort: the socket is usually full) and closes with 1008.
// Other clients and the feeder are unaffected.
//
// Book and BBO channels conflate instead. A client's queue holds at most one not yet
// written BBO frame per channel: a newer one replaces it in place. A book frame that would
// overflow the queue suspends that book stream for the client: its queued frames are
// dropped, a book_status invalid frame with reason slow_consumer is queued, and when the
// client's queue has drained to half its limit the writer (under the publish lock) queues
// a fresh snapshot and resumes the stream. Trade, integrity and control frames that would
// overflow first drop every queued book frame (suspending those streams); only if that is
// not enough is the client disconnected. A client that does not answer a ping within
// Config.PongTimeout, or cannot take a write for Config.WriteTimeout, is dropped too.
//
// # Sequence numbers
//
// The gateway numbers the events of each concrete channel (trades:binance:BTC-USDT) 1, 2,
// 3, ... within its epoch (Gateway.Epoch, sent in the welcome frame), counting every event
// published whether or not anyone subscribed, so a client sees its own gaps, including
// across reconnects to the same gateway. A restarted gateway starts a new epoch.
//
// # Concurrency
//
// New does no I/O and starts no goroutines. All Gateway methods are safe for concurrent
// use. The Publish methods are serialized on one lock and meant for a single feeding
// goroutine; they must not block and do not: they take only in-memory locks held briefly,
// never wait on a socket, and allocate nothing in steady state (the first event of a new
// channel or book allocates, as do book snapshots deeper than about 300 levels). Each
// connection runs two goroutines: its HTTP handler goroutine reads requests, and a writer
// goroutine writes frames (and, for a client catching up on book channels, takes the
// publish lock to queue fresh snapshots). Close waits for both of every connection, within
// its context.
//
// Lock order: Gateway.pubMu, then a shard lock, then a connection's lock; Gateway.mu then a
// connection's lock. Subscribe and unsubscribe take pubMu, so their reply marks an exact
// point in the event stream: events published after it are delivered, none before. The
// publisher's book state (books, classes, scratch) is guarded by pubMu.
//
// # Metrics
//
// Built on the Registerer given to New (nil: none exported):
//
//	tickflow_gateway_clients                          gauge    connected clients
//	tickflow_gateway_subscriptions                    gauge    subscriptions (names and patterns) of all clients
//	tickflow_gateway_queued_bytes                     gauge    bytes queued for all clients, not yet written
//	tickflow_gateway_events_published_total{kind}     counter  events handed to Publish* (kind: trade, integrity, book_snapshot, book_delta, book_status, bbo)
//	tickflow_gateway_messages_sent_total{kind}        counter  frames written to sockets (kind: those and control)
//	tickflow_gateway_bytes_sent_total                 counter  payload bytes of frames written
//	tickflow_gateway_slow_consumer_disconnects_total  counter  clients dropped for overflowing their queue
//	tickflow_gateway_client_errors_total{code}        counter  error frames sent (and HTTP 401s), by error code
//	tickflow_gateway_delivery_latency_seconds         histogram Publish* call to frame written to a socket, per delivery (snapshots excluded)
//	tickflow_gateway_book_resnapshots_total           counter  book streams suspended for a slow client (resumed with a snapshot)
//	tickflow_gateway_bbo_conflated_total              counter  BBO frames replaced in a queue by a newer one before being written
//	tickflow_gateway_book_gaps_total                  counter  book deltas whose prev_seq did not follow the gateway's copy
//	tickflow_gateway_book_updates_ignored_total       counter  book deltas not applied: book not valid, or already applied (redelivery)
//
// The gauges are computed at scrape time. Nothing is logged per message; connection events
// are logged at debug level, slow-consumer and rate-limit disconnects at info.
package stream
