package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	tfcollectors "github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/collectors/binance"
	binancesim "github.com/tickflow/tickflow/collectors/sim/binance"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/normalizer"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/duckdb"
	"github.com/tickflow/tickflow/stream"
	"github.com/tickflow/tickflow/transport"
)

// runConfig holds the flags of `tickflow run`.
type runConfig struct {
	dataDir      string
	demo         bool
	httpAddr     string
	brokerAddr   string
	kafkaBrokers string
	clickhouse   string
	venues       string
	binanceWS    string
	binanceREST  string
	symbols      string
	tokens       string
	logLevel     string
	sim          simFlags
	checkpoint   time.Duration
	channels     string
	depthLimit   int
	resnapshot   time.Duration
	readTimeout  time.Duration
	tailEvery    time.Duration
	archive      archiveFlags
}

func (c *runConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", "tickflow-data", "directory holding all state: broker log, store, collector state")
	fs.BoolVar(&c.demo, "demo", false, "start the built-in exchange simulators and collect from them (no internet needed)")
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP server: /ws, /metrics, /healthz, /readyz, /query")
	fs.StringVar(&c.brokerAddr, "broker-addr", "127.0.0.1:29092", "loopback address of the embedded Kafka-protocol broker (any Kafka client can attach)")
	fs.StringVar(&c.kafkaBrokers, "kafka-brokers", "", "use this Kafka cluster (host:port,...) instead of the embedded broker")
	fs.StringVar(&c.clickhouse, "clickhouse-dsn", "", "store into this ClickHouse (clickhouse://user:pass@host:9000/db) instead of the embedded DuckDB")
	fs.StringVar(&c.venues, "venues", "binance", "venues to collect, comma-separated")
	fs.StringVar(&c.binanceWS, "binance-ws", "wss://stream.binance.com:9443", "Binance WebSocket base URL")
	fs.StringVar(&c.binanceREST, "binance-rest", "https://api.binance.com", "Binance REST base URL")
	fs.StringVar(&c.symbols, "symbols", "", "native symbols to collect, comma-separated (default: all listed)")
	fs.StringVar(&c.tokens, "tokens", "", "API tokens accepted by /ws and /query, comma-separated (default: open)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.channels, "binance-channels", "trade,depth,bookTicker", "Binance channels to collect: trade, depth (diff depth + REST snapshots), bookTicker")
	fs.IntVar(&c.depthLimit, "binance-depth-limit", 1000, "Binance REST snapshot depth (levels per side; weight 5 up to 100, 50 up to 1000)")
	fs.DurationVar(&c.resnapshot, "binance-resnapshot-every", 30*time.Minute, "take a fresh Binance REST snapshot of each book this often (0 = never)")
	fs.DurationVar(&c.checkpoint, "checkpoint-every", 2*time.Second, "normalizer checkpoint interval")
	fs.DurationVar(&c.readTimeout, "read-timeout", 45*time.Second, "drop a venue connection silent for this long")
	fs.DurationVar(&c.tailEvery, "tail-check-every", 15*time.Second, "how often idle symbols are checked for missed trades over REST")
	c.sim.register(fs, "sim-")
	c.archive.register(fs)
}

func (c *runConfig) validate() error {
	var errs []error
	if c.dataDir == "" {
		errs = append(errs, errors.New("--data-dir is empty: give a directory for tickflow's state"))
	}
	for _, v := range splitList(c.venues) {
		if _, err := tfcollectors.Default.Lookup(v); err != nil {
			errs = append(errs, fmt.Errorf("--venues: %w", err))
		}
	}
	if _, _, err := net.SplitHostPort(c.httpAddr); err != nil {
		errs = append(errs, fmt.Errorf("--http-addr %q: %v (want host:port)", c.httpAddr, err))
	}
	return errors.Join(errs...)
}

// runInfoFile is the file in the data dir that tells other commands where the running
// process serves (removed on exit).
const runInfoFile = "run.json"

// loadRunInfo reads the run info of the tickflow running on dataDir.
func loadRunInfo(dataDir string) (runInfo, error) {
	var info runInfo
	b, err := os.ReadFile(filepath.Join(dataDir, runInfoFile))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

// runInfo is written to <data-dir>/run.json so other commands find the running process.
type runInfo struct {
	PID      int    `json:"pid"`
	HTTPAddr string `json:"http_addr"`
	Brokers  string `json:"brokers"`
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg runConfig
	cfg.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.logLevel)
	if err != nil {
		return err
	}
	applyGCDefaults(defaultGCPercent, defaultMemoryLimit)
	p := &pipeline{cfg: cfg, log: log, stdout: stdout}
	return p.run(ctx)
}

// pipeline wires every stage of `tickflow run` and stops them in data-flow order.
type pipeline struct {
	cfg    runConfig
	log    *slog.Logger
	stdout io.Writer
	reg    *prometheus.Registry

	ready   chan struct{}
	brokers []string
}

func (p *pipeline) run(ctx context.Context) (err error) {
	cfg := p.cfg
	log := p.log
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return fmt.Errorf("create --data-dir: %w", err)
	}
	p.reg = prometheus.NewRegistry()
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.ready = make(chan struct{})

	// 1. Kafka: embedded broker unless a cluster is given.
	var broker *transport.Embedded
	if cfg.kafkaBrokers != "" {
		p.brokers = splitList(cfg.kafkaBrokers)
	} else {
		broker, err = transport.StartEmbedded(transport.EmbeddedConfig{DataDir: filepath.Join(cfg.dataDir, "broker"), Addr: cfg.brokerAddr}, log)
		if err != nil {
			return fmt.Errorf("%w (is another tickflow using --broker-addr %s? pick another port)", err, cfg.brokerAddr)
		}
		defer timed(log, "broker close", func() error { broker.Close(); return nil })
		p.brokers = []string{broker.Addr()}
	}
	venues := splitList(cfg.venues)
	if err := transport.EnsureTopics(ctx, p.brokers, transport.Topics(venues, transport.TopicDefaults{})); err != nil {
		return err
	}
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: p.brokers}, p.reg, log)
	if err != nil {
		return err
	}
	defer timed(log, "producer close", func() error { return prod.Close(context.Background()) })

	// 2. Store and sink.
	// On small machines one DuckDB thread writes fastest (fewer cores contended with the
	// broker and normalizer); larger ones keep DuckDB's default.
	threads := 0
	if runtime.NumCPU() <= 2 {
		threads = 1
	}
	store, duck, err := openRunStore(ctx, cfg.clickhouse, filepath.Join(cfg.dataDir, "tickflow.duckdb"), threads)
	if err != nil {
		return err
	}
	defer timed(log, "store close", store.Close)
	sinkCons, err := p.sinkConsumer(ctx, store)
	if err != nil {
		return err
	}
	defer timed(log, "sink consumer close", sinkCons.Close)
	// Batch limits: the store's (sink.BatchSizer).
	runner, err := sink.NewRunner(sinkCons, store, sink.Config{Logger: log.With("stage", "sink"), Registerer: p.reg,
		DeadLetter: func(m transport.Message, reason string) {
			_ = prod.ProduceWithHeaders(context.Background(), transport.TopicDeadLetter, m.Key, m.Value,
				[]transport.Header{{Key: "reason", Value: []byte(reason)}, {Key: "source_topic", Value: []byte(m.Topic)}}, nil)
		}})
	if err != nil {
		return err
	}

	// 3. Gateway and its live feed.
	gw := stream.New(stream.Config{Tokens: splitList(cfg.tokens)}, p.reg, log.With("stage", "gateway"))
	feed := transport.NewConsumer(transport.ConsumerConfig{Brokers: p.brokers, Name: "gateway"}, p.reg, log)
	// From the live end: books get their base from the normalizer's periodic snapshots.
	if err := p.assignAll(ctx, feed, transport.OffsetNewest, transport.TopicTrades, transport.TopicIntegrity,
		transport.TopicBooks, transport.TopicBBO); err != nil {
		return err
	}
	defer timed(log, "gateway feed close", feed.Close)

	// 4. HTTP server.
	ln, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w (pick another address)", cfg.httpAddr, err)
	}
	hs := &http.Server{Handler: p.mux(gw, duck), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	httpAddr := ln.Addr().String()

	// 5. Simulators (demo) and venue endpoints.
	endpoints := map[string][2]string{"binance": {cfg.binanceWS, cfg.binanceREST}}
	var sim *binancesim.Server
	if cfg.demo {
		scfg, closeLog, err := cfg.sim.config(io.Discard)
		if err != nil {
			return err
		}
		defer closeLog()
		scfg.Logger = log.With("stage", "sim")
		if sim, err = binancesim.New(scfg); err != nil {
			return err
		}
		if err := sim.Start(); err != nil {
			return err
		}
		defer sim.Close()
		endpoints["binance"] = [2]string{"ws://" + sim.Addr(), "http://" + sim.Addr()}
	}

	info := runInfo{PID: os.Getpid(), HTTPAddr: httpAddr, Brokers: strings.Join(p.brokers, ",")}
	ib, _ := json.Marshal(info)
	infoPath := filepath.Join(cfg.dataDir, runInfoFile)
	if err := tfcollectors.WriteFileAtomic(infoPath, ib); err != nil {
		return err
	}
	defer os.Remove(infoPath)

	// Stages, each with its own context so they stop in data-flow order.
	type stage struct {
		name   string
		cancel context.CancelFunc
		done   chan error
	}
	start := func(name string, f func(ctx context.Context) error) *stage {
		sctx, cancel := context.WithCancel(context.Background())
		s := &stage{name: name, cancel: cancel, done: make(chan error, 1)}
		go func() { s.done <- f(sctx) }()
		return s
	}
	failed := make(chan error, 16)
	watch := func(s *stage) {
		go func() {
			// Only an early exit is a failure; results after shutdown are collected below.
			select {
			case err := <-s.done:
				s.done <- err
				if err != nil {
					failed <- fmt.Errorf("%s: %w", s.name, err)
				}
			case <-ctx.Done():
			}
		}()
	}

	sinkStage := start("sink", runner.Run)
	watch(sinkStage)
	var normStages []*stage
	nm := normalizer.NewMetrics(p.reg) // one set for every venue (labelled by venue)
	for _, v := range venues {
		conn, _ := tfcollectors.Default.Lookup(v)
		n := normalizer.New(normalizer.Config{Brokers: p.brokers, CheckpointEvery: cfg.checkpoint}, conn, prod, nm, log.With("stage", "normalizer"))
		s := start("normalizer "+v, n.Run)
		watch(s)
		normStages = append(normStages, s)
	}
	if arch, err := p.archiver(venues); err != nil {
		return err
	} else if arch != nil { // raw archive (ADR 0010): a raw consumer, stopped with the normalizers
		s := start("archive", arch.Run)
		watch(s)
		normStages = append(normStages, s)
	}
	feedStage := start("gateway feed", func(ctx context.Context) error { return feedGateway(ctx, feed, gw) })
	watch(feedStage)
	cm := tfcollectors.NewMetrics(p.reg)
	var collStages []*stage
	for _, v := range venues {
		eng, sess, err := p.engine(v, endpoints[v], prod, cm)
		if err != nil {
			return err
		}
		s := start("collector "+v, eng.Run)
		watch(s)
		collStages = append(collStages, s)
		if rq, ok := sess.(tfcollectors.SnapshotRequester); ok {
			ctl := transport.NewConsumer(transport.ConsumerConfig{Brokers: p.brokers, Name: "control-" + v}, p.reg, log)
			if err := p.assignAll(ctx, ctl, transport.OffsetNewest, transport.ControlTopic(v)); err != nil {
				return err
			}
			defer ctl.Close()
			cs := start("control "+v, func(ctx context.Context) error { return serveControl(ctx, ctl, rq, log) })
			watch(cs)
			collStages = append(collStages, cs)
		}
	}
	close(p.ready)

	fmt.Fprintf(p.stdout, "tickflow running\n  WebSocket:  ws://%s/ws   (subscribe: {\"op\":\"subscribe\",\"channels\":[\"trades:*:*\",\"book:binance:BTC-USDT@20\",\"bbo:*:*\"]})\n  metrics:    http://%s/metrics\n  health:     http://%s/healthz\n  SQL:        %s\n  Kafka:      %s\n",
		httpAddr, httpAddr, httpAddr, sqlHint(cfg.clickhouse, cfg.dataDir), strings.Join(p.brokers, ","))
	if sim != nil {
		fmt.Fprintf(p.stdout, "  simulator:  ws://%s (binance)\n", sim.Addr())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-failed:
		log.Error("stage failed; shutting down", "err", runErr)
	}

	// Shutdown in data-flow order: collectors, normalizers, sink, gateway, HTTP.
	stopAll := func(ss []*stage) {
		for _, s := range ss {
			s.cancel()
		}
		for _, s := range ss {
			select {
			case err := <-s.done:
				if err != nil && !errors.Is(err, context.Canceled) {
					log.Error("stage stopped with error", "stage", s.name, "err", err)
					runErr = errors.Join(runErr, err)
				}
			case <-time.After(8 * time.Second):
				log.Error("stage did not stop in time", "stage", s.name)
			}
		}
	}
	stopAll(collStages)
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_ = prod.Flush(sctx)
	cancel()
	stopAll(normStages)
	stopAll([]*stage{sinkStage, feedStage})
	gctx, gcancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = gw.Close(gctx)
	_ = hs.Shutdown(gctx)
	gcancel()
	if runErr == nil {
		log.Info("stopped cleanly")
	}
	return runErr
}

