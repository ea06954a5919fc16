package sink

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/md"
)

// Decode-error reasons: the values of the reason label of
// tickflow_sink_decode_errors_total and the prefix of the DeadLetter reason.
const (
	ReasonTruncated       = "truncated"        // the value ended inside a field
	ReasonVersion         = "version"          // unknown wire version
	ReasonKindMismatch    = "kind_mismatch"    // the body is not of the kind its header says
	ReasonUnsupportedKind = "unsupported_kind" // a kind the sink does not store (yet)
	ReasonTradeID         = "trade_id"         // a text trade id too long or not UTF-8
	ReasonInvalidHeader   = "invalid_header"   // empty or non-UTF-8 venue/symbol, zero provenance or recv time
	ReasonMalformed       = "malformed"        // any other decoding error
)

var reasons = [...]string{ReasonTruncated, ReasonVersion, ReasonKindMismatch,
	ReasonUnsupportedKind, ReasonTradeID, ReasonInvalidHeader, ReasonMalformed}

type kindMetrics struct {
	written    prometheus.Counter
	duplicates prometheus.Counter
	age        prometheus.Observer
}

// observe counts one kind's written and duplicate events of a committed batch and, when the
// batch held no duplicates of that kind, observes each event's age at ns.
func observe[E any](m *kindMetrics, written, dups int, ns int64, evs []E, recv func(*E) int64) {
	m.written.Add(float64(written))
	m.duplicates.Add(float64(dups))
	if dups != 0 {
		return
	}
	for i := range evs {
		m.age.Observe(float64(ns-recv(&evs[i])) / 1e9)
	}
}

type metrics struct {
	trades, integrity      kindMetrics
	books, bookStatus, bbo kindMetrics
	levels                 prometheus.Counter
	decodeErrors           map[string]prometheus.Counter
	messages               prometheus.Counter
	batchRows              prometheus.Observer
	writeSeconds           prometheus.Observer
	writeErrors            prometheus.Counter
	lastWrite              prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	written := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickflow_sink_rows_written_total",
		Help: "Events stored, by kind.",
	}, []string{"kind"})
	dups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickflow_sink_duplicates_total",
		Help: "Events skipped because their provenance was at or below the watermark, by kind.",
	}, []string{"kind"})
	decodeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickflow_sink_decode_errors_total",
		Help: "Messages that could not be decoded and went to the dead-letter hook, by reason.",
	}, []string{"reason"})
	messages := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tickflow_sink_messages_total",
		Help: "Messages consumed (stored, duplicate or dead-lettered) in committed batches.",
	})
	batchRows := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tickflow_sink_batch_rows",
		Help:    "Messages per written batch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 .. 262144
	})
	writeSeconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tickflow_sink_write_seconds",
		Help:    "Duration of successful Store.Write calls.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms .. 16s
	})
	writeErrors := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tickflow_sink_write_errors_total",
		Help: "Failed Store.Write attempts (each is retried or ends Run).",
	})
	levels := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tickflow_sink_book_levels_written_total",
		Help: "Book levels (bids and asks) stored with the stored book updates.",
	})
	lastWrite := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tickflow_sink_last_write_timestamp_seconds",
		Help: "Unix time of the last successful write.",
	})
	age := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tickflow_sink_event_age_seconds",
		Help: "Stored time minus the event's receive time (stage latency receive -> stored), " +
			"by kind. Batches holding duplicates of a kind are not observed for that kind.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 17), // 1ms .. 65s
	}, []string{"kind"})
	if reg != nil {
		for _, c := range []prometheus.Collector{written, dups, decodeErrors, messages,
			batchRows, writeSeconds, writeErrors, lastWrite, age, levels} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	m := &metrics{
		decodeErrors: make(map[string]prometheus.Counter, len(reasons)),
		messages:     messages,
		batchRows:    batchRows,
		writeSeconds: writeSeconds,
		writeErrors:  writeErrors,
		lastWrite:    lastWrite,
		levels:       levels,
	}
	for _, k := range []struct {
		dst  *kindMetrics
		kind md.Kind
	}{{&m.trades, md.KindTrade}, {&m.integrity, md.KindIntegrity},
		{&m.books, md.KindBookUpdate}, {&m.bookStatus, md.KindBookStatus}, {&m.bbo, md.KindBBO}} {
		*k.dst = kindMetrics{
			written:    written.WithLabelValues(k.kind.String()),
			duplicates: dups.WithLabelValues(k.kind.String()),
			age:        age.WithLabelValues(k.kind.String()),
		}
	}
	for _, r := range reasons {
		m.decodeErrors[r] = decodeErrors.WithLabelValues(r)
	}
	return m, nil
}
