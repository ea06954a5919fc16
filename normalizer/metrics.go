package normalizer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/md"
)

// Metrics are the normalizer's Prometheus metrics (listed in the package doc).
type Metrics struct {
	reg         prometheus.Registerer
	recordsV    *prometheus.CounterVec
	eventsV     *prometheus.CounterVec
	dupsV       *prometheus.CounterVec
	deadV       *prometheus.CounterVec
	gapsV       *prometheus.CounterVec
	discV       *prometheus.CounterVec
	checkpoints *prometheus.CounterVec
	ageV        *prometheus.HistogramVec
	crossedV    *prometheus.CounterVec
	staleSnapV  *prometheus.CounterVec
	invalidV    *prometheus.HistogramVec
	levelsV     *prometheus.CounterVec
	refreshV    *prometheus.CounterVec
	resyncReqV  *prometheus.CounterVec

	// the children of the venue bound by forVenue, resolved once per raw type or event kind:
	// the hot path does no label lookups
	venue string
	rec   [256]prometheus.Counter
	ev    [256]prometheus.Counter
	ageO  prometheus.Observer
}

// NewMetrics creates and registers the normalizer metrics (reg may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		recordsV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_records_total",
			Help: "Raw records processed."}, []string{"venue", "type"}),
		eventsV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_events_total",
			Help: "Unified events emitted."}, []string{"venue", "kind"}),
		dupsV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_duplicates_total",
			Help: "Events dropped because they were already emitted."}, []string{"venue", "kind"}),
		deadV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_deadletter_total",
			Help: "Raw records sent to the dead-letter topic, by reason kind."}, []string{"venue", "reason"}),
		gapsV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_gaps_total",
			Help: "Gaps detected."}, []string{"venue", "stream"}),
		discV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_disconnects_total",
			Help: "Disconnect windows recorded."}, []string{"venue"}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_checkpoints_total",
			Help: "Checkpoints written."}, []string{"venue"}),
		ageV: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickflow_normalizer_event_age_seconds",
			Help:    "Time from raw receive to normalized event (taken when the normalizer polled the raw record's batch).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"venue"}),
		crossedV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_crossed_books_total",
			Help: "Books found crossed after an update (invalidated and resynced)."}, []string{"venue"}),
		staleSnapV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_stale_snapshots_total",
			Help: "Snapshots too old to bridge the buffered deltas (a newer one is awaited)."}, []string{"venue"}),
		invalidV: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickflow_normalizer_book_invalid_seconds",
			Help:    "Time books spent invalid, from invalidation to the next valid snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}, []string{"venue"}),
		levelsV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_levels_total",
			Help: "Book levels applied from venue snapshots and deltas."}, []string{"venue"}),
		refreshV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_book_refreshes_total",
			Help: "Snapshots taken while a book was live, by result: ok, drift (book replaced), unbridged."}, []string{"result"}),
		resyncReqV: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickflow_normalizer_resync_requests_total",
			Help: "Snapshot requests sent to collectors on the control topic, by reason."}, []string{"venue", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.recordsV, m.eventsV, m.dupsV, m.deadV, m.gapsV, m.discV, m.checkpoints, m.ageV,
			m.crossedV, m.staleSnapV, m.invalidV, m.levelsV, m.refreshV, m.resyncReqV)
	}
	return m
}

// forVenue returns metrics sharing m's registered vectors with child caches of their own for
// venue: one Metrics may serve several normalizers (one per venue), each on its own goroutine.
func (m *Metrics) forVenue(venue string) *Metrics {
	c := *m
	c.venue, c.rec, c.ev, c.ageO = venue, [256]prometheus.Counter{}, [256]prometheus.Counter{}, nil
	return &c
}

func (m *Metrics) records(venue string, t md.RawType) prometheus.Counter {
	if venue != m.venue {
		return m.recordsV.WithLabelValues(venue, t.String())
	}
	if m.rec[t] == nil {
		m.rec[t] = m.recordsV.WithLabelValues(venue, t.String())
	}
	return m.rec[t]
}

func (m *Metrics) emitted(venue string, kind md.Kind) prometheus.Counter {
	if venue != m.venue {
		return m.eventsV.WithLabelValues(venue, kind.String())
	}
	if m.ev[kind] == nil {
		m.ev[kind] = m.eventsV.WithLabelValues(venue, kind.String())
	}
	return m.ev[kind]
}

func (m *Metrics) age(venue string) prometheus.Observer {
	if venue != m.venue {
		return m.ageV.WithLabelValues(venue)
	}
	if m.ageO == nil {
		m.ageO = m.ageV.WithLabelValues(venue)
	}
	return m.ageO
}

func (m *Metrics) duplicates(venue string, kind md.Kind) prometheus.Counter {
	return m.dupsV.WithLabelValues(venue, kind.String())
}

func (m *Metrics) deadletters(venue, reason string) prometheus.Counter {
	return m.deadV.WithLabelValues(venue, reason)
}

func (m *Metrics) gaps(venue string, stream md.Kind) prometheus.Counter {
	return m.gapsV.WithLabelValues(venue, stream.String())
}

func (m *Metrics) disconnects(venue string) prometheus.Counter { return m.discV.WithLabelValues(venue) }

func (m *Metrics) crossed(venue string) prometheus.Counter { return m.crossedV.WithLabelValues(venue) }

func (m *Metrics) staleSnapshots(venue string) prometheus.Counter {
	return m.staleSnapV.WithLabelValues(venue)
}

func (m *Metrics) invalidTime(venue string) prometheus.Observer {
	return m.invalidV.WithLabelValues(venue)
}

func (m *Metrics) levels(venue string) prometheus.Counter { return m.levelsV.WithLabelValues(venue) }

// refreshes counts refresh snapshots by result (the symbol is not a label: unbounded).
func (m *Metrics) refreshes(_ string, result string) prometheus.Counter {
	return m.refreshV.WithLabelValues(result)
}

func (m *Metrics) resyncRequests(venue, reason string) prometheus.Counter {
	return m.resyncReqV.WithLabelValues(venue, reason)
}
