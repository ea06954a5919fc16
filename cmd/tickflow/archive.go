package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tickflow/tickflow/archive"
	"github.com/tickflow/tickflow/archive/rawjson"
	"github.com/tickflow/tickflow/md"
)

// archiveFlags are the raw-archive flags of `tickflow run` (ADR 0010).
type archiveFlags struct {
	off     bool
	dir     string
	noGuard bool
}

func (a *archiveFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&a.off, "archive-off", false, "do not archive raw frames beyond Kafka retention (re-normalization then only reaches retained raw)")
	fs.StringVar(&a.dir, "archive-dir", "", "raw archive directory (default <data-dir>/archive)")
	fs.BoolVar(&a.noGuard, "archive-no-guard", false, "do not hold raw-topic retention back while the archive is behind (only alert: tickflow_archive_retention_headroom_seconds)")
}

// archiveDir returns the archive directory of a data dir.
func archiveDir(dataDir, flagDir string) string {
	if flagDir != "" {
		return flagDir
	}
	return filepath.Join(dataDir, "archive")
}

// archiver returns the archive stage of `tickflow run`, or nil when it is off.
func (p *pipeline) archiver(venues []string) (*archive.Archiver, error) {
	a := p.cfg.archive
	if a.off {
		return nil, nil
	}
	return archive.New(archive.Config{Dir: archiveDir(p.cfg.dataDir, a.dir), Brokers: p.brokers, Venues: venues,
		NoGuard: a.noGuard, Registerer: p.reg, Log: p.log.With("stage", "archive")})
}

func init() {
	commands["archive"] = command{"archive raw topics beyond Kafka retention as a service (or: archive inspect)", cmdArchive}
}

// cmdArchive runs the archiver alone against a Kafka cluster (the scale-out deployment;
// `tickflow run` has it built in), or with "inspect" prints what an archive holds.
func cmdArchive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "inspect" {
		return cmdArchiveInspect(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "export" {
		return cmdArchiveExport(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("archive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("kafka-brokers", "", "Kafka cluster holding the raw topics, host:port,... (required)")
	dir := fs.String("archive-dir", "", "archive directory (required)")
	venues := fs.String("venues", "binance", "venues whose raw topics are archived, comma-separated")
	httpAddr := fs.String("metrics-addr", "127.0.0.1:9466", "address serving /metrics and /healthz (normalize uses 9464, sink 9465)")
	retention := fs.Duration("raw-retention", archive.DefaultRawRetention, "the raw topics' configured retention (the guard returns to it once caught up)")
	noGuard := fs.Bool("no-guard", false, "do not hold raw-topic retention back while the archive is behind (only alert)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tickflow archive --kafka-brokers H:P --archive-dir DIR [flags]\n       tickflow archive inspect --archive-dir DIR [--venues v,...]\n       tickflow archive export --archive-dir DIR --venue v [--partition N] > capture.jsonl")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var errs []error
	if *brokers == "" {
		errs = append(errs, errors.New("--kafka-brokers is required (tickflow run archives by itself; this command is for a Kafka cluster)"))
	}
	if *dir == "" {
		errs = append(errs, errors.New("--archive-dir is required: the directory the segment files go to"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	a, err := archive.New(archive.Config{Dir: *dir, Brokers: splitList(*brokers), Venues: splitList(*venues),
		Retention: *retention, NoGuard: *noGuard, Registerer: reg, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("listen on --metrics-addr %s: %w (pick another address)", *httpAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	log.Info("archiving", "dir", *dir, "venues", *venues, "metrics", "http://"+ln.Addr().String()+"/metrics")
	return a.Run(ctx)
}

// cmdArchiveInspect prints, per venue and partition, the archived offsets, records, blocks,
// receive-time range, bytes and holes.
func cmdArchiveInspect(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("archive inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "tickflow-data", "data directory (its archive is <data-dir>/archive)")
	dir := fs.String("archive-dir", "", "archive directory (default <data-dir>/archive)")
	venues := fs.String("venues", "binance", "venues to inspect, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root := archiveDir(*dataDir, *dir)
	for _, v := range splitList(*venues) {
		parts, err := archive.Partitions(root, v)
		if err != nil {
			return err
		}
		if len(parts) == 0 {
			fmt.Fprintf(stdout, "%s: nothing archived under %s\n", v, root)
			continue
		}
		for _, p := range parts {
			r, err := archive.OpenPartition(root, v, p)
			if err != nil {
				return err
			}
			sum := r.Summary()
			if sum.Blocks == 0 && len(sum.Holes) == 0 {
				fmt.Fprintf(stdout, "%s p%03d: empty\n", v, p)
				r.Close()
				continue
			}
			fmt.Fprintf(stdout, "%s p%03d: offsets %d..%d, %d records in %d blocks, %d bytes, received %s .. %s\n", v, p, sum.First, sum.Last,
				sum.Records, sum.Blocks, sum.Bytes, time.Unix(0, sum.MinRecv).UTC().Format(time.RFC3339Nano), time.Unix(0, sum.MaxRecv).UTC().Format(time.RFC3339Nano))
			for _, h := range r.Holes() {
				fmt.Fprintf(stdout, "  HOLE offsets %d..%d (deleted from Kafka before archived; found %s)\n", h.First, h.Last,
					time.Unix(0, h.Detected).UTC().Format(time.RFC3339))
			}
			r.Close()
		}
	}
	return nil
}

// cmdArchiveExport writes archived raw records as import lines (docs/import.md), partition by
// partition in offset order, so an archive can be inspected with text tools or imported
// elsewhere.
func cmdArchiveExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("archive export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "tickflow-data", "data directory (its archive is <data-dir>/archive)")
	dir := fs.String("archive-dir", "", "archive directory (default <data-dir>/archive)")
	venue := fs.String("venue", "binance", "venue to export")
	part := fs.Int("partition", -1, "only this raw partition (default all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root := archiveDir(*dataDir, *dir)
	parts, err := archive.Partitions(root, *venue)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 1<<20)
	dec := md.NewDecoder()
	var rec md.RawRecord
	var line []byte
	for _, p := range parts {
		if *part >= 0 && p != *part {
			continue
		}
		r, err := archive.OpenPartition(root, *venue, p)
		if err != nil {
			return err
		}
		for {
			ar, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return err
			}
			if err := dec.DecodeRaw(&rec, ar.Envelope); err != nil {
				r.Close()
				return fmt.Errorf("archive export: partition %d offset %d: %w", p, ar.Offset, err)
			}
			line = rawjson.AppendLine(line[:0], &rec)
			if _, err := w.Write(line); err != nil {
				r.Close()
				return err
			}
		}
		r.Close()
	}
	return w.Flush()
}
