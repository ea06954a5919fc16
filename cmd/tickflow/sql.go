package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tickflow/tickflow/sink/clickhouse"
	"github.com/tickflow/tickflow/sink/duckdb"
)

// queryResult is a materialized query result of either store (*duckdb.Rows,
// *clickhouse.Rows).
type queryResult interface {
	WriteCSV(w io.Writer) error
	WriteJSON(w io.Writer) error
}

// queryFunc runs one untrusted query on a store's hardened read-only path and returns the
// result with its column names and values (for Parquet).
type queryFunc func(ctx context.Context, q string) (res queryResult, cols []string, vals [][]any, err error)

// duckdbQuery runs queries on the DuckDB store (Store.Query).
func duckdbQuery(store *duckdb.Store) queryFunc {
	return func(ctx context.Context, q string) (queryResult, []string, [][]any, error) {
		rows, err := store.Query(ctx, q)
		if err != nil {
			return nil, nil, nil, err
		}
		return rows, rows.Columns, rows.Values, nil
	}
}

// queryHandler serves read-only SQL on the DuckDB store: GET or POST
// /query?q=...&format=csv|json|parquet. Queries run on the store's hardened read path
// (sink/duckdb Store.Query).
func queryHandler(store *duckdb.Store, tokens []string) http.Handler {
	return serveQuery(duckdbQuery(store), tokens)
}

// queryFormats are the output formats of /query and tickflow sql.
var queryFormats = map[string]string{"csv": "text/csv", "json": "application/json",
	"parquet": "application/vnd.apache.parquet"}

// serveQuery serves GET or POST /query?q=...&format=csv|json|parquet (the SQL as ?q= or as
// the POST body) through run, after checking the token.
func serveQuery(run queryFunc, tokens []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tokenOK(r, tokens) {
			http.Error(w, "unauthorized: pass a valid token as 'Authorization: Bearer <token>' or ?token=", http.StatusUnauthorized)
			return
		}
		format := r.URL.Query().Get("format")
		if format == "" {
			format = "csv"
		}
		ctype, ok := queryFormats[format]
		if !ok {
			http.Error(w, "format "+format+": use csv, json or parquet", http.StatusBadRequest)
			return
		}
		q := r.URL.Query().Get("q")
		if q == "" && r.Method == http.MethodPost {
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
				return
			}
			q = string(b)
		}
		if strings.TrimSpace(q) == "" {
			http.Error(w, "missing query: pass the SQL as ?q= or as the POST body", http.StatusBadRequest)
			return
		}
		res, cols, vals, err := run(r.Context(), q)
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			http.Error(w, err.Error(), status)
			return
		}
		var buf bytes.Buffer // a failure can still become an error response
		if err := writeResult(r.Context(), &buf, format, res, cols, vals); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = buf.WriteTo(w)
	})
}

// writeResult writes a result in format (csv, json or parquet).
func writeResult(ctx context.Context, w io.Writer, format string, res queryResult, cols []string,
	vals [][]any) error {
	switch format {
	case "json":
		return res.WriteJSON(w)
	case "parquet":
		return writeParquet(ctx, w, cols, vals)
	}
	return res.WriteCSV(w)
}

func tokenOK(r *http.Request, tokens []string) bool {
	if len(tokens) == 0 {
		return true
	}
	got := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		got = strings.TrimPrefix(h, "Bearer ")
	}
	for _, t := range tokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			return true
		}
	}
	return false
}

func cmdSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "tickflow-data", "data directory of the tickflow to query (DuckDB store)")
	chDSN := fs.String("clickhouse-dsn", "", "query this ClickHouse store instead (clickhouse://user:pass@host:9000/db), read-only")
	format := fs.String("format", "csv", "output format: csv, json or parquet")
	timeout := fs.Duration("timeout", 0, "query timeout (default: the store's, 30s)")
	token := fs.String("token", os.Getenv("TICKFLOW_TOKEN"), "API token if the running tickflow requires one (or TICKFLOW_TOKEN)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tickflow sql [flags] \"SELECT ...\"")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("give exactly one SQL query (quote it)")
	}
	if _, ok := queryFormats[*format]; !ok {
		return fmt.Errorf("--format %q: use csv, json or parquet", *format)
	}
	q := fs.Arg(0)
	if *chDSN != "" {
		cfg, err := clickhouse.ParseDSN(*chDSN)
		if err != nil {
			return fmt.Errorf("--clickhouse-dsn: %w", err)
		}
		querier, err := clickhouse.OpenQuerier(ctx, cfg, clickhouse.QueryConfig{Timeout: *timeout})
		if err != nil {
			return err
		}
		defer querier.Close()
		res, cols, vals, err := clickhouseQuery(querier)(ctx, q)
		if err != nil {
			return err
		}
		return writeResult(ctx, stdout, *format, res, cols, vals)
	}
	// A running tickflow holds the DuckDB file (one process per file): ask it.
	if info, err := loadRunInfo(*dataDir); err == nil && info.HTTPAddr != "" {
		err := queryRemote(ctx, info.HTTPAddr, q, *format, *token, stdout)
		if err == nil || !isConnRefused(err) {
			return err
		}
		// stale run.json: the process is gone; fall through to the file.
	}
	path := filepath.Join(*dataDir, "tickflow.duckdb")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no store at %s: run 'tickflow run --data-dir %s' first", path, *dataDir)
	}
	store, err := duckdb.Open(ctx, duckdb.Config{Path: path, ReadOnly: true, QueryTimeout: *timeout})
	if err != nil {
		return err
	}
	defer store.Close()
	res, cols, vals, err := duckdbQuery(store)(ctx, q)
	if err != nil {
		return err
	}
	return writeResult(ctx, stdout, *format, res, cols, vals)
}

func isConnRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}

func queryRemote(ctx context.Context, addr, q, format, token string, w io.Writer) error {
	u := "http://" + addr + "/query?format=" + url.QueryEscape(format)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(q))
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("query refused (%s): %s", resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
