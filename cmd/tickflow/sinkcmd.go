package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/clickhouse"
	"github.com/tickflow/tickflow/transport"
)

func init() {
	commands["sink"] = command{"store the unified topics exactly once (ClickHouse or DuckDB), as a consumer-group member", cmdSink}
}

// sinkFlags holds the flags of `tickflow sink`.
type sinkFlags struct {
	svc           serviceFlags
	store         storeFlags
	batchRows     int
	batchDelay    time.Duration
	writeAttempts int
	fetchMaxBytes int
}

func (c *sinkFlags) register(fs *flag.FlagSet) {
	c.svc.register(fs, "tickflow-sink", "127.0.0.1:9465")
	c.store.register(fs)
	fs.IntVar(&c.batchRows, "batch-rows", 0, fmt.Sprintf("cut a batch at this many messages (0: the store's default, ClickHouse %d, DuckDB %d)",
		clickhouse.DefaultBatchRows, sink.DefaultMaxRows))
	fs.DurationVar(&c.batchDelay, "batch-delay", 0, fmt.Sprintf("cut a batch this long after its first message (0: the store's default, ClickHouse %v, DuckDB %v)",
		clickhouse.DefaultBatchDelay, sink.DefaultMaxDelay))
	fs.IntVar(&c.fetchMaxBytes, "fetch-max-bytes", 4<<20, "most bytes fetched per partition per request: bounds the memory the sink holds while its store is slow or down")
	fs.IntVar(&c.writeAttempts, "write-attempts", 0, "give up (exit) after a batch failed this many times; 0 retries forever (with backoff up to 10s), so an unreachable store means lag, not an exit")
}

func (c *sinkFlags) validate() error {
	errs := []error{c.svc.validate()}
	if c.batchRows < 0 {
		errs = append(errs, fmt.Errorf("--batch-rows %d: want a positive number (0: the store's default)", c.batchRows))
	}
	if c.batchDelay < 0 {
		errs = append(errs, fmt.Errorf("--batch-delay %v: want a positive duration (0: the store's default)", c.batchDelay))
	}
	if c.fetchMaxBytes < 1<<16 {
		errs = append(errs, fmt.Errorf("--fetch-max-bytes %d: want at least 65536", c.fetchMaxBytes))
	}
	if c.writeAttempts < 0 {
		errs = append(errs, fmt.Errorf("--write-attempts %d: want 0 (forever) or more", c.writeAttempts))
	}
	return errors.Join(errs...)
}

func cmdSink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg sinkFlags
	cfg.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tickflow sink --kafka-brokers HOST:PORT (--clickhouse-dsn clickhouse://HOST:9000/DB | --data-dir DIR) [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.svc.logLevel)
	if err != nil {
		return err
	}
	log = log.With("stage", "sink")
	// GOGC 400 and a 2 GiB soft limit (gc.go): the sink spent 40% of its CPU in the collector
	// at GOGC 100 and over half at 200 with 250,000-row batches (BENCHMARKS.md).
	applyGCDefaults(sinkGCPercent, sinkMemoryLimit)
	return runSink(ctx, cfg, log)
}

func runSink(ctx context.Context, cfg sinkFlags, log *slog.Logger) error {
	h, err := newServiceHTTP(cfg.svc.metricsAddr, log)
	if err != nil {
		return err
	}
	defer h.close()
	brokers := splitList(cfg.svc.kafkaBrokers)
	store, err := cfg.store.open(ctx)
	if err != nil {
		return err
	}
	defer timed(log, "store close", store.Close)
	topics := sink.Topics(store)
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics(nil, transport.TopicDefaults{})); err != nil {
		return fmt.Errorf("%w (is --kafka-brokers %s a reachable Kafka?)", err, cfg.svc.kafkaBrokers)
	}
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers}, h.reg, log)
	if err != nil {
		return err
	}
	defer timed(log, "producer close", func() error {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return prod.Close(cctx)
	})
	g, err := transport.NewGroup(cfg.svc.groupConfig(topics, transport.BalancerRange), h.reg, log)
	if err != nil {
		return err
	}
	attempts := cfg.writeAttempts
	if attempts == 0 {
		attempts = math.MaxInt32
	}
	open := func(offs []transport.Offset) (sink.PartitionSource, error) {
		c := transport.NewConsumer(transport.ConsumerConfig{Brokers: brokers, Name: "sink", MaxBytes: cfg.fetchMaxBytes}, nil, log)
		if err := c.Assign(offs); err != nil {
			return nil, errors.Join(err, c.Close())
		}
		h.ready.Store(true) // ready once it has taken over its first assignment
		return c, nil
	}
	gr, err := sink.NewGroupRunner(store, open, sink.Config{MaxRows: cfg.batchRows, MaxDelay: cfg.batchDelay,
		WriteAttempts: attempts, Logger: log, Registerer: h.reg,
		DeadLetter: func(m transport.Message, reason string) {
			_ = prod.ProduceWithHeaders(context.Background(), transport.TopicDeadLetter, m.Key, m.Value,
				[]transport.Header{{Key: "reason", Value: []byte(reason)}, {Key: "source_topic", Value: []byte(m.Topic)}}, nil)
		}})
	if err != nil {
		return err
	}
	log.Info("sink running", "group", cfg.svc.group, "topics", topics, "metrics", "http://"+h.addr+"/metrics")
	// On SIGTERM Run writes the batch in flight with its offsets and leaves the group.
	if err := gr.Run(ctx, g); err != nil {
		return err
	}
	log.Info("stopped cleanly")
	return nil
}
