package duckdb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

func lvl(price int64, qty int64) md.Level {
	return md.Level{Price: md.Decimal{Mant: price, Scale: 2}, Qty: md.Decimal{Mant: qty, Scale: 5}}
}

// mkBook returns a book update of venue/symbol with provenance (1, seq, 0) and book sequence
// bookSeq.
func mkBook(venue, symbol string, seq, bookSeq uint64, snapshot bool, bids, asks []md.Level) md.BookUpdate {
	return md.BookUpdate{
		Header: md.Header{
			Venue: venue, Symbol: symbol,
			ExchTime: baseTime + int64(seq)*1000, SendTime: baseTime + int64(seq)*1000 + 5,
			RecvTime: baseTime + int64(seq)*1000 + 100, ClockOffset: -7,
			Prov:          md.Provenance{Epoch: 1, Seq: seq},
			ParserVersion: 1,
		},
		Snapshot: snapshot, Seq: bookSeq, PrevSeq: bookSeq - 1,
		FirstID: 1000 + bookSeq, LastID: 1000 + bookSeq + 3, Depth: 1000,
		Bids: bids, Asks: asks,
	}
}

func mkStatus(venue, symbol string, seq uint64, state md.BookState, reason md.IntegrityType,
	bookSeq uint64) md.BookStatus {
	return md.BookStatus{
		Header: md.Header{
			Venue: venue, Symbol: symbol,
			RecvTime:      baseTime + int64(seq)*1000 + 100,
			Prov:          md.Provenance{Epoch: 1, Seq: seq},
			ParserVersion: 1,
		},
		State: state, Reason: reason, Seq: bookSeq,
	}
}

func mkBBO(venue, symbol string, seq uint64) md.BBO {
	return md.BBO{
		Header: md.Header{
			Venue: venue, Symbol: symbol,
			ExchTime: baseTime + int64(seq)*1000, SendTime: baseTime + int64(seq)*1000 + 5,
			RecvTime: baseTime + int64(seq)*1000 + 100, ClockOffset: 3,
			Prov:          md.Provenance{Epoch: 1, Seq: seq},
			ParserVersion: 1,
		},
		BidPrice: md.Decimal{Mant: 6500012, Scale: 2}, BidQty: md.Decimal{Mant: 150, Scale: 5},
		AskPrice: md.Decimal{Mant: 6500013, Scale: 2}, AskQty: md.Decimal{Mant: 7, Scale: 5},
		UpdateID: 4000 + seq,
	}
}

func queryRows(t testing.TB, s *Store, q string, args ...any) [][]any {
	t.Helper()
	r, err := s.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r.Values
}

