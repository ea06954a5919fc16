// Package sink stores unified market-data events exactly once. It owns the store-independent
// half of the sink stage: the [Store] contract, the [Batch] handed to a store, the watermark
// comparison every store runs ([Watermarks], ADR 0007), and the [Runner] that consumes
// messages from a [Source], decodes them, batches them by count, bytes and time, writes them
// and tracks the consumed offsets. Store implementations live in sink/duckdb (embedded) and
// sink/clickhouse.
//
// # Exactly once
//
// Per [Key] (venue, symbol, kind, parser version) a store keeps the highest provenance it
// has written; a Write stores the events above it, advances it and stores the batch's
// offsets in one atomic step. The caller starts the Source from [Store.Offsets], so after a
// clean stop nothing is re-consumed and after a crash only the uncommitted tail is, which the
// watermarks drop as duplicates.
//
// # Kinds
//
// The Runner decodes trades, integrity events, book updates (snapshots and deltas), book
// statuses and BBOs into the [Batch] fields of the same names, each kind under its own
// watermark [Key]. It decodes only the kinds its store declares through [KindStore]
// (trades and integrity events for a store that does not implement it); messages of other
// kinds are dead-lettered as unsupported_kind rather than silently dropped. Book levels are
// decoded into an arena owned by the Batch, so a steady stream of book updates decodes
// without allocating.
//
// # Consumer groups
//
// [GroupRunner] runs the Runner as a consumer-group member: per assignment it re-derives the
// store's state ([Reloader]), reads [Store.Offsets] for its partitions and consumes from there;
// writes carry the assignment's lease as a guard ([WithGuard], [CheckGuard]) which a store
// without transactions checks inside each INSERT. A refused write is never retried: the batch
// is dropped and the partitions' new owner writes it.
//
// # Decode errors
//
// A message that cannot be decoded (see the Reason* constants) never stops the Runner and is
// never silently dropped: it is counted in tickflow_sink_decode_errors_total{reason}, logged
// once per reason, handed to Config.DeadLetter, and its offset is committed with the batch.
//
// # Concurrency
//
// A Runner is driven by the one goroutine that calls [Runner.Run]; its constructor does no I/O
// and starts no goroutines. Run writes batches synchronously (one write in flight), so a slow
// store slows consumption, never the producers upstream (Kafka buffers). [Batch] and
// [Watermarks] are not goroutine-safe. Store implementations document their own safety;
// the contract is one writer goroutine, with Offsets and Close callable from any goroutine.
//
// Must not block: the Config.DeadLetter hook runs on the Runner's goroutine; it should hand
// the message off (e.g. to an async producer) rather than wait for an acknowledgement.
//
// # Metrics
//
// Registered with Config.Registerer (nothing is registered globally):
//
//	tickflow_sink_rows_written_total{kind}        counter   events stored
//	tickflow_sink_duplicates_total{kind}          counter   events skipped at or below the watermark
//	tickflow_sink_decode_errors_total{reason}     counter   undecodable messages (dead-lettered)
//	tickflow_sink_messages_total                  counter   messages in committed batches
//	tickflow_sink_batch_rows                      histogram messages per written batch
//	tickflow_sink_write_seconds                   histogram duration of successful writes
//	tickflow_sink_write_errors_total              counter   failed write attempts
//	tickflow_sink_last_write_timestamp_seconds    gauge     Unix time of the last successful write
//	tickflow_sink_event_age_seconds{kind}         histogram stored time minus receive time
//	tickflow_sink_book_levels_written_total       counter   book levels stored with the book updates
//
// A [GroupRunner] (the sink as a consumer-group member, ADR 0009) adds:
//
//	tickflow_sink_fenced_writes_total             counter   writes refused by the group lease ([ErrFenced])
//	tickflow_sink_dropped_messages_total          counter   messages of fenced batches, left to the new owner
//	tickflow_sink_reloads_total                   counter   assignments taken over (store state re-derived)
//	tickflow_sink_reload_seconds                  histogram time to re-derive state and read offsets
//	tickflow_transport_consumer_lag_records{consumer="sink"} gauge of the current generation's consumer
//
// kind is "trade", "integrity", "book" (book updates: one per message, whatever its number
// of levels), "book_status" or "bbo". After a drained run, messages_total equals
// rows_written + duplicates + decode_errors summed over labels. event_age_seconds skips, per
// kind, batches that held duplicates of that kind (replays after a crash would otherwise
// report their replay delay as latency).
package sink
