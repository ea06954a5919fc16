//go:build integration

package clickhouse

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// schemaSQL returns the ```sql blocks of SCHEMA.md between the headings after and before.
func schemaSQL(t *testing.T, after, before string) []string {
	t.Helper()
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	a, b := strings.Index(text, after), strings.Index(text, before)
	if a < 0 || b < a {
		t.Fatalf("SCHEMA.md: sections %q .. %q not found", after, before)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(text[a:b], -1) {
		out = append(out, m[1])
	}
	return out
}

// statementsOf splits a recipe into statements at ';' line ends, dropping comment lines.
func statementsOf(block string) []string { return splitStatements(block) }

// TestIntegrationSchemaRecipes runs the legacy-dialect recipes of SCHEMA.md verbatim: the six
// book_at steps give what BookAt gives, the imbalance query runs on book_snapshots, and the
// candle rebuild by hand restores candles that a duplicate INSERT had doubled.
func TestIntegrationSchemaRecipes(t *testing.T) {
	s := openCfg(t, testConfig(t))
	if s.Dialect() != DialectLegacy {
		t.Skip("the recipes are written for the legacy dialect")
	}
	ctx := context.Background()
	// Book messages 1..60 at baseTime + seq µs; snapshots at 1 and 41 (the recipe's numbers).
	var books []md.BookUpdate
	for seq := uint64(1); seq <= 60; seq++ {
		u := md.BookUpdate{Header: mkHeader("binance", "BTC-USDT", seq, baseTime+int64(seq)*1000),
			Seq: seq, PrevSeq: seq - 1, Depth: uint32(seq)}
		if seq == 1 || seq == 41 {
			u.Snapshot = true
			for i := range int64(15) {
				u.Bids = append(u.Bids, lv(1000-i, 10+i))
				u.Asks = append(u.Asks, lv(1001+i, 10+i))
			}
		} else {
			u.Bids = []md.Level{lv(1000-int64(seq%20), int64(seq%3))}
			u.Asks = []md.Level{lv(1001+int64(seq%18), int64(seq%4))}
		}
		books = append(books, u)
	}
	write(t, s, &sink.Batch{Books: books, BookStatus: []md.BookStatus{{
		Header: mkHeader("binance", "BTC-USDT", 100, baseTime+45_000), State: md.BookValid, Seq: 41}}})

	blocks := schemaSQL(t, "### Rebuilding a book", "## Candles")
	if len(blocks) != 2 {
		t.Fatalf("book section: %d sql blocks, want 2", len(blocks))
	}
	steps := statementsOf(blocks[0])
	if len(steps) != 6 {
		t.Fatalf("book recipe: %d statements, want 6", len(steps))
	}
	want := [][][]string{
		{{"1"}}, {{"1767225600000041000", "41"}}, {{"9", "0", "2"}},
		{{"1767225600000049000", "49"}}, {{"valid"}},
	}
	for i, w := range want {
		if got := recipeRows(t, s, steps[i]); !slices.EqualFunc(got, w, slices.Equal) {
			t.Errorf("step %d: got %v, want %v", i+1, got, w)
		}
	}
	bk, err := s.BookAt(ctx, "binance", "BTC-USDT", 1767225600000049500, 10)
	if err != nil || bk == nil || !bk.Valid || bk.Seq != 49 {
		t.Fatalf("BookAt: %+v %v", bk, err)
	}
	var fromBook [][]string
	for side, ls := range [][]md.Level{bk.Bids, bk.Asks} {
		for _, l := range ls {
			fromBook = append(fromBook, []string{strconv.Itoa(side), strconv.FormatInt(l.Price.Mant, 10),
				strconv.FormatInt(l.Qty.Mant, 10), strconv.Itoa(int(l.Qty.Scale))})
		}
	}
	got := recipeRows(t, s, steps[5])
	if len(got) != 20 || !slices.EqualFunc(got, fromBook, slices.Equal) {
		t.Errorf("step 6:\n got  %v\n want %v (BookAt)", got, fromBook)
	}
	if rows := recipeRows(t, s, blocks[1]); len(rows) != 2 {
		t.Errorf("imbalance: %d rows, want 2 (one per snapshot)", len(rows))
	}

	// Candles: double the minute's trades with an INSERT past the watermarks, then run the
	// recipe (DELETE, wait, INSERT ... SELECT).
	trades := make([]md.Trade, 50)
	for i := range trades {
		trades[i] = mkTrade("binance", "BTC-USDT", uint64(i+1), uint64(i+1))
	}
	write(t, s, &sink.Batch{Trades: trades})
	for i := range trades {
		trades[i].Prov.Epoch = 0 // below the watermark: only a raw INSERT stores it
	}
	if err := s.insert(ctx, "trades", s.w.tradeSQL, func(bt driver.Batch) error {
		all := make([]admitted, len(trades))
		for i := range all {
			all[i] = admitted{i: int32(i)}
		}
		return fillTrades(&s.w.lane, bt, &sink.Batch{Trades: trades}, all)
	}); err != nil {
		t.Fatal(err)
	}
	count := func() int64 {
		return queryInt(t, s, "SELECT sum(trades) FROM candles_1m_v WHERE symbol = 'BTC-USDT'")
	}
	if n := count(); n != 100 {
		t.Fatalf("doubled candle count %d, want 100", n)
	}
	cblocks := schemaSQL(t, "## Candles", "## Write path and guarantees")
	rebuild := statementsOf(cblocks[len(cblocks)-1])
	if len(rebuild) != 2 {
		t.Fatalf("candle recipe: %d statements, want 2", len(rebuild))
	}
	if err := s.conn.Exec(ctx, rebuild[0]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for queryInt(t, s, `SELECT count() FROM system.mutations WHERE database = currentDatabase()
		AND table = 'candles' AND is_done = 0`) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("mutation not done")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.conn.Exec(ctx, rebuild[1]); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 50 {
		t.Fatalf("candle count after the recipe %d, want 50", n)
	}
	if rows := recipeRows(t, s, cblocks[0]); len(rows) != 1 {
		t.Errorf("minute bars query: %v", rows)
	}
}

// recipeRows runs q and returns its rows with every value formatted by fmt.
func recipeRows(t *testing.T, s *Store, q string) [][]string {
	t.Helper()
	rows, err := s.conn.Query(context.Background(), strings.TrimSpace(q))
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(rows.ColumnTypes()))
		for i, ct := range rows.ColumnTypes() {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatalf("%s: scan: %v", q, err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(reflect.ValueOf(v).Elem().Interface())
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}
