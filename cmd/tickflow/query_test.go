package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/duckdb"
)

const queryTestBase = int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z

// queryTestTrades returns n trades of binance BTC-USDT, one per millisecond.
func queryTestTrades(n int) []md.Trade {
	var out []md.Trade
	for i := range n {
		ns := queryTestBase + int64(i)*1e6
		out = append(out, md.Trade{
			Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", ExchTime: ns, RecvTime: ns + 100,
				Prov: md.Provenance{Epoch: 1, Seq: uint64(i + 1)}, ParserVersion: 1},
			ID: md.NumericID(uint64(1000 + i)), Price: md.Decimal{Mant: 6500000 + int64(i), Scale: 2},
			Qty: md.Decimal{Mant: 150, Scale: 3}, Side: md.SideBuy,
		})
	}
	return out
}

// get sends a GET /query with the given parameters and returns status and body.
func getQuery(t *testing.T, srv *httptest.Server, params url.Values, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/query?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// readParquet reads a Parquet file's rows with a private DuckDB, values as text.
func readParquet(t *testing.T, data []byte, q string) [][]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.parquet")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(strings.ReplaceAll(q, "$FILE", "'"+path+"'"))
	if err != nil {
		t.Fatalf("read parquet: %v", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
			if !v.Valid {
				row[i] = "NULL"
			}
		}
		out = append(out, row)
	}
	return out
}

// TestQueryEndpointDuckDB checks /query on the DuckDB store: token, formats (CSV, JSON,
// Parquet read back by DuckDB), and refusals.
func TestQueryEndpointDuckDB(t *testing.T) {
	ctx := context.Background()
	store, err := duckdb.Open(ctx, duckdb.Config{Path: filepath.Join(t.TempDir(), "t.duckdb")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Write(ctx, &sink.Batch{Trades: queryTestTrades(50)}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(queryHandler(store, []string{"secret"}))
	defer srv.Close()
	q := "SELECT trade_id_num, price, recv_time, side FROM trades ORDER BY trade_id_num"

	if code, _ := getQuery(t, srv, url.Values{"q": {q}}, ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", code)
	}
	code, body := getQuery(t, srv, url.Values{"q": {q}}, "secret")
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if code != 200 || lines[0] != "trade_id_num,price,recv_time,side" || len(lines) != 51 ||
		lines[1] != "1000,65000,2026-01-01T00:00:00.0000001Z,buy" {
		t.Fatalf("csv: %d %.300s", code, body)
	}
	code, body = getQuery(t, srv, url.Values{"q": {q}, "format": {"json"}}, "secret")
	var doc struct{ Rows [][]any }
	if code != 200 || json.Unmarshal(body, &doc) != nil || len(doc.Rows) != 50 {
		t.Fatalf("json: %d %.300s", code, body)
	}
	code, body = getQuery(t, srv, url.Values{"q": {q}, "format": {"parquet"}}, "secret")
	if code != 200 || !bytes.HasPrefix(body, []byte("PAR1")) {
		t.Fatalf("parquet: %d %.100q", code, body)
	}
	got := readParquet(t, body, "SELECT count(*), min(trade_id_num), max(price), min(recv_time)::VARCHAR, "+
		"any_value(side), typeof(any_value(recv_time)) FROM read_parquet($FILE)")
	want := []string{"50", "1000", "65000.49", "2026-01-01 00:00:00.0000001", "buy", "TIMESTAMP_NS"}
	if strings.Join(got[0], "|") != strings.Join(want, "|") {
		t.Fatalf("parquet read back: %v, want %v", got[0], want)
	}
	if code, _ := getQuery(t, srv, url.Values{"q": {q}, "format": {"xml"}}, "secret"); code != 400 {
		t.Fatalf("format xml: %d, want 400", code)
	}
	for _, bad := range []string{"COPY trades TO '/tmp/x.csv'", "ATTACH '/tmp/x.duckdb'", "INSTALL httpfs",
		"SELECT * FROM read_csv('/etc/passwd')", "DELETE FROM trades", "DROP TABLE trades"} {
		code, body := getQuery(t, srv, url.Values{"q": {bad}}, "secret")
		if code != 400 || !strings.Contains(string(body), "refused") {
			t.Errorf("%q: %d %s, want 400 refused", bad, code, body)
		}
	}
}

// TestWriteParquetTypes round-trips every kind of value writeParquet maps.
func TestWriteParquetTypes(t *testing.T) {
	tm := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	cols := []string{"b", "i", "u", "f", "t", "s", "nested", "a", "a"}
	vals := [][]any{
		{true, int32(-5), uint64(math.MaxUint64), 1.5, tm, "x,\"y\"", []any{int64(1), "z"}, int8(1), "dup"},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}
	var buf bytes.Buffer
	if err := writeParquet(context.Background(), &buf, cols, vals); err != nil {
		t.Fatal(err)
	}
	got := readParquet(t, buf.Bytes(), "SELECT * FROM read_parquet($FILE)")
	want := [][]string{
		{"true", "-5", "18446744073709551615", "1.5", "2026-01-02T03:04:05.123456789Z", `x,"y"`, `[1,"z"]`, "1", "dup"},
		{"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
	}
	for i := range want {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d: %q, want %q", i, got[i], want[i])
		}
	}
}
