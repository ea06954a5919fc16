package duckdb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

func TestMigrationsApplyOnceAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.duckdb")
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path)
	if s.SchemaVersion() != len(ms) {
		t.Fatalf("schema version %d, want %d", s.SchemaVersion(), len(ms))
	}
	write(t, s, &sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s = openAt(t, path)
		if n := queryInt(t, s, "SELECT count(*) FROM schema_migrations"); n != int64(len(ms)) {
			t.Fatalf("%d migrations recorded, want %d", n, len(ms))
		}
		if n := queryInt(t, s, "SELECT count(*) FROM trades"); n != 1 {
			t.Fatalf("data lost on reopen: %d rows", n)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrationChecks(t *testing.T) {
	ms := []migration{{version: 1, name: "init", checksum: "aaa"}, {version: 2, name: "x", checksum: "bbb"}}
	if err := checkApplied(ms[:1], ms); err != nil {
		t.Fatalf("prefix: %v", err)
	}
	if err := checkApplied(ms, ms[:1]); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer store: %v", err)
	}
	edited := []migration{{version: 1, name: "init", checksum: "zzz"}}
	if err := checkApplied(edited, ms); err == nil || !strings.Contains(err.Error(), "edited") {
		t.Fatalf("edited migration: %v", err)
	}
}

func TestEditedMigrationRefusesToOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edit.duckdb")
	s := openAt(t, path)
	if _, err := s.db.Exec("SET lock_configuration = false"); err == nil {
		t.Fatal("configuration is not locked")
	}
	if _, err := s.wconn.ExecContext(context.Background(),
		"UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(context.Background(), Config{Path: path}); err == nil {
		_ = s.Close()
		t.Fatal("open succeeded with an edited migration")
	} else if !strings.Contains(err.Error(), "edited") {
		t.Fatalf("error %v", err)
	}
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	db, conn := rawDB(t)
	ms := []migration{
		{version: 1, name: "ok", sql: "CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER)", checksum: "1"},
		{version: 2, name: "bad", sql: "CREATE TABLE c (z INTEGER); SELECT * FROM nonexistent", checksum: "2"},
	}
	if _, err := applyMigrations(context.Background(), conn, ms); err == nil {
		t.Fatal("bad migration applied")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM duckdb_tables() WHERE table_name IN
		('a', 'b', 'c', 'schema_migrations')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("tables left behind: %d, %v", n, err)
	}
	v, err := applyMigrations(context.Background(), conn, ms[:1])
	if err != nil || v != 1 {
		t.Fatalf("good migration: %d, %v", v, err)
	}
	if v, err = applyMigrations(context.Background(), conn, ms[:1]); err != nil || v != 1 {
		t.Fatalf("re-apply: %d, %v", v, err)
	}
}

func TestViewsPickNewestParserVersion(t *testing.T) {
	s := openTest(t)
	v1 := mkTrade("binance", "BTC-USDT", 1, 100)
	v1b := mkTrade("binance", "BTC-USDT", 2, 101)
	v2 := v1
	v2.ParserVersion = 2
	v2.Price = md.Decimal{Mant: 1, Scale: 0} // the fixed parser reads another price
	// A redundant capture (other epoch) of trade 101, same parser version: one row survives.
	dup := v1b
	dup.Prov.Epoch = 9
	write(t, s, &sink.Batch{Trades: []md.Trade{v1, v1b, dup}})
	write(t, s, &sink.Batch{Trades: []md.Trade{v2}})
	if n := queryInt(t, s, "SELECT count(*) FROM trades"); n != 4 {
		t.Fatalf("%d raw rows, want 4", n)
	}
	rows, err := s.Query(context.Background(),
		"SELECT trade_id, parser_version, price_mant, epoch FROM trades_v ORDER BY trade_id")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{{"100", uint16(2), int64(1), uint64(1)}, {"101", uint16(1), int64(6500014), uint64(1)}}
	if len(rows.Values) != 2 {
		t.Fatalf("trades_v rows %v", rows.Values)
	}
	for i := range want {
		for j := range want[i] {
			if rows.Values[i][j] != want[i][j] {
				t.Fatalf("trades_v row %d = %v, want %v", i, rows.Values[i], want[i])
			}
		}
	}
	n, err := s.Query(context.Background(), `SELECT count(*) FROM trades_range(
		TIMESTAMP '2026-01-01 00:00:00', TIMESTAMP '2026-01-02 00:00:00')`)
	if err != nil || n.Values[0][0] != int64(2) {
		t.Fatalf("trades_range: %v %v", n, err)
	}
	// integrity_v: newest parser version per provenance.
	e1 := mkIntegrity("binance", "BTC-USDT", md.IntegrityResyncStarted, 5)
	e2 := e1
	e2.ParserVersion = 3
	e2.Type = md.IntegrityResyncDone
	write(t, s, &sink.Batch{Integrity: []md.Integrity{e1}})
	write(t, s, &sink.Batch{Integrity: []md.Integrity{e2}})
	r, err := s.Query(context.Background(), "SELECT type, parser_version FROM integrity_v")
	if err != nil || len(r.Values) != 1 || r.Values[0][0] != "resync_done" {
		t.Fatalf("integrity_v: %v %v", r, err)
	}
}

