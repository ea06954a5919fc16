package main

import (
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

	"github.com/tickflow/tickflow/sink/duckdb"
)

// queryHandler serves read-only SQL: GET or POST /query?q=...&format=csv|json. Queries run
// on the store's hardened read path (docs/adr, sink/duckdb).
func queryHandler(store *duckdb.Store, tokens []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tokenOK(r, tokens) {
			http.Error(w, "unauthorized: pass a valid token as 'Authorization: Bearer <token>' or ?token=", http.StatusUnauthorized)
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
		rows, err := store.Query(r.Context(), q)
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			http.Error(w, err.Error(), status)
			return
		}
		switch r.URL.Query().Get("format") {
		case "json":
			w.Header().Set("Content-Type", "application/json")
			err = rows.WriteJSON(w)
		default:
			w.Header().Set("Content-Type", "text/csv")
			err = rows.WriteCSV(w)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
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
	dataDir := fs.String("data-dir", "tickflow-data", "data directory of the tickflow to query")
	format := fs.String("format", "csv", "output format: csv or json")
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
	if *format != "csv" && *format != "json" {
		return fmt.Errorf("--format %q: use csv or json", *format)
	}
	q := fs.Arg(0)
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
	store, err := duckdb.OpenReadOnly(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	rows, err := store.Query(ctx, q)
	if err != nil {
		return err
	}
	if *format == "json" {
		return rows.WriteJSON(stdout)
	}
	return rows.WriteCSV(stdout)
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