func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func TestBooksRoundTrip(t *testing.T) {
	s := openTest(t)
	snap := mkBook("binance", "BTC-USDT", 1, 41, true,
		[]md.Level{lvl(6500000, 120), lvl(6499990, 0)}, []md.Level{lvl(6500010, 5)})
	snap.ExchTime = 0 // unknown: NULL
	snap.Source = md.SourceBackfill
	snap.Depth = 0
	delta := mkBook("binance", "BTC-USDT", 2, 42, false, nil, []md.Level{lvl(6500020, 9)})
	empty := mkBook("binance", "ETH-USDT", 3, 7, false, nil, nil)
	inv := mkStatus("binance", "BTC-USDT", 3, md.BookInvalid, md.IntegrityChecksumFailure, 42)
	val := mkStatus("binance", "BTC-USDT", 4, md.BookValid, 0, 43)
	val.ExchTime = baseTime + 1
	q := mkBBO("okx", "BTC-USDT-PERP", 5)
	q2 := mkBBO("okx", "BTC-USDT-PERP", 6)
	q2.UpdateID = 0 // none: NULL
	q2.Source = md.SourceReimport
	q2.BidPrice = md.Decimal{Mant: -5, Scale: 18}
	res := write(t, s, &sink.Batch{Books: []md.BookUpdate{snap, delta, empty},
		BookStatus: []md.BookStatus{inv, val}, BBOs: []md.BBO{q, q2}})
	want := sink.WriteResult{Written: sink.KindCounts{Books: 3, BookStatus: 2, BBOs: 2}, Levels: 4}
	if res != want {
		t.Fatalf("result %+v, want %+v", res, want)
	}

	rows := queryRows(t, s, `SELECT venue, symbol, is_snapshot, book_seq, book_prev_seq,
		first_id, last_id, depth, bid_levels, ask_levels, exch_time, send_time, recv_time,
		clock_offset_ns, epoch, seq, idx, source, parser_version
		FROM book_updates ORDER BY seq`)
	wantRows := [][]any{
		{"binance", "BTC-USDT", true, uint64(41), uint64(40), uint64(1041), uint64(1044),
			uint32(0), uint32(2), uint32(1), nil, ts(snap.SendTime), ts(snap.RecvTime),
			int64(-7), uint64(1), uint64(1), uint32(0), "backfill", uint16(1)},
		{"binance", "BTC-USDT", false, uint64(42), uint64(41), uint64(1042), uint64(1045),
			uint32(1000), uint32(0), uint32(1), ts(delta.ExchTime), ts(delta.SendTime),
			ts(delta.RecvTime), int64(-7), uint64(1), uint64(2), uint32(0), "live", uint16(1)},
		{"binance", "ETH-USDT", false, uint64(7), uint64(6), uint64(1007), uint64(1010),
			uint32(1000), uint32(0), uint32(0), ts(empty.ExchTime), ts(empty.SendTime),
			ts(empty.RecvTime), int64(-7), uint64(1), uint64(3), uint32(0), "live", uint16(1)},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("book_updates\n got %v\nwant %v", rows, wantRows)
	}

	rows = queryRows(t, s, `SELECT venue, symbol, recv_time, book_seq, side, level, price_mant,
		price_scale, qty_mant, qty_scale, price, qty, epoch, seq, idx, parser_version
		FROM book_levels ORDER BY seq, side, level`)
	wantRows = [][]any{
		{"binance", "BTC-USDT", ts(snap.RecvTime), uint64(41), "bid", uint32(1), int64(6500000),
			uint8(2), int64(120), uint8(5), 65000.0, 0.0012, uint64(1), uint64(1), uint32(0), uint16(1)},
		{"binance", "BTC-USDT", ts(snap.RecvTime), uint64(41), "bid", uint32(2), int64(6499990),
			uint8(2), int64(0), uint8(5), 64999.9, 0.0, uint64(1), uint64(1), uint32(0), uint16(1)},
		{"binance", "BTC-USDT", ts(snap.RecvTime), uint64(41), "ask", uint32(1), int64(6500010),
			uint8(2), int64(5), uint8(5), 65000.1, 5e-05, uint64(1), uint64(1), uint32(0), uint16(1)},
		{"binance", "BTC-USDT", ts(delta.RecvTime), uint64(42), "ask", uint32(1), int64(6500020),
			uint8(2), int64(9), uint8(5), 65000.2, 9e-05, uint64(1), uint64(2), uint32(0), uint16(1)},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("book_levels\n got %v\nwant %v", rows, wantRows)
	}

	rows = queryRows(t, s, `SELECT venue, symbol, state, reason, book_seq, exch_time, send_time,
		recv_time, clock_offset_ns, epoch, seq, idx, source, parser_version
		FROM book_status ORDER BY seq`)
	wantRows = [][]any{
		{"binance", "BTC-USDT", "invalid", "checksum_failure", uint64(42), nil, nil,
			ts(inv.RecvTime), int64(0), uint64(1), uint64(3), uint32(0), "live", uint16(1)},
		{"binance", "BTC-USDT", "valid", nil, uint64(43), ts(baseTime + 1), nil,
			ts(val.RecvTime), int64(0), uint64(1), uint64(4), uint32(0), "live", uint16(1)},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("book_status\n got %v\nwant %v", rows, wantRows)
	}

	rows = queryRows(t, s, `SELECT venue, symbol, bid_price_mant, bid_price_scale, bid_qty_mant,
		bid_qty_scale, ask_price_mant, ask_price_scale, ask_qty_mant, ask_qty_scale,
		bid_price, bid_qty, ask_price, ask_qty, update_id, exch_time, send_time, recv_time,
		clock_offset_ns, epoch, seq, idx, source, parser_version FROM bbo ORDER BY seq`)
	wantRows = [][]any{
		{"okx", "BTC-USDT-PERP", int64(6500012), uint8(2), int64(150), uint8(5), int64(6500013),
			uint8(2), int64(7), uint8(5), 65000.12, 0.0015, 65000.13, 7e-05, uint64(4005),
			ts(q.ExchTime), ts(q.SendTime), ts(q.RecvTime), int64(3), uint64(1), uint64(5),
			uint32(0), "live", uint16(1)},
		{"okx", "BTC-USDT-PERP", int64(-5), uint8(18), int64(150), uint8(5), int64(6500013),
			uint8(2), int64(7), uint8(5), -5e-18, 0.0015, 65000.13, 7e-05, nil,
			ts(q2.ExchTime), ts(q2.SendTime), ts(q2.RecvTime), int64(3), uint64(1), uint64(6),
			uint32(0), "reimport", uint16(1)},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("bbo\n got %v\nwant %v", rows, wantRows)
	}
	// The virtual DOUBLE columns are bit-identical to md.Decimal.Float64.
	if got := queryRows(t, s, `SELECT bid_price FROM bbo WHERE seq = 6`)[0][0]; got != q2.BidPrice.Float64() {
		t.Errorf("bid_price %v, want %v", got, q2.BidPrice.Float64())
	}
	marks := queryRows(t, s, `SELECT kind, symbol, seq FROM watermarks ORDER BY kind, symbol`)
	wantMarks := [][]any{{"bbo", "BTC-USDT-PERP", uint64(6)}, {"book", "BTC-USDT", uint64(2)},
		{"book", "ETH-USDT", uint64(3)}, {"book_status", "BTC-USDT", uint64(4)}}
	if !reflect.DeepEqual(marks, wantMarks) {
		t.Errorf("watermarks %v, want %v", marks, wantMarks)
	}
}

