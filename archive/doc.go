// Package archive keeps raw records beyond Kafka retention (ADR 0010): the Archiver consumes
// the raw topics (tickflow.raw.<venue>) and appends them, losslessly (the raw envelope bytes
// with their Kafka offset and timestamp), to zstd-compressed segment files per venue,
// partition and receive hour, with an index of offsets and receive-time ranges per block;
// PartitionReader reads them back in offset order for re-normalization.
//
// Crash safety: a block is appended and fsynced before its index line, and the index before
// the next block; on start the archiver cuts torn tails, indexes complete blocks the index
// lacks and resumes at the offset after the last archived one, so a SIGKILL leaves neither
// duplicates nor holes. Offsets deleted from Kafka before they were archived are recorded as
// holes in the index and counted; the retention guard keeps the raw topics' retention.ms
// above the age of the oldest unarchived record so that it does not happen while the
// archiver runs.
//
// Concurrency: Archiver.Run owns all its state on the calling goroutine and must be the only
// writer of its directory; it never blocks producers (it is one more Kafka consumer). A
// PartitionReader may read a directory while the archiver writes it (it sees indexed blocks
// only). Subpackages: rawjson (the JSON-lines import format), rerun (raw records through the
// normalizer into a store, for import and renormalize).
//
// # Metrics
//
//	tickflow_archive_records_total{venue}               raw records archived durably
//	tickflow_archive_bytes_total{venue}                 compressed bytes appended
//	tickflow_archive_blocks_total{venue}                blocks written and fsynced
//	tickflow_archive_lost_records_total{venue}          records deleted before archived (holes)
//	tickflow_archive_recovered_blocks_total{venue}      unindexed blocks indexed after a crash
//	tickflow_archive_flush_seconds                      write+fsync time per block
//	tickflow_archive_retention_headroom_seconds{venue}  retention minus oldest unarchived age (alert < 3600)
//	tickflow_archive_unarchived_age_seconds{venue}      age of the oldest unarchived record
//	tickflow_archive_guarded_retention_seconds{venue}   retention the guard set (-1: keep all)
//	tickflow_archive_guard_errors_total{venue}          failed offset reads / retention updates
//	tickflow_archive_write_errors_total{venue}          failed segment/index writes (retried)
//	tickflow_transport_consumer_lag_records{consumer="archive"}
package archive
