//go:build integration

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/clickhouse"
)

// clickhouseQueryStore writes n trades into a new database of the ClickHouse server of
// TICKFLOW_CLICKHOUSE (dropped at the end) and returns its DSN.
func clickhouseQueryStore(t *testing.T, n int) string {
	t.Helper()
	addr := os.Getenv("TICKFLOW_CLICKHOUSE")
	if addr == "" {
		t.Skip("TICKFLOW_CLICKHOUSE is not set: start a real server with deploy/ci/clickhouse.sh start")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	db := "tickflow_q_" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() {
		c, err := ch.Open(&ch.Options{Addr: []string{addr}})
		if err == nil {
			_ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			_ = c.Close()
		}
	})
	ctx := context.Background()
	s, err := clickhouse.Open(ctx, clickhouse.Config{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write(ctx, &sink.Batch{Trades: queryTestTrades(n)}); err != nil {
		t.Fatal(err)
	}
	return "clickhouse://" + addr + "/" + db
}

// TestIntegrationClickHouseQueryEndpoint checks /query on a ClickHouse store (what `tickflow
// run --clickhouse-dsn` serves): token, CSV, JSON and Parquet, and that every kind of
// statement that could write, change a setting or reach outside the database is refused and
// changed nothing.
func TestIntegrationClickHouseQueryEndpoint(t *testing.T) {
	dsn := clickhouseQueryStore(t, 40)
	srv := httptest.NewServer(clickhouseQueryHandler(dsn, []string{"secret"}))
	defer srv.Close()
	q := "SELECT trade_id_num, price, toDateTime(intDiv(recv_ns, 1000000000), 'UTC') AS t, side " +
		"FROM trades_v ORDER BY trade_id_num"

	if code, _ := getQuery(t, srv, url.Values{"q": {q}}, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("bad token: %d, want 401", code)
	}
	code, body := getQuery(t, srv, url.Values{"q": {q}}, "secret")
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if code != 200 || lines[0] != "trade_id_num,price,t,side" || len(lines) != 41 ||
		lines[1] != "1000,65000,2026-01-01T00:00:00Z,buy" {
		t.Fatalf("csv: %d %.300s", code, body)
	}
	code, body = getQuery(t, srv, url.Values{"q": {q}, "format": {"json"}}, "secret")
	var doc struct {
		Types []string
		Rows  [][]any
	}
	if code != 200 || json.Unmarshal(body, &doc) != nil || len(doc.Rows) != 40 || doc.Types[0] != "UInt64" {
		t.Fatalf("json: %d %.300s", code, body)
	}
	code, body = getQuery(t, srv, url.Values{"q": {q}, "format": {"parquet"}}, "secret")
	if code != 200 || !bytes.HasPrefix(body, []byte("PAR1")) {
		t.Fatalf("parquet: %d %.100q", code, body)
	}
	got := readParquet(t, body, "SELECT count(*), min(trade_id_num), max(price), min(t)::VARCHAR, "+
		"any_value(side) FROM read_parquet($FILE)")
	want := []string{"40", "1000", "65000.39", "2026-01-01 00:00:00", "buy"}
	if strings.Join(got[0], "|") != strings.Join(want, "|") {
		t.Fatalf("parquet read back: %v, want %v", got[0], want)
	}

	for _, bad := range []string{
		"COPY trades TO '/tmp/x'",
		"ATTACH TABLE trades",
		"INSTALL httpfs",
		"SELECT * FROM file('/etc/passwd', 'TSV', 'line String')",
		"SELECT * FROM url('http://127.0.0.1:18123/?query=SELECT+1', TSV, 'a String')",
		"SELECT * FROM s3('http://127.0.0.1/b/k', 'CSV')",
		"SELECT * FROM remote('127.0.0.1:19000', system.one)",
		"SELECT count() FROM trades SETTINGS readonly = 0",
		"INSERT INTO trades (venue) VALUES ('x')",
		"ALTER TABLE trades DELETE WHERE 1",
		"DROP TABLE trades",
		"CREATE TABLE evil (a Int8) ENGINE = Memory",
		"OPTIMIZE TABLE trades FINAL",
		"SYSTEM DROP MARK CACHE",
		"KILL QUERY WHERE 1",
	} {
		code, body := getQuery(t, srv, url.Values{"q": {bad}}, "secret")
		if code != 400 || !strings.Contains(string(body), "refused") {
			t.Errorf("%q: %d %s, want 400 refused", bad, code, body)
		}
	}
	code, body = getQuery(t, srv, url.Values{"q": {"SELECT count() AS n FROM trades"}}, "secret")
	if code != 200 || string(body) != "n\n40\n" {
		t.Fatalf("after the refusals: %d %q, want 40 trades", code, body)
	}
}

// TestIntegrationSQLCommandClickHouse runs `tickflow sql --clickhouse-dsn` in all three
// formats and checks it refuses a write.
func TestIntegrationSQLCommandClickHouse(t *testing.T) {
	dsn := clickhouseQueryStore(t, 25)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := cmdSQL(ctx, []string{"--clickhouse-dsn", dsn, "SELECT count() AS n, max(trade_id_num) AS m FROM trades_v"},
		&out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	if out.String() != "n,m\n25,1024\n" {
		t.Fatalf("csv %q", out.String())
	}
	out.Reset()
	if err := cmdSQL(ctx, []string{"--clickhouse-dsn", dsn, "--format", "json", "SELECT count() AS n FROM trades"},
		&out, &errOut); err != nil || !strings.Contains(out.String(), `"rows":[[25]]`) {
		t.Fatalf("json %q: %v", out.String(), err)
	}
	out.Reset()
	if err := cmdSQL(ctx, []string{"--clickhouse-dsn", dsn, "--format", "parquet", "SELECT count() AS n FROM trades"},
		&out, &errOut); err != nil {
		t.Fatal(err)
	}
	if got := readParquet(t, out.Bytes(), "SELECT n FROM read_parquet($FILE)"); len(got) != 1 || got[0][0] != "25" {
		t.Fatalf("parquet %v", got)
	}
	err := cmdSQL(ctx, []string{"--clickhouse-dsn", dsn, "DROP TABLE trades"}, &out, &errOut)
	if !errors.Is(err, clickhouse.ErrQueryRefused) {
		t.Fatalf("DROP: %v, want a refusal", err)
	}
}
