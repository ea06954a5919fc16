// Package collectors defines what a venue connector is and runs the collector half of every
// connector: the shared session engine (connect, subscribe, read with deadlines, heartbeats,
// reconnect with backoff and jitter), the per-venue REST weight budget, connection epochs,
// and the writing of every frame, REST response and marker into the venue's raw topic
// (docs/adr/0001).
//
// # Connectors
//
// A connector is one package per venue (collectors/binance, ...) that registers itself from
// init() with Register, like database/sql drivers. It owns both halves of the venue's
// protocol: the Session (collector half: what to subscribe, wire continuity, backfills) and
// the Parser (normalizer half: raw record -> unified events). Only cmd/ imports
// collectors/all, which blank-imports every venue. Tests build their own Registry.
//
// Optional capabilities, found by type assertion:
//   - StatefulParser: the parser's state (instruments) is saved in normalizer checkpoints.
//   - BookParser: the parser emits book messages and states the venue's continuity rule.
//   - SnapshotRequester: the session takes snapshot requests from the control topic.
//
// # Concurrency
//
// Engine.Run runs one goroutine per connection slot plus the helpers a Session starts with
// Conn.Go. Conn methods are safe for concurrent use; records of one connection get strictly
// increasing sequence numbers in the order they are written. The read loop never blocks on
// Kafka: when the producer is full the connection is dropped and reconnected, which marks a
// gap (a new epoch) that backfill repairs.
//
// # Metrics
//
//	tickflow_collector_frames_total{venue,dir}          raw frames recorded
//	tickflow_collector_bytes_total{venue}               inbound frame bytes
//	tickflow_collector_connects_total{venue}            connections established
//	tickflow_collector_disconnects_total{venue,reason}  connections ended
//	tickflow_collector_raw_drops_total{venue}           records not written (producer full)
//	tickflow_collector_rest_requests_total{venue,status} REST requests by HTTP status
//	tickflow_collector_rest_weight_used{venue}          weight used in the current minute
//	tickflow_collector_backfilled_total{venue}          items requested by backfills
//	tickflow_collector_gaps_total{venue,kind}           wire gaps seen by sessions
package collectors