func TestCoverage(t *testing.T) {
	s := openTest(t)
	gap := mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, 10)
	gap.From, gap.To, gap.FirstID, gap.LastID = baseTime+1000, baseTime+5000, 100, 199
	disc := mkIntegrity("binance", "BTC-USDT", md.IntegrityDisconnect, 11)
	disc.From, disc.To = baseTime+10_000, baseTime+20_000
	other := mkIntegrity("binance", "ETH-USDT", md.IntegrityGap, 12)
	other.From, other.To, other.FirstID, other.LastID = baseTime, baseTime+1, 5, 6
	bookGap := mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, 13)
	bookGap.Stream = md.KindBookUpdate
	bookGap.From, bookGap.To, bookGap.FirstID, bookGap.LastID = baseTime, baseTime+1, 100, 199
	write(t, s, &sink.Batch{Integrity: []md.Integrity{gap, disc, other, bookGap}})

	type cov struct {
		symbol, stream, reason, status string
		first, last                    any
	}
	read := func() []cov {
		t.Helper()
		r, err := s.Query(context.Background(), `SELECT symbol, stream, reason, status, first_id,
			last_id FROM coverage ORDER BY symbol, stream, reason, first_id NULLS LAST, status`)
		if err != nil {
			t.Fatal(err)
		}
		var out []cov
		for _, v := range r.Values {
			out = append(out, cov{v[0].(string), v[1].(string), v[2].(string), v[3].(string), v[4], v[5]})
		}
		return out
	}
	if got := read(); len(got) != 4 || got[0].status != "gap" {
		t.Fatalf("after gaps: %+v", got)
	}
	if n := queryInt(t, s, "SELECT count(*) FROM coverage_gaps"); n != 4 {
		t.Fatalf("coverage_gaps %d, want 4", n)
	}

	// Backfill page 1 covers ids 100..149 of the trade gap: the gap splits.
	bf1 := mkIntegrity("binance", "BTC-USDT", md.IntegrityBackfill, 20)
	bf1.FirstID, bf1.LastID, bf1.Count = 90, 149, 60
	// In the same batch, a backfill whose window covers the disconnect repairs it.
	bf2 := mkIntegrity("binance", "BTC-USDT", md.IntegrityBackfill, 21)
	bf2.From, bf2.To = baseTime+9_000, baseTime+20_000
	write(t, s, &sink.Batch{Integrity: []md.Integrity{bf1, bf2}})
	got := read()
	want := []cov{
		{"BTC-USDT", "book", "gap", "gap", uint64(100), uint64(199)},
		{"BTC-USDT", "trade", "disconnect", "backfilled", nil, nil},
		{"BTC-USDT", "trade", "gap", "backfilled", uint64(100), uint64(149)},
		{"BTC-USDT", "trade", "gap", "gap", uint64(150), uint64(199)},
		{"ETH-USDT", "trade", "gap", "gap", uint64(5), uint64(6)},
	}
	if len(got) != len(want) {
		t.Fatalf("after backfill 1:\n got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("after backfill 1, row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// Page 2 covers the rest; the split row keeps the original time window.
	bf3 := mkIntegrity("binance", "BTC-USDT", md.IntegrityBackfill, 22)
	bf3.FirstID, bf3.LastID = 150, 400
	write(t, s, &sink.Batch{Integrity: []md.Integrity{bf3}})
	r, err := s.Query(context.Background(), `SELECT venue, symbol, stream FROM coverage_gaps
		ORDER BY symbol, stream`)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Values) != 2 || r.Values[0][2] != "book" || r.Values[1][1] != "ETH-USDT" {
		t.Fatalf("remaining gaps %v", r.Values)
	}
	if n := queryInt(t, s, `SELECT count(*) FROM coverage WHERE stream = 'trade' AND
		symbol = 'BTC-USDT' AND from_time = make_timestamp_ns(?) AND status = 'backfilled'`,
		gap.From); n != 2 {
		t.Fatalf("split rows with the gap's window: %d", n)
	}
	// A gap and its backfill in one batch: repaired in order.
	g := mkIntegrity("okx", "BTC-USDT", md.IntegrityGap, 1)
	g.FirstID, g.LastID, g.From, g.To = 1, 2, baseTime, baseTime+1
	bf := mkIntegrity("okx", "BTC-USDT", md.IntegrityBackfill, 2)
	bf.FirstID, bf.LastID = 1, 2
	write(t, s, &sink.Batch{Integrity: []md.Integrity{g, bf}})
	if n := queryInt(t, s, "SELECT count(*) FROM coverage_gaps WHERE venue = 'okx'"); n != 0 {
		t.Fatalf("okx gap not repaired in the same batch")
	}
}

