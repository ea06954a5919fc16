package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tickflow/tickflow/transport"
)

// serviceFlags are the flags every separate service (normalize, sink) shares.
type serviceFlags struct {
	kafkaBrokers string
	group        string
	metricsAddr  string
	logLevel     string
	session      time.Duration
	heartbeat    time.Duration
}

func (s *serviceFlags) register(fs *flag.FlagSet, defGroup, defMetrics string) {
	fs.StringVar(&s.kafkaBrokers, "kafka-brokers", "", "Kafka cluster to consume from and produce to (host:port,...) (required)")
	fs.StringVar(&s.group, "group", defGroup, "consumer group: every process with the same group shares the work (ADR 0009)")
	fs.StringVar(&s.metricsAddr, "metrics-addr", defMetrics, "address serving /metrics, /healthz and /readyz")
	fs.StringVar(&s.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&s.session, "session-timeout", 10*time.Second, "group session timeout: a member silent this long loses its partitions")
	fs.DurationVar(&s.heartbeat, "heartbeat-interval", time.Second, "group heartbeat interval (at most a third of --session-timeout)")
}

// validate reports flag errors, saying how to fix them.
func (s *serviceFlags) validate() error {
	var errs []error
	if len(splitList(s.kafkaBrokers)) == 0 {
		errs = append(errs, errors.New("--kafka-brokers is required: the separate services run on a Kafka cluster (host:port,...); for one process with an embedded broker use `tickflow run`"))
	}
	if s.group == "" {
		errs = append(errs, errors.New("--group is empty: name the consumer group the members share"))
	}
	if len(splitList(s.kafkaBrokers)) > 0 && s.group != "" {
		if err := s.groupConfig([]string{"-"}, "").Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := net.SplitHostPort(s.metricsAddr); err != nil {
		errs = append(errs, fmt.Errorf("--metrics-addr %q: %v (want host:port)", s.metricsAddr, err))
	}
	return errors.Join(errs...)
}

func (s *serviceFlags) groupConfig(topics []string, balancer string) transport.GroupConfig {
	return transport.GroupConfig{Brokers: splitList(s.kafkaBrokers), GroupID: s.group, Topics: topics,
		Balancer: balancer, SessionTimeout: s.session, HeartbeatInterval: s.heartbeat,
		RebalanceTimeout: max(30*time.Second, s.session)}
}

// serviceHTTP serves /metrics, /healthz, /readyz and /debug/pprof/ of a separate service.
type serviceHTTP struct {
	reg   *prometheus.Registry
	ready atomic.Bool
	srv   *http.Server
	addr  string
}

// newServiceHTTP returns a registry with the Go and process collectors and starts serving
// it on addr.
func newServiceHTTP(addr string, log *slog.Logger) (*serviceHTTP, error) {
	h := &serviceHTTP{reg: prometheus.NewRegistry()}
	h.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !h.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --metrics-addr %s: %w (pick another address)", addr, err)
	}
	h.addr = ln.Addr().String()
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return h, nil
}

func (h *serviceHTTP) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
}
