package stream

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the gateway's Prometheus collectors, with label children resolved once so
// the hot path only adds to counters. The list is documented in doc.go.
type metrics struct {
	sent         [numMsgKinds]prometheus.Counter
	bytesSent    prometheus.Counter
	published    [numMsgKinds]prometheus.Counter
	slow         prometheus.Counter
	clientErrors map[ErrorCode]prometheus.Counter
	latency      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, g *Gateway) *metrics {
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickflow_gateway_messages_sent_total",
		Help: "Frames written to client sockets, by kind (trade, integrity, control).",
	}, []string{"kind"})
	published := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickflow_gateway_events_published_total",
		Help: "Events handed to the gateway by the feeder, by kind, whether or not anyone was subscribed.",
	}, []string{"kind"})
	clientErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickflow_gateway_client_errors_total",
		Help: "Error frames sent to clients (and HTTP 401s for unauthorized), by code.",
	}, []string{"code"})
	m := &metrics{
		bytesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickflow_gateway_bytes_sent_total",
			Help: "Payload bytes of frames written to client sockets.",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickflow_gateway_slow_consumer_disconnects_total",
			Help: "Clients disconnected because their queue overflowed client_queue_bytes.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tickflow_gateway_delivery_latency_seconds",
			Help:    "Time from PublishTrade/PublishIntegrity to the frame being written to a client socket, per delivery.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2.5, 14), // 25us .. ~3.7s
		}),
		clientErrors: make(map[ErrorCode]prometheus.Counter, len(errorCodes)),
	}
	for k := range numMsgKinds {
		m.sent[k] = sent.WithLabelValues(msgKindNames[k])
		if k != msgControl {
			m.published[k] = published.WithLabelValues(msgKindNames[k])
		}
	}
	for _, c := range errorCodes {
		m.clientErrors[c] = clientErrors.WithLabelValues(string(c))
	}
	clients := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tickflow_gateway_clients",
		Help: "Connected WebSocket clients.",
	}, func() float64 { return float64(g.numClients()) })
	subs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tickflow_gateway_subscriptions",
		Help: "Channel subscriptions (names and patterns) held by all clients.",
	}, func() float64 { return float64(g.index.count()) })
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tickflow_gateway_queued_bytes",
		Help: "Bytes queued for all clients and not yet written to their sockets.",
	}, func() float64 { return float64(g.queuedBytes()) })
	if reg != nil {
		for _, c := range []prometheus.Collector{sent, published, clientErrors, m.bytesSent, m.slow,
			m.latency, clients, subs, queued} {
			if err := reg.Register(c); err != nil {
				g.log.Warn("stream: register gateway metric", "err", err)
			}
		}
	}
	return m
}