func (p *pipeline) engine(venue string, ep [2]string, prod *transport.Producer, cm *tfcollectors.Metrics) (*tfcollectors.Engine, tfcollectors.Session, error) {
	conn, err := tfcollectors.Default.Lookup(venue)
	if err != nil {
		return nil, nil, err
	}
	opts := map[string]string{"tail_every": p.cfg.tailEvery.String(), "channels": p.cfg.channels,
		"depth_limit": strconv.Itoa(p.cfg.depthLimit), "resnapshot_every": p.cfg.resnapshot.String()}
	stateDir := filepath.Join(p.cfg.dataDir, "collector", venue)
	sess, err := conn.NewSession(tfcollectors.SessionEnv{WSURL: ep[0], RESTURL: ep[1], Symbols: splitList(p.cfg.symbols),
		StateDir: stateDir, Log: p.log.With("stage", "collector", "venue", venue), Metrics: cm, Options: opts})
	if err != nil {
		return nil, nil, err
	}
	epochs, err := tfcollectors.OpenEpochs(filepath.Join(stateDir, "epoch"))
	if err != nil {
		return nil, nil, err
	}
	budget := tfcollectors.NewBudget(binance.WeightPerMinute(opts))
	budget.SetWindow(time.Minute) // Binance counts weight per clock minute (X-MBX-USED-WEIGHT-1M)
	rest := &tfcollectors.REST{Venue: venue, BaseURL: ep[1], Budget: budget,
		Client: &http.Client{Timeout: 30 * time.Second}, Metrics: cm, WeightHeader: "X-Mbx-Used-Weight-1m"}
	return tfcollectors.NewEngine(tfcollectors.EngineConfig{Venue: venue, ReadTimeout: p.cfg.readTimeout}, sess,
		&tfcollectors.KafkaRawWriter{P: prod}, epochs, rest, cm, p.log.With("stage", "collector")), sess, nil
}