func TestMaskingQueryFromSchemaDoc(t *testing.T) {
	s := openTest(t)
	var trades []md.Trade
	for i := uint64(1); i <= 10; i++ {
		trades = append(trades, mkTrade("binance", "BTC-USDT", i, i))
	}
	gap := mkIntegrity("binance", "BTC-USDT", md.IntegrityDisconnect, 100)
	// Masks trades 4..6 by exchange time.
	gap.From, gap.To = trades[3].ExchTime, trades[5].ExchTime
	write(t, s, &sink.Batch{Trades: trades, Integrity: []md.Integrity{gap}})
	r, err := s.Query(context.Background(), maskingQuery)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Values) != 7 {
		t.Fatalf("masked result has %d rows, want 7", len(r.Values))
	}
}

// maskingQuery is the masking example of SCHEMA.md (kept identical).
const maskingQuery = `SELECT t.*
FROM trades_v t
WHERE NOT EXISTS (
    SELECT 1 FROM coverage_gaps g
    WHERE g.venue = t.venue AND g.symbol = t.symbol AND g.stream = 'trade'
      AND coalesce(t.exch_time, t.recv_time) BETWEEN g.from_time AND g.to_time)`

// seedBooks writes 100 book updates of binance BTC-USDT (a snapshot, then deltas; a
// resync at 60), their BBOs, and an invalid/valid status pair.
func seedBooks(t *testing.T, s *Store) {
	t.Helper()
	var books []md.BookUpdate
	var bbos []md.BBO
	for i := uint64(1); i <= 100; i++ {
		snap := i == 1 || i == 60
		var bids, asks []md.Level
		if snap {
			for j := range int64(15) {
				bids = append(bids, lvl(6500000-j*10, 100+j))
				asks = append(asks, lvl(6500010+j*10, 200+j))
			}
		} else {
			bids = []md.Level{lvl(6500000-int64(i%20)*10, int64(i%3)*7)}
			asks = []md.Level{lvl(6500010+int64(i%25)*10, int64(i))}
		}
		books = append(books, mkBook("binance", "BTC-USDT", i, i, snap, bids, asks))
		bbos = append(bbos, mkBBO("binance", "BTC-USDT", i))
	}
	write(t, s, &sink.Batch{Books: books, BBOs: bbos, BookStatus: []md.BookStatus{
		mkStatus("binance", "BTC-USDT", 55, md.BookInvalid, md.IntegrityGap, 55),
		mkStatus("binance", "BTC-USDT", 60, md.BookValid, 0, 60),
	}})
}

// TestBookRebuildSQLFromSchemaDoc: the spelled-out rebuild SQL of SCHEMA.md returns what
// book_at returns, on a book with levels.
func TestBookRebuildSQLFromSchemaDoc(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	var rebuild string
	for _, b := range strings.Split(string(doc), "```sql\n")[1:] {
		if q, _, _ := strings.Cut(b, "```"); strings.HasPrefix(q, "WITH ver AS (") {
			rebuild = q
		}
	}
	if rebuild == "" {
		t.Fatal("SCHEMA.md has no rebuild SQL (a block starting with WITH ver AS)")
	}
	s := openTest(t)
	seedBooks(t, s)
	got := queryRows(t, s, rebuild)
	want := queryRows(t, s, `SELECT * FROM book_at('binance', 'BTC-USDT',
		TIMESTAMP_NS '2026-01-01 00:00:00.00005', 10)`)
	if len(want) < 10 || !reflect.DeepEqual(got, want) {
		t.Fatalf("SCHEMA.md rebuild SQL\n got %v\nwant %v", got, want)
	}
}

func rawDB(t *testing.T) (*sql.DB, *sql.Conn) {
	t.Helper()
	db, err := sql.Open("duckdb", filepath.Join(t.TempDir(), "raw.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		_ = db.Close()
	})
	return db, conn
}

// TestSchemaDocQueries runs every SQL example of SCHEMA.md through the query endpoint.
func TestSchemaDocQueries(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{maskingQuery, bookMaskingQuery} {
		if !strings.Contains(string(doc), q) {
			t.Fatalf("SCHEMA.md no longer holds this query verbatim:\n%s", q)
		}
	}
	s := openTest(t)
	var trades []md.Trade
	for i := uint64(1); i <= 100; i++ {
		trades = append(trades, mkTrade("binance", "BTC-USDT", i, i))
	}
	write(t, s, &sink.Batch{Trades: trades})
	seedBooks(t, s)
	blocks := strings.Split(string(doc), "```sql\n")
	if len(blocks) < 4 {
		t.Fatalf("found %d sql blocks", len(blocks)-1)
	}
	for _, b := range blocks[1:] {
		q, _, _ := strings.Cut(b, "```")
		rows, err := s.Query(context.Background(), q)
		if err != nil {
			t.Errorf("SCHEMA.md query failed: %v\n%s", err, q)
			continue
		}
		if len(rows.Values) == 0 {
			t.Errorf("SCHEMA.md query returned no rows:\n%s", q)
		}
	}
}