func TestBooksDedup(t *testing.T) {
	bk := func(seq uint64) md.BookUpdate {
		return mkBook("binance", "BTC-USDT", seq, seq, seq == 1,
			[]md.Level{lvl(100, 1), lvl(99, 2)}, []md.Level{lvl(101, 3)})
	}
	st := func(seq uint64) md.BookStatus {
		return mkStatus("binance", "BTC-USDT", seq, md.BookValid, 0, seq)
	}
	bb := func(seq uint64) md.BBO { return mkBBO("binance", "BTC-USDT", seq) }
	v2 := func(u md.BookUpdate) md.BookUpdate { u.ParserVersion = 2; return u }
	type step struct {
		batch   sink.Batch
		reopen  bool
		written sink.KindCounts
		dups    sink.KindCounts
		levels  int
		// totals after the step
		books, levelRows, status, bbos int64
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"repeat and out of order inside a batch", []step{
			{batch: sink.Batch{Books: []md.BookUpdate{bk(1), bk(2), bk(2), bk(4), bk(3)},
				BookStatus: []md.BookStatus{st(1), st(1)}, BBOs: []md.BBO{bb(2), bb(1)}},
				written: sink.KindCounts{Books: 3, BookStatus: 1, BBOs: 1},
				dups:    sink.KindCounts{Books: 2, BookStatus: 1, BBOs: 1},
				levels:  9, books: 3, levelRows: 9, status: 1, bbos: 1},
		}},
		{"across batches and reopen", []step{
			{batch: sink.Batch{Books: []md.BookUpdate{bk(1), bk(2)},
				BookStatus: []md.BookStatus{st(1)}, BBOs: []md.BBO{bb(1), bb(2)}},
				written: sink.KindCounts{Books: 2, BookStatus: 1, BBOs: 2},
				levels:  6, books: 2, levelRows: 6, status: 1, bbos: 2},
			{batch: sink.Batch{Books: []md.BookUpdate{bk(2), bk(3)},
				BookStatus: []md.BookStatus{st(1), st(2)}, BBOs: []md.BBO{bb(2)}},
				written: sink.KindCounts{Books: 1, BookStatus: 1},
				dups:    sink.KindCounts{Books: 1, BookStatus: 1, BBOs: 1},
				levels:  3, books: 3, levelRows: 9, status: 2, bbos: 2},
			{reopen: true, batch: sink.Batch{Books: []md.BookUpdate{bk(1), bk(2), bk(3), bk(4)},
				BookStatus: []md.BookStatus{st(2)}, BBOs: []md.BBO{bb(1), bb(3)}},
				written: sink.KindCounts{Books: 1, BBOs: 1},
				dups:    sink.KindCounts{Books: 3, BookStatus: 1, BBOs: 1},
				levels:  3, books: 4, levelRows: 12, status: 2, bbos: 3},
		}},
		{"kinds and parser versions have their own watermarks", []step{
			// One provenance as a trade, a book update, a book status and a BBO: no collision.
			{batch: sink.Batch{Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 1, 1)},
				Books: []md.BookUpdate{bk(1)}, BookStatus: []md.BookStatus{st(1)},
				BBOs: []md.BBO{bb(1)}},
				written: sink.KindCounts{Trades: 1, Books: 1, BookStatus: 1, BBOs: 1},
				levels:  3, books: 1, levelRows: 3, status: 1, bbos: 1},
			{batch: sink.Batch{Books: []md.BookUpdate{v2(bk(1)), bk(1), v2(bk(1))}},
				written: sink.KindCounts{Books: 1}, dups: sink.KindCounts{Books: 2},
				levels: 3, books: 2, levelRows: 6, status: 1, bbos: 1},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dedup.duckdb")
			s := openAt(t, path)
			for i, st := range tc.steps {
				if st.reopen {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = openAt(t, path)
				}
				res := write(t, s, &st.batch)
				if res.Written != st.written || res.Duplicates != st.dups || res.Levels != st.levels {
					t.Fatalf("step %d: result %+v, want written %+v dups %+v levels %d", i, res,
						st.written, st.dups, st.levels)
				}
				for _, c := range []struct {
					q    string
					want int64
				}{
					{"SELECT count(*) FROM book_updates", st.books},
					{"SELECT count(*) FROM book_levels", st.levelRows},
					{"SELECT count(*) FROM book_status", st.status},
					{"SELECT count(*) FROM bbo", st.bbos},
				} {
					if n := queryInt(t, s, c.q); n != c.want {
						t.Fatalf("step %d: %s = %d, want %d", i, c.q, n, c.want)
					}
				}
			}
			// Every stored message has exactly its levels, and no event id is stored twice.
			if n := queryInt(t, s, `SELECT count(*) FROM book_updates u WHERE bid_levels + ask_levels
				<> (SELECT count(*) FROM book_levels l WHERE l.venue = u.venue AND l.symbol = u.symbol
				    AND l.parser_version = u.parser_version AND l.epoch = u.epoch AND l.seq = u.seq
				    AND l.idx = u.idx)`); n != 0 {
				t.Fatalf("%d book updates whose level rows do not match their counts", n)
			}
			for _, table := range []string{"book_updates", "book_status", "bbo"} {
				if n := queryInt(t, s, `SELECT count(*) FROM (SELECT venue, symbol, parser_version,
					epoch, seq, idx FROM `+table+` GROUP BY ALL HAVING count(*) > 1)`); n != 0 {
					t.Fatalf("%s: %d duplicated event ids", table, n)
				}
			}
		})
	}
}

