package archive

import "github.com/prometheus/client_golang/prometheus"

// metrics are the archiver's Prometheus metrics (listed in the package doc).
type metrics struct {
	records   *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	blocks    *prometheus.CounterVec
	lost      *prometheus.CounterVec
	recovered *prometheus.CounterVec
	flushSecs prometheus.Histogram
	headroom  *prometheus.GaugeVec
	unarch    *prometheus.GaugeVec
	retention *prometheus.GaugeVec
	guardErrs *prometheus.CounterVec
	writeErrs *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_archive_records_total",
			Help: "Raw records archived durably."}, []string{"venue"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_archive_bytes_total",
			Help: "Compressed bytes appended to segment files."}, []string{"venue"}),
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_archive_blocks_total",
			Help: "Blocks (zstd frames) written and fsynced."}, []string{"venue"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_archive_lost_records_total",
			Help: "Raw records deleted from Kafka before they were archived (holes recorded in the index)."}, []string{"venue"}),
		recovered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_archive_recovered_blocks_total",
			Help: "Complete blocks found unindexed after a crash and indexed at start."}, []string{"venue"}),
		flushSecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickflow_archive_flush_seconds",
			Help: "Time to compress, write and fsync one block and its index line.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		headroom: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tickflow_archive_retention_headroom_seconds",
			Help: "Configured raw retention minus the age of the oldest raw record not yet archived (alert below 3600; negative: only the retention guard keeps it)."}, []string{"venue"}),
		unarch: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tickflow_archive_unarchived_age_seconds",
			Help: "Age of the oldest raw record not yet durably archived (0 when caught up)."}, []string{"venue"}),
		retention: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tickflow_archive_guarded_retention_seconds",
			Help: "retention.ms the guard last set on the raw topic, in seconds (-1: keep everything)."}, []string{"venue"}),
		guardErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_archive_guard_errors_total",
			Help: "Failed attempts to read offsets or set the raw topic's retention."}, []string{"venue"}),
		writeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_archive_write_errors_total",
			Help: "Failed segment or index writes (retried with backoff; alert when it keeps rising)."}, []string{"venue"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.records, m.bytes, m.blocks, m.lost, m.recovered, m.flushSecs,
			m.headroom, m.unarch, m.retention, m.guardErrs, m.writeErrs} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
