package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/tickflow/tickflow/archive/rerun"
	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/clickhouse"
	"github.com/tickflow/tickflow/sink/duckdb"
	"github.com/tickflow/tickflow/transport"
)

func init() {
	commands["renormalize"] = command{"re-read raw history (archive + raw topic) through the current parsers with a newer parser version", cmdRenormalize}
}

// renormOptions are the settings of `tickflow renormalize`.
type renormOptions struct {
	store         storeFlags
	archiveDir    string
	kafkaBrokers  string
	venues        string
	parserVersion int
	from, to      string
	skipCheck     bool
	resume        bool
	reportJSON    string
}

func cmdRenormalize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("renormalize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o renormOptions
	o.store.register(fs)
	fs.StringVar(&o.archiveDir, "archive-dir", "", "raw archive directory (default <data-dir>/archive)")
	fs.StringVar(&o.kafkaBrokers, "kafka-brokers", "", "Kafka cluster holding the raw topics (default: the running tickflow's broker, else the embedded broker's data in <data-dir>/broker)")
	fs.StringVar(&o.venues, "venues", "binance", "venues to re-normalize, comma-separated")
	fs.IntVar(&o.parserVersion, "parser-version", 0, "parser version stored with the new rows; must be greater than every version stored for the venue (required)")
	fs.StringVar(&o.from, "from", "", "store only events received at or after this time (RFC 3339 or Unix ns; history before it is still read for state)")
	fs.StringVar(&o.to, "to", "", "store only events received before this time (RFC 3339 or Unix ns)")
	fs.BoolVar(&o.skipCheck, "skip-version-check", false, "do not check the stored parser versions (for a store that cannot be asked: check SELECT max(parser_version) yourself)")
	fs.BoolVar(&o.resume, "resume", false, "continue an interrupted run: allow --parser-version equal to the newest stored one (what was stored is skipped by the watermarks)")
	fs.StringVar(&o.reportJSON, "report-json", "", "also write the report as JSON to this file")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	return renormalize(ctx, o, collectors.Default, log, stdout)
}

// parseTimeFlag parses an RFC 3339 time or Unix nanoseconds ("" = 0).
func parseTimeFlag(name, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	if ns, err := strconv.ParseInt(v, 10, 64); err == nil && ns > 0 {
		return ns, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want RFC 3339 (2026-11-22T00:00:00Z) or Unix nanoseconds", name, v)
	}
	return t.UnixNano(), nil
}

func (o *renormOptions) validate() (from, to int64, err error) {
	var errs []error
	if o.parserVersion <= 0 || o.parserVersion > 65535 {
		errs = append(errs, fmt.Errorf("--parser-version %d: give the new parser version, 1..65535, above every stored one", o.parserVersion))
	}
	if len(splitList(o.venues)) == 0 {
		errs = append(errs, errors.New("--venues is empty: name the venues to re-normalize"))
	}
	var e1, e2 error
	from, e1 = parseTimeFlag("from", o.from)
	to, e2 = parseTimeFlag("to", o.to)
	errs = append(errs, e1, e2)
	if e1 == nil && e2 == nil && to != 0 && from >= to {
		errs = append(errs, fmt.Errorf("--from %s is not before --to %s", o.from, o.to))
	}
	return from, to, errors.Join(errs...)
}