func TestBooksWriteIsAtomic(t *testing.T) {
	for _, stage := range []string{"keys", "trades", "integrity", "book_updates", "books",
		"book_status", "bbo", "coverage", "watermarks", "offsets"} {
		t.Run(stage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "atomic.duckdb")
			s := openAt(t, path)
			write(t, s, &sink.Batch{
				Books: []md.BookUpdate{mkBook("binance", "BTC-USDT", 1, 1, true,
					[]md.Level{lvl(100, 1)}, []md.Level{lvl(101, 1)})},
				Offsets: offsets(transport.TopicBooks, 0, 1),
			})
			b := &sink.Batch{
				Trades: []md.Trade{mkTrade("binance", "BTC-USDT", 2, 2)},
				Books: []md.BookUpdate{
					mkBook("binance", "BTC-USDT", 2, 2, false, []md.Level{lvl(100, 0)}, nil),
					mkBook("binance", "ETH-USDT", 1, 1, true, []md.Level{lvl(10, 1), lvl(9, 1)},
						[]md.Level{lvl(11, 1)})},
				BookStatus: []md.BookStatus{
					mkStatus("binance", "BTC-USDT", 3, md.BookInvalid, md.IntegrityGap, 2)},
				BBOs:    []md.BBO{mkBBO("binance", "BTC-USDT", 3)},
				Offsets: offsets(transport.TopicBooks, 0, 5, transport.TopicBBO, 0, 1),
			}
			boom := errors.New("boom")
			s.failpoint = func(st string) error {
				if st == stage {
					return boom
				}
				return nil
			}
			if _, err := s.Write(context.Background(), b); !errors.Is(err, boom) {
				t.Fatalf("write error %v, want boom", err)
			}
			check := func(s *Store, want [7]int64) {
				t.Helper()
				for i, q := range []string{"SELECT count(*) FROM trades",
					"SELECT count(*) FROM book_updates", "SELECT count(*) FROM book_levels",
					"SELECT count(*) FROM book_status", "SELECT count(*) FROM bbo",
					"SELECT count(*) FROM coverage", "SELECT count(*) FROM watermarks"} {
					if n := queryInt(t, s, q); n != want[i] {
						t.Errorf("%s = %d, want %d", q, n, want[i])
					}
				}
			}
			check(s, [7]int64{0, 1, 2, 0, 0, 0, 1})
			if offs, err := s.Offsets(context.Background()); err != nil || len(offs) != 1 ||
				offs[0].Next != 1 {
				t.Fatalf("offsets after the failed write: %v %v", offs, err)
			}
			s.failpoint = nil
			res := write(t, s, b)
			want := sink.WriteResult{Written: sink.KindCounts{Trades: 1, Books: 2, BookStatus: 1,
				BBOs: 1}, Levels: 4}
			if res != want {
				t.Fatalf("retry result %+v, want %+v", res, want)
			}
			after := [7]int64{1, 3, 6, 1, 1, 1, 5}
			check(s, after)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			check(openAt(t, path), after)
		})
	}
}

