// Package transport is tickflow's Kafka layer: topic names and specs, an asynchronous
// producer with completion callbacks and bounded in-flight bytes, a partition consumer that
// starts from explicit offsets, topic administration, and the embedded Kafka-protocol broker
// (kfake) that `tickflow run` uses on one machine.
//
// It sits beside md and is used by collectors, the normalizer, the sink and cmd. It speaks
// the Kafka protocol through github.com/segmentio/kafka-go only, so the same code runs
// against the embedded broker and a real Kafka cluster.
//
// # Producer
//
// Producer.Produce hands the key and value to the producer (ownership passes until the
// done callback runs; do not modify them before). Writes are acks=all, batched with a short
// linger (Config.Linger, default 2 ms), asynchronous, and ordered per partition. done runs
// on a producer goroutine once the record is acknowledged or finally failed; it must not
// block. In-flight bytes are bounded (Config.MaxInFlightBytes): Produce blocks when the bound
// is reached, TryProduce returns ErrFull instead, for callers that must never block (a
// collector's read loop counts the drop and marks a gap).
//
// # Consumer
//
// Consumer reads a set of topic partitions from given offsets (tickflow stores its own
// offsets atomically with its results; consumer-group offsets are informational). Poll is
// for one goroutine.
//
// # Consumer groups
//
// Group is one member of a consumer group (kafka-go's ConsumerGroup) used only for
// assignment: per generation it hands its handler an Assignment (partitions, generation) and
// never commits offsets — callers start from offsets they store themselves (ADR 0009). It
// keeps a write lease renewed by heartbeats of its own: Assignment.Check says whether the
// member may still write (its lease ends before the coordinator can evict it), so a member
// frozen past its session timeout refuses to write when it wakes up. WholeTopicBalancer
// gives every partition of a topic to one member (normalizers, by venue). Run is for one
// goroutine; Assignment is safe for concurrent use.
//
// # Embedded broker
//
// Embedded wraps kfake with a persistent data dir on loopback. kfake serves every request on
// one goroutine; it keeps data in the page cache (survives SIGKILL of tickflow, not power
// loss, unless SyncWrites is set); its retention cleaner is not re-armed after a reload, so
// Embedded applies retention itself on a ticker.
//
// # Metrics
//
//	tickflow_transport_produced_records_total{topic}     records acknowledged
//	tickflow_transport_produced_bytes_total{topic}       value bytes acknowledged
//	tickflow_transport_produce_errors_total{topic}       records finally failed
//	tickflow_transport_inflight_bytes                    bytes produced, not yet acknowledged
//	tickflow_transport_consumed_records_total{topic}     records returned by Poll
//	tickflow_transport_consumer_lag_records{topic}       high watermark minus next offset (at scrape)
//	tickflow_transport_group_generations_total{group}    generations this member took part in
//	tickflow_transport_group_assigned_partitions{group}  partitions assigned in the current generation
//	tickflow_transport_group_lease_remaining_seconds{group} time left on the write lease
//	tickflow_transport_group_lease_heartbeat_errors_total{group} lease heartbeats not answered cleanly
//	tickflow_transport_group_lease_denials_total{group}  writes refused (generation over or lease expired)
//	tickflow_transport_group_join_errors_total{group}    failed joins or syncs
package transport
