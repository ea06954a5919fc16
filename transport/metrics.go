package transport

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

type topicCounters struct {
	records prometheus.Counter
	bytes   prometheus.Counter
}

type producerMetrics struct {
	records  *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	errs     *prometheus.CounterVec
	inflight prometheus.Gauge

	mu    sync.Mutex
	cache map[string]topicCounters // resolved children, off the hot path after first use
}

func newProducerMetrics(reg prometheus.Registerer) *producerMetrics {
	m := &producerMetrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickflow_transport_produced_records_total", Help: "Records acknowledged by Kafka.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickflow_transport_produced_bytes_total", Help: "Value bytes acknowledged by Kafka.",
		}, []string{"topic"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickflow_transport_produce_errors_total", Help: "Records that finally failed to produce.",
		}, []string{"topic"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tickflow_transport_inflight_bytes", Help: "Bytes produced and not yet acknowledged.",
		}),
		cache: map[string]topicCounters{},
	}
	if reg != nil {
		reg.MustRegister(m.records, m.bytes, m.errs, m.inflight)
	}
	return m
}

func (m *producerMetrics) counters(topic string) topicCounters {
	m.mu.Lock()
	c, ok := m.cache[topic]
	if !ok {
		c = topicCounters{records: m.records.WithLabelValues(topic), bytes: m.bytes.WithLabelValues(topic)}
		m.cache[topic] = c
	}
	m.mu.Unlock()
	return c
}

func (m *producerMetrics) errors(topic string) prometheus.Counter {
	return m.errs.WithLabelValues(topic)
}