// storedParserVersion returns the highest parser version stored for venue, when the store
// can be asked: DuckDB (its watermarks) or ClickHouse (the tables' rows, through the
// read-only querier).
func storedParserVersion(ctx context.Context, st sink.Store, sf storeFlags, venue string) (uint16, bool, error) {
	if d, ok := st.(*duckdb.Store); ok {
		rows, err := d.Query(ctx, "SELECT CAST(coalesce(max(parser_version), 0) AS INTEGER) FROM watermarks WHERE venue = ?", venue)
		if err != nil {
			return 0, true, fmt.Errorf("read stored parser versions: %w", err)
		}
		if len(rows.Values) != 1 {
			return 0, true, errors.New("read stored parser versions: no result")
		}
		v, ok := rows.Values[0][0].(int32)
		if !ok {
			return 0, true, fmt.Errorf("read stored parser versions: unexpected %T", rows.Values[0][0])
		}
		return uint16(v), true, nil
	}
	if sf.clickhouseDSN == "" {
		return 0, false, nil
	}
	if !venueName.MatchString(venue) {
		return 0, true, fmt.Errorf("venue %q is not a plain name", venue)
	}
	cfg, err := clickhouse.ParseDSN(sf.clickhouseDSN)
	if err != nil {
		return 0, true, err
	}
	q, err := clickhouse.OpenQuerier(ctx, cfg, clickhouse.QueryConfig{})
	if err != nil {
		return 0, true, err
	}
	defer q.Close()
	var newest uint16
	// Trades and integrity events exist in every schema version; the other tables only in
	// newer ones (a missing table holds no version).
	for i, table := range []string{"trades", "integrity", "book_updates", "book_status", "bbo"} {
		rows, err := q.Query(ctx, "SELECT toUInt16(max(parser_version)) FROM "+table+" WHERE venue = '"+venue+"'")
		if err != nil {
			if i < 2 {
				return 0, true, fmt.Errorf("read stored parser versions from %s: %w", table, err)
			}
			continue
		}
		if len(rows.Values) == 1 {
			if v, ok := rows.Values[0][0].(*uint16); ok && v != nil {
				newest = max(newest, *v)
			} else if v, ok := rows.Values[0][0].(uint16); ok {
				newest = max(newest, v)
			}
		}
	}
	return newest, true, nil
}

var venueName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// rawBrokers finds the Kafka cluster holding the raw topics: --kafka-brokers, the running
// tickflow's broker, or the embedded broker's data in the data dir (started here; stop is
// its closer). nil brokers: archive only.
func (o *renormOptions) rawBrokers(log *slog.Logger) (brokers []string, stop func(), err error) {
	if o.kafkaBrokers != "" {
		return splitList(o.kafkaBrokers), func() {}, nil
	}
	if info, err := loadRunInfo(o.store.dataDir); err == nil && info.Brokers != "" && processAlive(info.PID) {
		return splitList(info.Brokers), func() {}, nil
	}
	dir := filepath.Join(o.store.dataDir, "broker")
	if _, err := os.Stat(dir); err != nil {
		return nil, func() {}, nil
	}
	b, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: dir, Addr: "127.0.0.1:0", RetentionInterval: 24 * time.Hour}, log)
	if err != nil {
		return nil, nil, fmt.Errorf("open the embedded broker's data in %s: %w", dir, err)
	}
	return []string{b.Addr()}, b.Close, nil
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// renormalize re-reads each venue's raw history through reg's connectors with the new
// parser version and writes the events to the store.
func renormalize(ctx context.Context, o renormOptions, reg *collectors.Registry, log *slog.Logger, stdout io.Writer) error {
	from, to, err := o.validate()
	if err != nil {
		return err
	}
	venues := splitList(o.venues)
	for _, v := range venues {
		if _, err := reg.Lookup(v); err != nil {
			return fmt.Errorf("--venues: %w", err)
		}
	}
	store, err := o.store.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, v := range venues {
		stored, known, err := storedParserVersion(ctx, store, o.store, v)
		if err != nil {
			return err
		}
		switch {
		case !known && !o.skipCheck:
			return errors.New("this store cannot report its stored parser versions: check them (SELECT max(parser_version) ...) and pass --skip-version-check")
		case known && o.resume && uint16(o.parserVersion) != stored:
			return fmt.Errorf("--resume continues the run that stored version %d for %s: pass --parser-version %d (or drop --resume for a new run)",
				stored, v, stored)
		case known && !o.resume && uint16(o.parserVersion) <= stored:
			return fmt.Errorf("--parser-version %d is not above the version %d already stored for %s: re-normalized rows must carry a newer version (try --parser-version %d, or --resume to finish an interrupted run)",
				o.parserVersion, stored, v, stored+1)
		}
	}
	brokers, stop, err := o.rawBrokers(log)
	if err != nil {
		return err
	}
	defer stop()
	r, err := rerun.New(rerun.Config{Registry: reg, Store: store, ParserVersion: uint16(o.parserVersion), From: from, To: to, Log: log})
	if err != nil {
		return err
	}
	for _, v := range venues {
		h := rerun.History{Venue: v, ArchiveDir: archiveDir(o.store.dataDir, o.archiveDir), Brokers: brokers, Log: log}
		if err := h.Replay(ctx, r); err != nil {
			return fmt.Errorf("renormalize %s: %w", v, err)
		}
	}
	rep, err := r.Finish(ctx)
	if err != nil {
		return err
	}
	return writeReport(rep, "renormalize", o.reportJSON, stdout)
}