func TestBookCoverageFromStatus(t *testing.T) {
	s := openTest(t)
	inv := func(symbol string, seq uint64) md.BookStatus {
		return mkStatus("binance", symbol, seq, md.BookInvalid, md.IntegrityGap, seq)
	}
	val := func(symbol string, seq uint64) md.BookStatus {
		return mkStatus("binance", symbol, seq, md.BookValid, 0, seq)
	}
	type iv struct {
		symbol   string
		from, to any
		pv       uint16
	}
	read := func() []iv {
		t.Helper()
		var out []iv
		for _, r := range queryRows(t, s, `SELECT symbol, from_time, to_time, parser_version,
			stream, reason, status FROM coverage ORDER BY symbol, parser_version, from_time`) {
			if r[4] != "book" || r[5] != "book_invalid" || r[6] != "gap" {
				t.Fatalf("coverage row %v", r)
			}
			out = append(out, iv{r[0].(string), r[1], r[2], r[3].(uint16)})
		}
		return out
	}
	rt := func(seq uint64) any { return ts(baseTime + int64(seq)*1000 + 100) }
	v2 := val("BTC-USDT", 40)
	v2.ParserVersion = 2
	steps := []struct {
		name   string
		status []md.BookStatus
		want   []iv
	}{
		{"valid without an open interval does nothing",
			[]md.BookStatus{val("BTC-USDT", 1)}, nil},
		{"invalid opens, a repeated invalid does not open another",
			[]md.BookStatus{inv("BTC-USDT", 10), inv("BTC-USDT", 11), inv("ETH-USDT", 12)},
			[]iv{{"BTC-USDT", rt(10), nil, 1}, {"ETH-USDT", rt(12), nil, 1}}},
		{"another parser version's valid does not close it", []md.BookStatus{v2},
			[]iv{{"BTC-USDT", rt(10), nil, 1}, {"ETH-USDT", rt(12), nil, 1}}},
		{"valid closes it (next batch)", []md.BookStatus{val("BTC-USDT", 20)},
			[]iv{{"BTC-USDT", rt(10), rt(20), 1}, {"ETH-USDT", rt(12), nil, 1}}},
		{"an invalid/valid pair inside one batch, then a second valid",
			[]md.BookStatus{inv("BTC-USDT", 30), val("BTC-USDT", 31), val("BTC-USDT", 32),
				val("ETH-USDT", 33)},
			[]iv{{"BTC-USDT", rt(10), rt(20), 1}, {"BTC-USDT", rt(30), rt(31), 1},
				{"ETH-USDT", rt(12), rt(33), 1}}},
	}
	for _, st := range steps {
		write(t, s, &sink.Batch{BookStatus: st.status})
		if got := read(); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s:\n got %v\nwant %v", st.name, got, st.want)
		}
	}
	// A backfill never repairs a book interval, and the intervals show in coverage_gaps.
	bf := mkIntegrity("binance", "BTC-USDT", md.IntegrityBackfill, 50)
	bf.Stream = md.KindBookUpdate
	bf.From, bf.To = baseTime, baseTime+1_000_000
	write(t, s, &sink.Batch{Integrity: []md.Integrity{bf}})
	if n := queryInt(t, s, "SELECT count(*) FROM coverage_gaps WHERE stream = 'book'"); n != 3 {
		t.Fatalf("%d book intervals in coverage_gaps, want 3", n)
	}
}

// TestBookMaskingQueryFromSchemaDoc checks the book masking example of SCHEMA.md.
func TestBookMaskingQueryFromSchemaDoc(t *testing.T) {
	s := openTest(t)
	var books []md.BookUpdate
	for i := uint64(1); i <= 10; i++ {
		books = append(books, mkBook("binance", "BTC-USDT", i, i, i == 1, []md.Level{lvl(100, int64(i))}, nil))
	}
	// Invalid from message 4's receive time to message 6's (closed), and open from 9's on.
	write(t, s, &sink.Batch{Books: books, BookStatus: []md.BookStatus{
		mkStatus("binance", "BTC-USDT", 4, md.BookInvalid, md.IntegrityGap, 4),
		mkStatus("binance", "BTC-USDT", 6, md.BookValid, 0, 6),
		mkStatus("binance", "BTC-USDT", 9, md.BookInvalid, md.IntegrityDisconnect, 9),
	}})
	r, err := s.Query(context.Background(), bookMaskingQuery)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, v := range r.Values {
		got = append(got, v[1].(uint64))
	}
	if want := []uint64{1, 2, 3, 6, 7, 8}; !slices.Equal(got, want) {
		t.Fatalf("unmasked book_seq %v, want %v", got, want)
	}
}

