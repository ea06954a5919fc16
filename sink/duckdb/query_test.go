package duckdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

func TestQueryAllowsReads(t *testing.T) {
	s := openTest(t)
	write(t, s, &sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1),
		mkTrade("binance", "BTC-USDT", 2, 2)}})
	ctx := context.Background()
	for _, q := range []string{
		"SELECT count(*) FROM trades",
		"select venue, sum(qty) from trades group by venue;",
		"  -- comment\n  SELECT 1  ;;  ",
		"/* a /* nested */ comment */ SELECT 'semi' || chr(59)",
		"WITH x AS (SELECT * FROM trades) SELECT count(*) FROM x",
		"(SELECT 1) UNION ALL (SELECT 2)",
		"FROM trades LIMIT 1",
		"VALUES (1, 'a')",
		"TABLE trades",
		"DESCRIBE trades",
		"SHOW TABLES",
		"SUMMARIZE trades",
		"EXPLAIN SELECT * FROM trades",
		"EXPLAIN ANALYZE SELECT count(*) FROM trades",
		"SELECT * FROM trades_range(TIMESTAMP '2026-01-01', TIMESTAMP '2026-01-02')",
		"SELECT * FROM coverage_gaps",
		"SELECT * FROM duckdb_settings() WHERE name = 'enable_external_access'",
		"SELECT $$it's$$, E'a\\'b', 'x''y'",
		"SELECT * FROM trades WHERE recv_time >= TIMESTAMP '2026-01-01' AND venue = ?",
	} {
		args := []any{}
		if strings.Contains(q, "?") {
			args = append(args, "binance")
		}
		if _, err := s.Query(ctx, q, args...); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

func TestQueryRefusesEverythingElse(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, filepath.Join(dir, "q.duckdb"))
	write(t, s, &sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)}})
	outside := filepath.Join(dir, "outside.csv")
	if err := os.WriteFile(outside, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name, q string
		refused bool // wraps ErrQueryRefused (else refused by DuckDB itself)
		msg     string
	}{
		{"copy", "COPY trades TO '" + dir + "/x.csv'", true, "COPY"},
		{"copy from", "COPY trades FROM '" + outside + "'", true, "COPY"},
		{"attach", "ATTACH '" + dir + "/other.duckdb' AS o", true, "ATTACH"},
		{"detach", "DETACH o", true, "DETACH"},
		{"install", "INSTALL httpfs", true, "INSTALL"},
		{"load", "LOAD httpfs", true, "LOAD"},
		{"set", "SET memory_limit = '100GB'", true, "SET"},
		{"reset", "RESET memory_limit", true, "RESET"},
		{"pragma", "PRAGMA enable_profiling", true, "PRAGMA"},
		{"create", "CREATE TABLE x (a INT)", true, "CREATE"},
		{"create macro", "CREATE MACRO m() AS 1", true, "CREATE"},
		{"insert", "INSERT INTO trades SELECT * FROM trades", true, "INSERT"},
		{"update", "UPDATE trades SET qty = 0", true, "UPDATE"},
		{"delete", "DELETE FROM trades", true, "DELETE"},
		{"drop", "DROP TABLE trades", true, "DROP"},
		{"alter", "ALTER TABLE trades ADD COLUMN x INT", true, "ALTER"},
		{"truncate", "TRUNCATE trades", true, "TRUNCATE"},
		{"export", "EXPORT DATABASE '" + dir + "/exp'", true, "EXPORT"},
		{"import", "IMPORT DATABASE '" + dir + "/exp'", true, "IMPORT"},
		{"call", "CALL pragma_version()", true, "CALL"},
		{"checkpoint", "CHECKPOINT", true, "CHECKPOINT"},
		{"vacuum", "VACUUM", true, "VACUUM"},
		{"begin", "BEGIN TRANSACTION", true, "BEGIN"},
		{"commit", "COMMIT", true, "COMMIT"},
		{"use", "USE memory", true, "USE"},
		{"two statements", "SELECT 1; DROP TABLE trades", true, "one statement"},
		{"semicolon in string", "SELECT ';'", true, "one statement"},
		{"commit smuggled", "COMMIT; SELECT 1", true, "one statement"},
		{"read_csv", "SELECT * FROM read_csv('" + outside + "')", true, "read_csv"},
		{"read_csv_auto", "SELECT * FROM read_csv_auto('" + outside + "')", true, "read_csv_auto"},
		{"read_parquet", "SELECT * FROM read_parquet('x.parquet')", true, "read_parquet"},
		{"parquet_scan", "SELECT * FROM parquet_scan('x.parquet')", true, "parquet_scan"},
		{"read_json", "SELECT * FROM read_json('x.json')", true, "read_json"},
		{"read_text", "SELECT * FROM read_text('" + outside + "')", true, "read_text"},
		{"read_blob", "SELECT * FROM read_blob('" + outside + "')", true, "read_blob"},
		{"glob", "SELECT * FROM glob('" + dir + "/*')", true, "glob"},
		{"quoted func", `SELECT * FROM "READ_CSV"('` + outside + `')`, true, "read_csv"},
		{"spaced func", "SELECT * FROM read_csv /* x */ ('" + outside + "')", true, "read_csv"},
		{"query func", "SELECT * FROM query('SELECT 1')", true, "query"},
		{"sniff", "SELECT * FROM sniff_csv('" + outside + "')", true, "sniff_csv"},
		{"explain insert", "EXPLAIN ANALYZE INSERT INTO trades SELECT * FROM trades", true, "INSERT"},
		{"explain copy", "EXPLAIN COPY trades TO 'x.csv'", true, "COPY"},
		{"cte insert", "WITH x AS (SELECT 1) INSERT INTO offsets SELECT * FROM offsets", true, "INSERT"},
		{"empty", "  ;  ", true, "empty"},
		{"unterminated", "SELECT 'abc", true, "unterminated"},
		{"replacement scan of a file", "SELECT * FROM '" + outside + "'", false, ""},
		{"nextval writes", "SELECT nextval('coverage_id_seq')", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.Query(ctx, tc.q)
			if err == nil {
				t.Fatalf("%q was allowed: %v", tc.q, rows.Values)
			}
			if tc.refused && !errors.Is(err, ErrQueryRefused) {
				t.Fatalf("%q: error %v does not wrap ErrQueryRefused", tc.q, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("%q: error %q does not mention %q", tc.q, err, tc.msg)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
	// Nothing changed.
	if n := queryInt(t, s, "SELECT count(*) FROM trades"); n != 1 {
		t.Fatalf("%d trades", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.csv")); err == nil {
		t.Fatal("COPY wrote a file")
	}
}

func TestQueryLimits(t *testing.T) {
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "l.duckdb"),
		QueryTimeout: 200 * time.Millisecond, QueryMaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Query(context.Background(), "SELECT * FROM range(100)")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.Values) != 10 || !rows.Truncated {
		t.Fatalf("%d rows, truncated %v", len(rows.Values), rows.Truncated)
	}
	start := time.Now()
	_, err = s.Query(context.Background(),
		"SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = -1")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("long query: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	// The connection is usable afterwards.
	if _, err := s.Query(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	var limit string
	if err := s.db.QueryRow("SELECT current_setting('memory_limit')").Scan(&limit); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(limit, "GiB") && !strings.Contains(limit, "GB") {
		t.Fatalf("memory_limit %q", limit)
	}
}

func TestRowsCSVAndJSON(t *testing.T) {
	s := openTest(t)
	tr := mkTrade("binance", "BTC-USDT", 1, 42)
	tr.ExchTime = 0
	write(t, s, &sink.Batch{Trades: []md.Trade{tr}})
	rows, err := s.Query(context.Background(), `SELECT trade_id_num, price, exch_time, recv_time,
		side, 'a,"b"' AS quoted, 1.25::DECIMAL(10,3) AS dec, 170141183460469231731687303715884105727::HUGEINT AS big,
		'nan'::DOUBLE AS nan, [1, 2] AS list, {'k': 1} AS st, '\x01'::BLOB AS blob FROM trades`)
	if err != nil {
		t.Fatal(err)
	}
	var csvOut, jsonOut bytes.Buffer
	if err := rows.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	wantCSV := "trade_id_num,price,exch_time,recv_time,side,quoted,dec,big,nan,list,st,blob\n" +
		`42,65000.13,,2026-01-01T00:00:00.0000011Z,buy,"a,""b""",1.250,170141183460469231731687303715884105727,NaN,"[1,2]","{""k"":1}",AQ==` + "\n"
	if csvOut.String() != wantCSV {
		t.Errorf("csv\n got %q\nwant %q", csvOut.String(), wantCSV)
	}
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
		t.Fatalf("json %s: %v", jsonOut.String(), err)
	}
	if len(doc.Rows) != 1 || doc.Types[3] != "TIMESTAMP_NS" {
		t.Fatalf("json doc %+v", doc)
	}
	got := make([]string, len(doc.Rows[0]))
	for i, r := range doc.Rows[0] {
		got[i] = string(r)
	}
	want := []string{"42", "65000.13", "null", `"2026-01-01T00:00:00.0000011Z"`, `"buy"`,
		`"a,\"b\""`, "1.250", "170141183460469231731687303715884105727", `"NaN"`, "[1,2]",
		`{"k":1}`, `"AQ=="`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("json row\n got %v\nwant %v", got, want)
	}
}
