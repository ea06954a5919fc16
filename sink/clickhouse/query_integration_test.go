//go:build integration

package clickhouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

func openQuerier(t *testing.T, cfg Config, qc QueryConfig) *Querier {
	t.Helper()
	q, err := OpenQuerier(context.Background(), cfg, qc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// TestIntegrationQueryReadOnly runs queries through the Querier on a real server and checks
// that what the guard refuses, and what the server's readonly=1 refuses when the guard is
// bypassed, leaves the store untouched.
func TestIntegrationQueryReadOnly(t *testing.T) {
	cfg := testConfig(t)
	s := openCfg(t, cfg)
	b := &sink.Batch{}
	for i := range 20 {
		b.Trades = append(b.Trades, mkTrade("binance", "BTC-USDT", uint64(i+1), uint64(100+i)))
	}
	write(t, s, b)
	q := openQuerier(t, cfg, QueryConfig{MaxRows: 1000})
	ctx := context.Background()

	rows, err := q.Query(ctx, "SELECT count() AS n, sum(price) AS p FROM trades_v")
	if err != nil {
		t.Fatal(err)
	}
	var wantP float64
	for _, tr := range b.Trades {
		wantP += tr.Price.Float64()
	}
	if got := rows.Values[0][0]; got != uint64(20) {
		t.Fatalf("count: got %v (%T), want 20", got, got)
	}
	if got := rows.Values[0][1].(float64); got < wantP-1e-6 || got > wantP+1e-6 {
		t.Fatalf("sum(price): got %v, want %v", got, wantP)
	}

	// Refused by the guard (the statement never reaches the server).
	for _, stmt := range []string{
		"INSERT INTO trades (venue) VALUES ('x')",
		"ALTER TABLE trades DELETE WHERE 1",
		"DROP TABLE trades",
		"CREATE TABLE evil (a Int8) ENGINE = Memory",
		"OPTIMIZE TABLE trades FINAL",
		"SYSTEM DROP MARK CACHE",
		"KILL QUERY WHERE 1",
		"ATTACH TABLE trades",
		"COPY trades TO 'x'",
		"INSTALL httpfs",
		"SELECT * FROM file('/etc/passwd', 'TSV', 'line String')",
		"SELECT * FROM url('http://127.0.0.1:18123/?query=SELECT+1', TSV, 'a String')",
		"SELECT * FROM s3('http://127.0.0.1/b/k', 'CSV')",
		"SELECT * FROM remote('127.0.0.1:19000', system.one)",
		"SELECT 1 SETTINGS readonly = 0",
		"SELECT count() FROM trades; DROP TABLE trades",
	} {
		if _, err := q.Query(ctx, stmt); !errors.Is(err, ErrQueryRefused) {
			t.Errorf("%q: got %v, want ErrQueryRefused", stmt, err)
		}
	}

	// Bypassing the guard: the server itself refuses every write and setting change under
	// the Querier's settings (readonly=1).
	for _, stmt := range []string{
		"INSERT INTO trades (venue, symbol, recv_ns) VALUES ('x', 'y', 1)",
		"ALTER TABLE trades DELETE WHERE 1",
		"DROP TABLE trades",
		"CREATE TABLE evil (a Int8) ENGINE = Memory",
		"OPTIMIZE TABLE trades FINAL",
		"SELECT 1 SETTINGS max_threads = 1",
		"SET readonly = 0",
	} {
		err := q.conn.Exec(q.settings(ctx), stmt)
		if err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("server under readonly=1 ran %q: %v", stmt, err)
		}
	}
	if n := queryInt(t, s, "SELECT count() FROM trades"); n != 20 {
		t.Fatalf("trades changed: %d rows, want 20", n)
	}
	if n := queryInt(t, s, "SELECT count() FROM system.tables WHERE database = ? AND name = 'evil'",
		cfg.Database); n != 0 {
		t.Fatal("a table was created")
	}
}

// TestIntegrationQueryLimitsAndFormats checks the row cap, the timeout and the CSV and JSON
// writers on real server types (Nullable, DateTime, Enum8, Array, UInt64).
func TestIntegrationQueryLimitsAndFormats(t *testing.T) {
	cfg := testConfig(t)
	s := openCfg(t, cfg)
	tr := mkTrade("binance", "BTC-USDT", 1, 18446744073709551615)
	tr.ExchTime = 0 // NULL
	tr.Side = md.SideSell
	write(t, s, &sink.Batch{Trades: []md.Trade{tr}})
	ctx := context.Background()

	q := openQuerier(t, cfg, QueryConfig{MaxRows: 5, Timeout: time.Second})
	start := time.Now()
	rows, err := q.Query(ctx, "SELECT number FROM system.numbers") // endless: the cap must stop it
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.Values) != 5 || !rows.Truncated {
		t.Fatalf("row cap: %d rows, truncated %v; want 5, true", len(rows.Values), rows.Truncated)
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Fatalf("row cap: took %v (the rest of the result was read)", d)
	}
	if _, err := q.Query(ctx, "SELECT 1"); err != nil {
		t.Fatalf("query after a truncated one: %v", err)
	}
	start = time.Now()
	_, err = q.Query(ctx, "SELECT sleep(3)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: got %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("timeout took %v", d)
	}

	rows, err = q.Query(ctx, `SELECT trade_id_num, exch_ns, side, toDateTime(intDiv(recv_ns, 1000000000), 'UTC') AS t,
		[1, 2] AS arr, price FROM trades`)
	if err != nil {
		t.Fatal(err)
	}
	var csvOut bytes.Buffer
	if err := rows.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	wantCSV := "trade_id_num,exch_ns,side,t,arr,price\n18446744073709551615,,sell,2026-01-01T00:00:00Z,\"[1,2]\",65000.13\n"
	if csvOut.String() != wantCSV {
		t.Fatalf("csv:\n%s\nwant\n%s", csvOut.String(), wantCSV)
	}
	var jsonOut bytes.Buffer
	if err := rows.WriteJSON(&jsonOut); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Columns   []string            `json:"columns"`
		Types     []string            `json:"types"`
		Rows      [][]json.RawMessage `json:"rows"`
		Truncated bool                `json:"truncated"`
	}
	if err := json.Unmarshal(jsonOut.Bytes(), &doc); err != nil {
		t.Fatalf("json: %v: %s", err, jsonOut.String())
	}
	got := []string{}
	for _, v := range doc.Rows[0] {
		got = append(got, string(v))
	}
	want := []string{"18446744073709551615", "null", `"sell"`, `"2026-01-01T00:00:00Z"`, "[1,2]", "65000.13"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("json row %v, want %v", got, want)
	}
	if doc.Types[1] != "Nullable(Int64)" || doc.Columns[3] != "t" {
		t.Fatalf("json columns %v types %v", doc.Columns, doc.Types)
	}
}
