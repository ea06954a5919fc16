package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	tfcollectors "github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/normalizer"
	"github.com/tickflow/tickflow/transport"
)

func init() {
	commands["normalize"] = command{"normalize raw topics into the unified topics, as a consumer-group member (venues spread over members)", cmdNormalize}
}

// normalizeFlags holds the flags of `tickflow normalize`.
type normalizeFlags struct {
	svc        serviceFlags
	venues     string
	checkpoint time.Duration
}

func (c *normalizeFlags) register(fs *flag.FlagSet) {
	c.svc.register(fs, "tickflow-normalizer", "127.0.0.1:9464")
	fs.StringVar(&c.venues, "venues", "binance", "venues to normalize, comma-separated (each venue's raw topic goes whole to one member)")
	fs.DurationVar(&c.checkpoint, "checkpoint-every", 2*time.Second, "normalizer checkpoint interval")
}

func (c *normalizeFlags) connectors() ([]tfcollectors.Connector, error) {
	var conns []tfcollectors.Connector
	var errs []error
	for _, v := range splitList(c.venues) {
		conn, err := tfcollectors.Default.Lookup(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("--venues: %w", err))
			continue
		}
		conns = append(conns, conn)
	}
	if len(conns) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("--venues is empty: name the venues to normalize"))
	}
	if c.checkpoint <= 0 {
		errs = append(errs, fmt.Errorf("--checkpoint-every %v: want a positive duration", c.checkpoint))
	}
	return conns, errors.Join(errs...)
}

func cmdNormalize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("normalize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg normalizeFlags
	cfg.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tickflow normalize --kafka-brokers HOST:PORT [--venues binance] [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	conns, cerr := cfg.connectors()
	if err := errors.Join(cfg.svc.validate(), cerr); err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.svc.logLevel)
	if err != nil {
		return err
	}
	log = log.With("stage", "normalizer")
	applyGCDefaults(defaultGCPercent, defaultMemoryLimit) // as in `tickflow run` (gc.go)
	h, err := newServiceHTTP(cfg.svc.metricsAddr, log)
	if err != nil {
		return err
	}
	defer h.close()
	brokers := splitList(cfg.svc.kafkaBrokers)
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics(splitList(cfg.venues), transport.TopicDefaults{})); err != nil {
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
	g, err := transport.NewGroup(cfg.svc.groupConfig(normalizer.GroupTopics(conns), transport.BalancerWholeTopic), h.reg, log)
	if err != nil {
		return err
	}
	h.ready.Store(true)
	log.Info("normalizer running", "group", cfg.svc.group, "venues", cfg.venues, "metrics", "http://"+h.addr+"/metrics")
	// On SIGTERM every venue finishes its polled batch and writes a final checkpoint.
	if err := normalizer.RunGroup(ctx, g, normalizer.Config{Brokers: brokers, CheckpointEvery: cfg.checkpoint},
		conns, prod, normalizer.NewMetrics(h.reg), log); err != nil {
		return err
	}
	log.Info("stopped cleanly")
	return nil
}
