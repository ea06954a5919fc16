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

	resnapshots prometheus.Counter // book backlogs dropped for a later snapshot
	conflated   prometheus.Counter // BBO frames replaced in a queue before being written
	bookGaps    prometheus.Counter // book messages whose prev_seq did not follow the gateway's book
	bookIgnored prometheus.Counter // book deltas the gateway could not apply (book not valid)
}

func newMetrics(reg prometheus.Registerer, g *Gateway) *metrics {
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickflow_gateway_messages_sent_total",
		Help: "Frames written to client sockets, by kind (trade, integrity, control, book_snapshot, book_delta, book_status, bbo).",
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
			Help:    "Time from a Publish* call to the frame being written to a client socket, per delivery (snapshots excluded).",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2.5, 14), // 25us .. ~3.7s
		}),
		clientErrors: make(map[ErrorCode]prometheus.Counter, len(errorCodes)),
		resnapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickflow_gateway_book_resnapshots_total",
			Help: "Times a slow client's backlog on a book channel was dropped, to be replaced by a fresh snapshot once it catches up.",
		}),
		conflated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickflow_gateway_bbo_conflated_total",
			Help: "BBO frames replaced in a client's queue by a newer BBO of the same channel before being written.",
		}),
		bookGaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickflow_gateway_book_gaps_total",
			Help: "Book updates whose prev_seq did not follow the gateway's copy of the book (the gateway missed messages); the book is invalid until the next snapshot.",
		}),
		bookIgnored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickflow_gateway_book_updates_ignored_total",
			Help: "Book deltas not applied: the gateway holds no valid copy of the book (no snapshot seen yet, or after a gap), or the delta was already applied (redelivery).",
		}),
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
			m.latency, clients, subs, queued, m.resnapshots, m.conflated, m.bookGaps, m.bookIgnored} {
			if err := reg.Register(c); err != nil {
				g.log.Warn("stream: register gateway metric", "err", err)
			}
		}
	}
	return m
}