// bookMaskingQuery is the book masking example of SCHEMA.md (kept identical).
const bookMaskingQuery = `SELECT u.recv_time, u.book_seq
FROM book_updates_v u
WHERE u.venue = 'binance' AND u.symbol = 'BTC-USDT'
  AND NOT EXISTS (
    SELECT 1 FROM coverage_gaps g
    WHERE g.venue = u.venue AND g.symbol = u.symbol AND g.stream = 'book'
      AND u.recv_time >= g.from_time
      AND u.recv_time < coalesce(g.to_time, 'infinity'::TIMESTAMP_NS))
ORDER BY u.recv_time`

// ---- book_at against a book built in Go ----

// refLevel is a level of the reference book.
type refLevel struct {
	price, qty md.Decimal
}

// canon returns d with trailing zeros stripped: equal values have equal canonical forms.
func canon(d md.Decimal) md.Decimal {
	for d.Scale > 0 && d.Mant%10 == 0 {
		d.Mant /= 10
		d.Scale--
	}
	return d
}

// refState is the reference book of one instrument as of some time, built by replaying the
// events in the order they were emitted.
type refState struct {
	have        bool
	bids, asks  map[md.Decimal]refLevel
	bookSeq     uint64
	snapSeq     uint64
	asOf        int64
	knownDepth  uint32
	contiguous  bool
	statusValid bool
}

func (r *refState) apply(u *md.BookUpdate) {
	if u.Snapshot {
		*r = refState{have: true, bids: map[md.Decimal]refLevel{}, asks: map[md.Decimal]refLevel{},
			snapSeq: u.Seq, contiguous: true, statusValid: r.statusValid}
	} else if !r.have || !r.contiguous {
		return
	} else if u.Seq != r.bookSeq+1 {
		r.contiguous = false
		return
	}
	for side, ls := range [2][]md.Level{u.Bids, u.Asks} {
		m := r.bids
		if side == 1 {
			m = r.asks
		}
		for _, l := range ls {
			if l.Qty.Mant == 0 {
				delete(m, canon(l.Price))
			} else {
				m[canon(l.Price)] = refLevel{l.Price, l.Qty}
			}
		}
	}
	r.bookSeq, r.asOf, r.knownDepth = u.Seq, u.RecvTime, u.Depth
}

// row renders the reference book as book_at rows.
func (r *refState) rows(depth int) [][]any {
	if !r.have {
		return nil
	}
	var out [][]any
	for side, m := range []map[md.Decimal]refLevel{r.bids, r.asks} {
		ls := make([]refLevel, 0, len(m))
		for _, l := range m {
			ls = append(ls, l)
		}
		slices.SortFunc(ls, func(a, b refLevel) int {
			c := a.price.Cmp(b.price)
			if side == 0 {
				return -c
			}
			return c
		})
		for i, l := range ls {
			if depth > 0 && i >= depth {
				break
			}
			out = append(out, []any{[]string{"bid", "ask"}[side], int64(i + 1), l.price.Mant,
				l.price.Scale, l.qty.Mant, l.qty.Scale, r.bookSeq, r.snapSeq, ts(r.asOf),
				r.knownDepth, r.contiguous && r.statusValid})
		}
	}
	return out
}

type bookEvent struct {
	book   *md.BookUpdate
	status *md.BookStatus
}

func (e bookEvent) header() *md.Header {
	if e.book != nil {
		return &e.book.Header
	}
	return &e.status.Header
}

