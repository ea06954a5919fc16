package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tickflow/tickflow/sink/clickhouse"
)

func init() {
	commands["candles"] = command{"reconcile or rebuild ClickHouse's candle views against the stored trades", cmdCandles}
}

// candlesOptions are the settings of `tickflow candles`.
type candlesOptions struct {
	action    string // reconcile or rebuild
	dsn       string
	intervals []clickhouse.CandleInterval
	from, to  time.Time
	venue     string
	symbol    string
}

// parseCandlesArgs parses `tickflow candles reconcile|rebuild [flags]` against now.
func parseCandlesArgs(args []string, now time.Time, stderr io.Writer) (candlesOptions, error) {
	var o candlesOptions
	fs := flag.NewFlagSet("candles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dsn, "clickhouse-dsn", "", "the ClickHouse store (clickhouse://user:pass@host:9000/db); required")
	interval := fs.String("interval", "all", "candle interval: 1s, 1m, 1h or all")
	from := fs.String("from", "", "start of the range, RFC 3339 or Unix ns (default: --to minus 24h)")
	to := fs.String("to", "", "end of the range (exclusive), RFC 3339 or Unix ns (default: 5 minutes ago, so the range is closed)")
	fs.StringVar(&o.venue, "venue", "", "rebuild: only this venue (with --symbol)")
	fs.StringVar(&o.symbol, "symbol", "", "rebuild: only this instrument (with --venue)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: tickflow candles reconcile|rebuild --clickhouse-dsn DSN [flags]

The candle bars (table candles, read through candles_1s_v, candles_1m_v and candles_1h_v)
are kept by materialized views, which count what is inserted, not what trades_v shows (rows
inserted twice outside the sink, partly re-normalized buckets). reconcile compares every bucket of the range (rounded out to whole
buckets) with the deduplicated trades and rebuilds exactly the buckets that differ; run it
periodically (a cron job) over closed intervals. rebuild recomputes the whole range.
(sink/clickhouse/SCHEMA.md, "Candles")`)
		fs.PrintDefaults()
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return o, flag.ErrHelp
		}
		return o, errors.New("say reconcile or rebuild")
	}
	o.action = args[0]
	if o.action != "reconcile" && o.action != "rebuild" {
		return o, fmt.Errorf("unknown action %q: say reconcile or rebuild", o.action)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var errs []error
	if o.dsn == "" {
		errs = append(errs, errors.New("--clickhouse-dsn is required (candles are kept only in ClickHouse)"))
	}
	switch *interval {
	case "all":
		o.intervals = clickhouse.CandleIntervals
	case "1s", "1m", "1h":
		o.intervals = []clickhouse.CandleInterval{clickhouse.CandleInterval(*interval)}
	default:
		errs = append(errs, fmt.Errorf("--interval %q: want 1s, 1m, 1h or all", *interval))
	}
	fromNs, errFrom := parseTimeFlag("from", *from)
	toNs, errTo := parseTimeFlag("to", *to)
	errs = append(errs, errFrom, errTo)
	o.to = now.Add(-5 * time.Minute).UTC()
	if toNs != 0 {
		o.to = time.Unix(0, toNs).UTC()
	}
	o.from = o.to.Add(-24 * time.Hour)
	if fromNs != 0 {
		o.from = time.Unix(0, fromNs).UTC()
	}
	if errFrom == nil && errTo == nil && !o.from.Before(o.to) {
		errs = append(errs, fmt.Errorf("--from %s is not before --to %s", o.from.Format(time.RFC3339), o.to.Format(time.RFC3339)))
	}
	if (o.venue == "") != (o.symbol == "") {
		errs = append(errs, errors.New("--venue and --symbol go together"))
	}
	if o.venue != "" && o.action == "reconcile" {
		errs = append(errs, errors.New("--venue/--symbol apply to rebuild; reconcile checks every instrument"))
	}
	return o, errors.Join(errs...)
}

func cmdCandles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseCandlesArgs(args, time.Now(), stderr)
	if err != nil {
		return err
	}
	cfg, err := clickhouse.ParseDSN(o.dsn)
	if err != nil {
		return fmt.Errorf("--clickhouse-dsn: %w", err)
	}
	store, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, iv := range o.intervals {
		start := time.Now()
		switch o.action {
		case "reconcile":
			res, err := store.ReconcileCandles(ctx, iv, o.from, o.to)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "candles_%s [%s, %s): %d buckets compared, %d rebuilt (%v)\n", iv,
				o.from.Format(time.RFC3339), o.to.Format(time.RFC3339), res.Buckets, len(res.Differing),
				time.Since(start).Round(time.Millisecond))
			for i, k := range res.Differing {
				if i == 20 {
					fmt.Fprintf(stdout, "  ... and %d more\n", len(res.Differing)-20)
					break
				}
				fmt.Fprintf(stdout, "  rebuilt %s %s %s\n", k.Venue, k.Symbol, k.Start.Format(time.RFC3339))
			}
		case "rebuild":
			if err := store.RebuildCandles(ctx, iv, o.from, o.to, o.venue, o.symbol); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "candles_%s [%s, %s): rebuilt (%v)\n", iv, o.from.Format(time.RFC3339),
				o.to.Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}
