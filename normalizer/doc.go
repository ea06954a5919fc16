// Package normalizer turns a venue's raw topic into unified events: it dispatches raw
// records to the venue's Parser, owns all derived state (trade-id continuity and dedup,
// connection epochs and disconnect windows; order books come next), emits integrity events,
// sends malformed records to the dead-letter topic with their reason, and checkpoints its
// state with the raw offsets it reflects (docs/adr/0003, 0006).
//
// Normalization is a deterministic function of (checkpoint, raw): a restarted normalizer
// loads its checkpoint, seeks raw to the checkpoint's offsets and re-emits identical events,
// which the sink's watermark drops (ADR 0007).
//
// One Normalizer handles one venue, single-threaded: Run owns all state, so nothing in it
// is shared. Run never blocks on a slow store: it only produces to Kafka.
//
// # Metrics
//
//	tickflow_normalizer_records_total{venue,type}        raw records processed
//	tickflow_normalizer_events_total{venue,kind}         unified events emitted
//	tickflow_normalizer_duplicates_total{venue,kind}     events dropped as already emitted
//	tickflow_normalizer_deadletter_total{venue,reason}   records sent to the dead-letter topic
//	tickflow_normalizer_gaps_total{venue,stream}         gaps detected
//	tickflow_normalizer_disconnects_total{venue}         disconnect windows recorded
//	tickflow_normalizer_checkpoints_total{venue}         checkpoints written
//	tickflow_normalizer_event_age_seconds{venue}         receive -> normalized latency
//	tickflow_normalizer_levels_total{venue}              book levels in venue snapshots and deltas
//	tickflow_normalizer_crossed_books_total{venue}       books found crossed (invalidated)
//	tickflow_normalizer_stale_snapshots_total{venue}     snapshots too old to bridge the buffer
//	tickflow_normalizer_book_invalid_seconds{venue}      time books spent invalid per episode
//	tickflow_normalizer_book_refreshes_total{result}     live-book snapshots: ok, drift, unbridged
//	tickflow_normalizer_resync_requests_total{venue,reason} snapshot requests on the control topic
//	tickflow_transport_consumer_lag_records{consumer="normalizer-<venue>"}
package normalizer