// genBookEvents returns a random event stream of one instrument: chains that each start
// with a snapshot (after a resync: invalid status, pause, snapshot, valid status in the
// snapshot's raw record), deltas that add, change and delete levels (also deleting absent
// ones), one chain with a sequence break and no status, and a tick-size change (prices at
// another scale).
func genBookEvents(rng *rand.Rand, symbol string, n int, seq0 uint64) []bookEvent {
	var out []bookEvent
	prov := seq0
	bookSeq := uint64(100)
	scale := uint8(2)
	mid := int64(650000)
	price := func(ticks int64) md.Decimal {
		if scale == 2 {
			return md.Decimal{Mant: ticks, Scale: 2}
		}
		return md.Decimal{Mant: ticks * 1000, Scale: 5} // same value at another scale
	}
	qty := func() md.Decimal { return md.Decimal{Mant: 1 + rng.Int64N(50000), Scale: 5} }
	next := func() md.Header {
		prov++
		return md.Header{Venue: "binance", Symbol: symbol,
			RecvTime: baseTime + int64(prov)*1000, Prov: md.Provenance{Epoch: 1, Seq: prov},
			ParserVersion: 1}
	}
	snapshot := func() {
		bookSeq++
		u := &md.BookUpdate{Header: next(), Snapshot: true, Seq: bookSeq, PrevSeq: bookSeq - 1,
			Depth: 1000}
		for i := range int64(20) {
			u.Bids = append(u.Bids, md.Level{Price: price(mid - 1 - i*2), Qty: qty()})
			u.Asks = append(u.Asks, md.Level{Price: price(mid + 1 + i*2), Qty: qty()})
		}
		out = append(out, bookEvent{book: u})
	}
	snapshot()
	for len(out) < n {
		switch r := rng.IntN(100); {
		case r < 3: // resync
			h := next()
			out = append(out, bookEvent{status: &md.BookStatus{Header: h, State: md.BookInvalid,
				Reason: md.IntegrityChecksumFailure, Seq: bookSeq}})
			prov += 5 // time passes
			if rng.IntN(3) == 0 {
				scale = 7 - scale // tick-size change: 2 <-> 5
			}
			snapshot()
			h = out[len(out)-1].book.Header
			h.Prov.Index = 1 // in the snapshot's raw record
			out = append(out, bookEvent{status: &md.BookStatus{Header: h, State: md.BookValid,
				Seq: bookSeq}})
		case r < 4: // a lost message: the chain breaks (no status)
			bookSeq++
			fallthrough
		default:
			bookSeq++
			u := &md.BookUpdate{Header: next(), Seq: bookSeq, PrevSeq: bookSeq - 1, Depth: 1000}
			mid += rng.Int64N(5) - 2
			for range rng.IntN(6) {
				p := mid - 1 - rng.Int64N(60)
				q := qty()
				if rng.IntN(3) == 0 {
					q = md.Decimal{Scale: 5} // delete (maybe an absent level)
				}
				u.Bids = append(u.Bids, md.Level{Price: price(p), Qty: q})
			}
			for range rng.IntN(6) {
				q := qty()
				if rng.IntN(3) == 0 {
					q = md.Decimal{Scale: 5}
				}
				u.Asks = append(u.Asks, md.Level{Price: price(mid + 1 + rng.Int64N(60)), Qty: q})
			}
			out = append(out, bookEvent{book: u})
		}
	}
	return out
}

// refAt replays events up to ts (inclusive) and returns the reference state.
func refAt(evs []bookEvent, ts int64) *refState {
	r := &refState{statusValid: true}
	for _, e := range evs {
		if e.header().RecvTime > ts {
			break
		}
		if e.book != nil {
			r.apply(e.book)
		} else {
			r.statusValid = e.status.State == md.BookValid
		}
	}
	return r
}

func TestBookAtMatchesGoReference(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(7, 11))
	main := genBookEvents(rng, "BTC-USDT", 1500, 0)
	// Another instrument interleaved in the same batches, with overlapping provenance.
	other := genBookEvents(rng, "ETH-USDT", 500, 0)
	// Write in batches, each replaying part of the previous one (duplicates the watermarks
	// drop).
	all := append(slices.Clone(main), other...)
	for from := 0; from < len(all); {
		to := min(len(all), from+50+rng.IntN(200))
		b := &sink.Batch{}
		for _, e := range all[max(0, from-rng.IntN(30)):to] {
			if e.book != nil {
				b.Books = append(b.Books, *e.book)
			} else {
				b.BookStatus = append(b.BookStatus, *e.status)
			}
		}
		write(t, s, b)
		from = to
	}
	var books int64
	for _, e := range all {
		if e.book != nil {
			books++
		}
	}
	if n := queryInt(t, s, "SELECT count(*) FROM book_updates"); n != books {
		t.Fatalf("%d book updates stored, want %d", n, books)
	}

	first, last := main[0].header().RecvTime, main[len(main)-1].header().RecvTime
	times := []int64{first - 1, first, last, last + 1_000_000}
	for range 40 {
		times = append(times, first+rng.Int64N(last-first))
	}
	for range 20 { // exactly at an event
		times = append(times, main[rng.IntN(len(main))].header().RecvTime)
	}
	var valid, invalid, broken int
	for _, at := range times {
		ref := refAt(main, at)
		if ref.have && !ref.statusValid {
			invalid++
		} else if ref.have && !ref.contiguous {
			broken++
		} else if ref.have {
			valid++
		}
		for _, depth := range []int{0, 5} {
			got := queryRows(t, s, `SELECT side, level, price_mant, price_scale, qty_mant,
				qty_scale, book_seq, snapshot_seq, as_of, known_depth, valid
				FROM book_at('binance', 'BTC-USDT', make_timestamp_ns(?), ?)`, at, depth)
			want := ref.rows(depth)
			if len(got) == 0 && len(want) == 0 {
				continue
			}
			for i := range got {
				got[i][0] = fmt.Sprint(got[i][0])
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("book_at(%d, depth %d):\n got %v\nwant %v", at, depth, got, want)
			}
		}
	}
	t.Logf("%d times: %d valid, %d after an invalid status, %d after a sequence break",
		len(times), valid, invalid, broken)
	if valid == 0 || invalid == 0 || broken == 0 {
		t.Fatal("the random stream did not exercise every case")
	}
}

