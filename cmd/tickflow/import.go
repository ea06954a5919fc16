package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tickflow/tickflow/archive/rerun"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/clickhouse"
	"github.com/tickflow/tickflow/sink/duckdb"
)

// storeFlags selects the store of the offline tools (import, renormalize).
type storeFlags struct {
	dataDir       string
	clickhouseDSN string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.dataDir, "data-dir", "tickflow-data", "data directory whose DuckDB store (tickflow.duckdb) receives the events")
	fs.StringVar(&s.clickhouseDSN, "clickhouse-dsn", "", "write to this ClickHouse (clickhouse://user:pass@host:9000/db) instead of the DuckDB store")
}

// open opens the selected store.
func (s *storeFlags) open(ctx context.Context) (sink.Store, error) {
	if s.clickhouseDSN != "" {
		cfg, err := clickhouse.ParseDSN(s.clickhouseDSN)
		if err != nil {
			return nil, fmt.Errorf("--clickhouse-dsn: %w", err)
		}
		return clickhouse.Open(ctx, cfg)
	}
	if s.dataDir == "" {
		return nil, errors.New("--data-dir is empty: give the data directory of the store")
	}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create --data-dir: %w", err)
	}
	st, err := duckdb.Open(ctx, duckdb.Config{Path: filepath.Join(s.dataDir, "tickflow.duckdb")})
	if errors.Is(err, duckdb.ErrInUse) {
		return nil, fmt.Errorf("%w: a tickflow run holds %s; stop it first (DuckDB admits one process per file)", err, s.dataDir)
	}
	return st, err
}

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	reportJSON := fs.String("report-json", "", "also write the report as JSON to this file")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tickflow import [flags] FILE.jsonl   (FILE - reads stdin; format: docs/import.md)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("give exactly one file of recorded raw frames (JSON lines, docs/import.md)")
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open import file: %w", err)
		}
		defer f.Close()
		in = f
	}
	store, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := rerun.New(rerun.Config{Store: store, Reimport: true, Log: log})
	if err != nil {
		return err
	}
	if err := rerun.ImportJSONL(ctx, in, r); err != nil {
		return err
	}
	rep, err := r.Finish(ctx)
	if err != nil {
		return err
	}
	return writeReport(rep, "import", *reportJSON, stdout)
}

// writeReport prints the report and writes its JSON form when asked.
func writeReport(rep *rerun.Report, title, jsonPath string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "%s report\n", title)
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if jsonPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--report-json: %w", err)
	}
	return nil
}

func init() {
	commands["import"] = command{"load recorded raw frames (JSON lines, docs/import.md) into the store, with a report", cmdImport}
}