// controlRequest is the normalizer's snapshot request (normalizer.resyncRequest).
type controlRequest struct {
	Symbol string `json:"symbol"`
	Epoch  uint64 `json:"epoch"`
	Seq    uint64 `json:"seq"`
}

// serveControl hands the normalizer's snapshot requests to the collector session.
func serveControl(ctx context.Context, c *transport.Consumer, rq tfcollectors.SnapshotRequester, log *slog.Logger) error {
	for {
		msgs, err := c.Poll(ctx, 100)
		if err != nil {
			return nil
		}
		for _, m := range msgs {
			var req controlRequest
			if err := json.Unmarshal(m.Value, &req); err != nil {
				log.Warn("ignoring malformed control request", "err", err)
				continue
			}
			rq.RequestSnapshot(req.Symbol, req.Epoch, req.Seq)
		}
	}
}

// sinkConsumer starts a consumer of the unified topics at the offsets the store holds.
func (p *pipeline) sinkConsumer(ctx context.Context, store sink.Store) (*transport.Consumer, error) {
	stored, err := store.Offsets(ctx)
	if err != nil {
		return nil, err
	}
	have := map[transport.TopicPartition]int64{}
	for _, o := range stored {
		have[transport.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Next
	}
	var offs []transport.Offset
	for _, topic := range []string{transport.TopicTrades, transport.TopicIntegrity, transport.TopicBooks, transport.TopicBBO} {
		parts, err := transport.Partitions(ctx, p.brokers, topic)
		if err != nil {
			return nil, err
		}
		for _, part := range parts {
			next, ok := have[transport.TopicPartition{Topic: topic, Partition: part}]
			if !ok {
				next = transport.OffsetOldest
			}
			offs = append(offs, transport.Offset{Topic: topic, Partition: part, Next: next})
		}
	}
	c := transport.NewConsumer(transport.ConsumerConfig{Brokers: p.brokers, Name: "sink"}, p.reg, p.log)
	return c, c.Assign(offs)
}

func (p *pipeline) assignAll(ctx context.Context, c *transport.Consumer, start int64, topics ...string) error {
	var offs []transport.Offset
	for _, topic := range topics {
		parts, err := transport.Partitions(ctx, p.brokers, topic)
		if err != nil {
			return err
		}
		for _, part := range parts {
			offs = append(offs, transport.Offset{Topic: topic, Partition: part, Next: start})
		}
	}
	return c.Assign(offs)
}

// feedGateway decodes live unified events and publishes them to the gateway.
func feedGateway(ctx context.Context, c *transport.Consumer, gw *stream.Gateway) error {
	dec := md.NewDecoder()
	var t md.Trade
	var e md.Integrity
	var u md.BookUpdate
	var st md.BookStatus
	var q md.BBO
	for {
		msgs, err := c.Poll(ctx, 1000)
		if err != nil {
			return nil
		}
		for i := range msgs {
			k, err := md.PeekKind(msgs[i].Value)
			if err != nil {
				continue // the sink dead-letters undecodable events
			}
			switch k {
			case md.KindTrade:
				if dec.DecodeTrade(&t, msgs[i].Value) == nil {
					gw.PublishTrade(&t)
				}
			case md.KindIntegrity:
				if dec.DecodeIntegrity(&e, msgs[i].Value) == nil {
					gw.PublishIntegrity(&e)
				}
			case md.KindBookUpdate:
				if dec.DecodeBookUpdate(&u, msgs[i].Value) == nil {
					gw.PublishBookUpdate(&u)
				}
			case md.KindBookStatus:
				if dec.DecodeBookStatus(&st, msgs[i].Value) == nil {
					gw.PublishBookStatus(&st)
				}
			case md.KindBBO:
				if dec.DecodeBBO(&q, msgs[i].Value) == nil {
					gw.PublishBBO(&q)
				}
			}
		}
	}
}

func (p *pipeline) mux(gw *stream.Gateway, store *duckdb.Store) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/ws", gw.Handler())
	mux.Handle("/metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-p.ready:
			io.WriteString(w, "ready\n")
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})
	if store != nil {
		mux.Handle("/query", queryHandler(store, splitList(p.cfg.tokens)))
	} else {
		mux.Handle("/query", clickhouseQueryHandler(p.cfg.clickhouse, splitList(p.cfg.tokens)))
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// timed runs a shutdown step and logs how long it took.
func timed(log *slog.Logger, what string, f func() error) {
	start := time.Now()
	err := f()
	log.Debug("shutdown step", "step", what, "took", time.Since(start), "err", err)
}