func TestBookAtPicksParserVersionAndSnapshot(t *testing.T) {
	s := openTest(t)
	// v1: snapshot at 1, deltas 2..3; a re-normalization (v2) of the same records reads
	// other quantities; v2 stops at 2.
	v1 := []md.BookUpdate{
		mkBook("binance", "BTC-USDT", 1, 1, true, []md.Level{lvl(100, 1)}, []md.Level{lvl(101, 1)}),
		mkBook("binance", "BTC-USDT", 2, 2, false, []md.Level{lvl(99, 1)}, nil),
		mkBook("binance", "BTC-USDT", 3, 3, false, nil, []md.Level{lvl(101, 0), lvl(102, 5)}),
	}
	var v2 []md.BookUpdate
	for _, u := range v1[:2] {
		u.ParserVersion = 2
		u.Bids = []md.Level{{Price: u.Bids[0].Price, Qty: md.Decimal{Mant: 77, Scale: 5}}}
		v2 = append(v2, u)
	}
	write(t, s, &sink.Batch{Books: v1})
	write(t, s, &sink.Batch{Books: v2})
	at := func(seq uint64) [][]any {
		return queryRows(t, s, `SELECT side, level, qty_mant, parser_version, book_seq
			FROM book_at('binance', 'BTC-USDT', make_timestamp_ns(?), 0)`,
			baseTime+int64(seq)*1000+100)
	}
	// At 2, both versions have the messages: the newer one is rebuilt.
	want := [][]any{{"bid", int64(1), int64(77), uint16(2), uint64(2)},
		{"bid", int64(2), int64(77), uint16(2), uint64(2)},
		{"ask", int64(1), int64(1), uint16(2), uint64(2)}}
	if got := at(2); !reflect.DeepEqual(got, want) {
		t.Fatalf("at 2:\n got %v\nwant %v", got, want)
	}
	// At 3, only v1 goes on: v1 is rebuilt (from the same snapshot record).
	want = [][]any{{"bid", int64(1), int64(1), uint16(1), uint64(3)},
		{"bid", int64(2), int64(1), uint16(1), uint64(3)},
		{"ask", int64(1), int64(5), uint16(1), uint64(3)}}
	if got := at(3); !reflect.DeepEqual(got, want) {
		t.Fatalf("at 3:\n got %v\nwant %v", got, want)
	}
	// Before the first snapshot: nothing.
	if got := at(0); len(got) != 0 {
		t.Fatalf("before the snapshot: %v", got)
	}
	// A lookback window holding the snapshot changes nothing; one that does not: no book.
	lb := func(window string) [][]any {
		return queryRows(t, s, `SELECT side, level, qty_mant, parser_version, book_seq
			FROM book_at('binance', 'BTC-USDT', make_timestamp_ns(?), 0, lookback := `+window+`)`,
			baseTime+3*1000+100)
	}
	if got := lb("INTERVAL 2 MICROSECOND"); !reflect.DeepEqual(got, want) {
		t.Fatalf("at 3, lookback 2us:\n got %v\nwant %v", got, want)
	}
	if got := lb("INTERVAL 1 MICROSECOND"); len(got) != 0 {
		t.Fatalf("at 3, lookback 1us (no snapshot inside): %v", got)
	}
	// Depth 1 and levels at other scales that are the same prices (1.010 == 1.01 re-adds
	// the deleted level, 1.0200 == 1.02 deletes the other).
	write(t, s, &sink.Batch{Books: []md.BookUpdate{mkBook("binance", "BTC-USDT", 4, 4, false,
		nil, []md.Level{{Price: md.Decimal{Mant: 1010, Scale: 3}, Qty: md.Decimal{Mant: 3, Scale: 5}},
			{Price: md.Decimal{Mant: 10200, Scale: 4}, Qty: md.Decimal{Scale: 5}}})}})
	got := queryRows(t, s, `SELECT side, price_mant, price_scale, qty_mant FROM book_at('binance',
		'BTC-USDT', make_timestamp_ns(?), 1)`, baseTime+4*1000+100)
	want = [][]any{{"bid", int64(100), uint8(2), int64(1)}, {"ask", int64(1010), uint8(3), int64(3)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("at 4, depth 1:\n got %v\nwant %v", got, want)
	}
}
