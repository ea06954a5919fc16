package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// The book part of the write transaction (see write.go for the whole):
//
//  1. the admitted book updates' headers go, numbers only, into the temp table batch_books
//     (msg = their position among the admitted updates) through a table appender;
//  2. INSERT ... SELECT moves them into book_updates, joining batch_keys for venue, symbol
//     and parser version;
//  3. the levels go through a query appender carrying (msg, side, level, price, qty) only;
//     its INSERT ... SELECT joins batch_books and batch_keys for the message's id, receive
//     time and book sequence.
//
// Why one row per level and not one row per message with LIST(STRUCT) columns: measured
// with the same appenders (SCHEMA.md, "Why book_levels"), the nested table was no faster to
// write (lists must be built either in Go, boxing every field into a map, or by a GROUP BY
// in DuckDB, which cost ~20% more CPU per level) and is harder to query; it is 2-2.7 times
// smaller on disk.

const batchBooksDDL = `CREATE TEMP TABLE IF NOT EXISTS batch_books (
    msg             UINTEGER NOT NULL,
    key_id          UINTEGER NOT NULL,
    is_snapshot     BOOLEAN  NOT NULL,
    book_seq        UBIGINT  NOT NULL,
    book_prev_seq   UBIGINT  NOT NULL,
    first_id        UBIGINT  NOT NULL,
    last_id         UBIGINT  NOT NULL,
    depth           UINTEGER NOT NULL,
    bid_levels      UINTEGER NOT NULL,
    ask_levels      UINTEGER NOT NULL,
    exch_ns         BIGINT   NOT NULL,
    send_ns         BIGINT   NOT NULL,
    recv_ns         BIGINT   NOT NULL,
    clock_offset_ns BIGINT   NOT NULL,
    epoch           UBIGINT  NOT NULL,
    seq             UBIGINT  NOT NULL,
    idx             UINTEGER NOT NULL,
    source          UTINYINT NOT NULL
)`

const insertBookUpdatesSQL = `INSERT INTO book_updates (venue, symbol, is_snapshot, book_seq,
    book_prev_seq, first_id, last_id, depth, bid_levels, ask_levels, exch_time, send_time,
    recv_time, clock_offset_ns, epoch, seq, idx, source, parser_version)
SELECT k.venue, k.symbol, h.is_snapshot, h.book_seq, h.book_prev_seq, h.first_id, h.last_id,
       h.depth, h.bid_levels, h.ask_levels,
       make_timestamp_ns(NULLIF(h.exch_ns, 0)), make_timestamp_ns(NULLIF(h.send_ns, 0)),
       make_timestamp_ns(h.recv_ns), h.clock_offset_ns, h.epoch, h.seq, h.idx,
       CASE h.source WHEN 1 THEN 'backfill' WHEN 2 THEN 'reimport' ELSE 'live' END,
       k.parser_version
FROM batch_books h JOIN batch_keys k ON h.key_id = k.key_id
ORDER BY h.msg`

var levelCols = []column{
	{"msg", duck.TYPE_UINTEGER},
	{"side", duck.TYPE_UTINYINT}, // 0 bid, 1 ask
	{"level", duck.TYPE_UINTEGER},
	{"price_mant", duck.TYPE_BIGINT},
	{"price_scale", duck.TYPE_UTINYINT},
	{"qty_mant", duck.TYPE_BIGINT},
	{"qty_scale", duck.TYPE_UTINYINT},
}

const insertLevelsSQL = `INSERT INTO book_levels (venue, symbol, recv_time, book_seq, side, level,
    price_mant, price_scale, qty_mant, qty_scale, epoch, seq, idx, parser_version)
SELECT k.venue, k.symbol, make_timestamp_ns(h.recv_ns), h.book_seq,
       CASE a.side WHEN 0 THEN 'bid' ELSE 'ask' END, a.level,
       a.price_mant, a.price_scale, a.qty_mant, a.qty_scale, h.epoch, h.seq, h.idx,
       k.parser_version
FROM appended_data a JOIN batch_books h ON a.msg = h.msg JOIN batch_keys k ON h.key_id = k.key_id`

var bookStatusCols = withHeader(duck.TYPE_VARCHAR,
	column{"key_id", duck.TYPE_UINTEGER},
	column{"state", duck.TYPE_VARCHAR},
	column{"reason", duck.TYPE_VARCHAR},
	column{"book_seq", duck.TYPE_UBIGINT},
)

const insertBookStatusSQL = `INSERT INTO book_status (venue, symbol, state, reason, book_seq,
    exch_time, send_time, recv_time, clock_offset_ns, epoch, seq, idx, source, parser_version)
SELECT k.venue, k.symbol, a.state, a.reason, a.book_seq,
       make_timestamp_ns(NULLIF(a.exch_ns, 0)), make_timestamp_ns(NULLIF(a.send_ns, 0)),
       make_timestamp_ns(a.recv_ns), a.clock_offset_ns, a.epoch, a.seq, a.idx, a.source,
       k.parser_version
FROM appended_data a JOIN batch_keys k ON a.key_id = k.key_id`

var bboCols = withHeader(duck.TYPE_UTINYINT,
	column{"key_id", duck.TYPE_UINTEGER},
	column{"bid_price_mant", duck.TYPE_BIGINT},
	column{"bid_price_scale", duck.TYPE_UTINYINT},
	column{"bid_qty_mant", duck.TYPE_BIGINT},
	column{"bid_qty_scale", duck.TYPE_UTINYINT},
	column{"ask_price_mant", duck.TYPE_BIGINT},
	column{"ask_price_scale", duck.TYPE_UTINYINT},
	column{"ask_qty_mant", duck.TYPE_BIGINT},
	column{"ask_qty_scale", duck.TYPE_UTINYINT},
	column{"update_id", duck.TYPE_UBIGINT},
)

const insertBBOSQL = `INSERT INTO bbo (venue, symbol, bid_price_mant, bid_price_scale,
    bid_qty_mant, bid_qty_scale, ask_price_mant, ask_price_scale, ask_qty_mant, ask_qty_scale,
    update_id, exch_time, send_time, recv_time, clock_offset_ns, epoch, seq, idx, source,
    parser_version)
SELECT k.venue, k.symbol, a.bid_price_mant, a.bid_price_scale, a.bid_qty_mant,
       a.bid_qty_scale, a.ask_price_mant, a.ask_price_scale, a.ask_qty_mant, a.ask_qty_scale,
       NULLIF(a.update_id, 0),
       make_timestamp_ns(NULLIF(a.exch_ns, 0)), make_timestamp_ns(NULLIF(a.send_ns, 0)),
       make_timestamp_ns(a.recv_ns), a.clock_offset_ns, a.epoch, a.seq, a.idx,
       CASE a.source WHEN 1 THEN 'backfill' WHEN 2 THEN 'reimport' ELSE 'live' END,
       k.parser_version
FROM appended_data a JOIN batch_keys k ON a.key_id = k.key_id`

// bookTypes holds the appenders' column types of the book kinds.
type bookTypes struct {
	levelTypes  []duck.TypeInfo
	levelNames  []string
	statusTypes []duck.TypeInfo
	statusNames []string
	bboTypes    []duck.TypeInfo
	bboNames    []string
}

func (s *Store) prepareBookWriter(ctx context.Context) error {
	if _, err := s.wconn.ExecContext(ctx, batchBooksDDL); err != nil {
		return err
	}
	w := &s.w.book
	var err error
	if w.levelTypes, w.levelNames, err = typeInfos(levelCols, nil); err != nil {
		return err
	}
	if w.statusTypes, w.statusNames, err = typeInfos(bookStatusCols, nil); err != nil {
		return err
	}
	if w.bboTypes, w.bboNames, err = typeInfos(bboCols, nil); err != nil {
		return err
	}
	return nil
}

// closeAppender closes a and keeps the first error.
func closeAppender(a *duck.Appender, err *error) {
	if cerr := a.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

func (s *Store) appendBooks(ctx context.Context, c *duck.Conn, b *sink.Batch) (err error) {
	w := &s.w
	if len(w.books) == 0 {
		return nil
	}
	if err := s.exec(ctx, c, "DELETE FROM batch_books"); err != nil {
		return err
	}
	if err := s.appendBookHeaders(c, b); err != nil {
		return err
	}
	if err := s.exec(ctx, c, insertBookUpdatesSQL); err != nil {
		return err
	}
	if err := s.fail("book_updates"); err != nil { // headers in, levels not yet
		return err
	}
	return s.appendLevels(c, b)
}

func (s *Store) appendBookHeaders(c *duck.Conn, b *sink.Batch) (err error) {
	a, err := duck.NewAppender(c, "temp", "main", "batch_books")
	if err != nil {
		return err
	}
	defer closeAppender(a, &err)
	for msg, ad := range s.w.books {
		u := &b.Books[ad.i]
		if err := a.AppendRow(uint32(msg), ad.key, u.Snapshot, u.Seq, u.PrevSeq, u.FirstID,
			u.LastID, u.Depth, uint32(len(u.Bids)), uint32(len(u.Asks)), u.ExchTime,
			u.SendTime, u.RecvTime, u.ClockOffset, u.Prov.Epoch, u.Prov.Seq, u.Prov.Index,
			uint8(u.Source)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) appendLevels(c *duck.Conn, b *sink.Batch) (err error) {
	w := &s.w
	if s.w.levels == 0 {
		return nil
	}
	a, err := duck.NewQueryAppender(c, insertLevelsSQL, "appended_data", w.book.levelTypes,
		w.book.levelNames)
	if err != nil {
		return err
	}
	defer closeAppender(a, &err)
	for msg, ad := range w.books {
		u := &b.Books[ad.i]
		for side, ls := range [2][]md.Level{u.Bids, u.Asks} {
			for j := range ls {
				l := &ls[j]
				if err := a.AppendRow(uint32(msg), uint8(side), uint32(j+1), l.Price.Mant,
					l.Price.Scale, l.Qty.Mant, l.Qty.Scale); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// bookReason returns the reason of a book status as stored: NULL when none.
func bookReason(st *md.BookStatus) driver.Value {
	if st.Reason == 0 {
		return nil
	}
	return st.Reason.String()
}

func (s *Store) appendBookStatus(_ context.Context, c *duck.Conn, b *sink.Batch) (err error) {
	w := &s.w
	if len(w.status) == 0 {
		return nil
	}
	a, err := duck.NewQueryAppender(c, insertBookStatusSQL, "appended_data",
		w.book.statusTypes, w.book.statusNames)
	if err != nil {
		return err
	}
	defer closeAppender(a, &err)
	for _, ad := range w.status {
		st := &b.BookStatus[ad.i]
		if err := a.AppendRow(ad.key, st.State.String(), bookReason(st), st.Seq, st.ExchTime,
			st.SendTime, st.RecvTime, st.ClockOffset, st.Prov.Epoch, st.Prov.Seq,
			st.Prov.Index, st.Source.String()); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) appendBBOs(_ context.Context, c *duck.Conn, b *sink.Batch) (err error) {
	w := &s.w
	if len(w.bbos) == 0 {
		return nil
	}
	a, err := duck.NewQueryAppender(c, insertBBOSQL, "appended_data", w.book.bboTypes,
		w.book.bboNames)
	if err != nil {
		return err
	}
	defer closeAppender(a, &err)
	for _, ad := range w.bbos {
		q := &b.BBOs[ad.i]
		if err := a.AppendRow(ad.key, q.BidPrice.Mant, q.BidPrice.Scale, q.BidQty.Mant,
			q.BidQty.Scale, q.AskPrice.Mant, q.AskPrice.Scale, q.AskQty.Mant, q.AskQty.Scale,
			q.UpdateID, q.ExchTime, q.SendTime, q.RecvTime, q.ClockOffset, q.Prov.Epoch,
			q.Prov.Seq, q.Prov.Index, uint8(q.Source)); err != nil {
			return err
		}
	}
	return nil
}

// Book coverage: a book status 'invalid' opens an interval (stream 'book', reason
// 'book_invalid', status 'gap') from its receive time, unless one is open already for the
// same (venue, symbol, parser_version); the next 'valid' closes it at its receive time.
// An open interval has to_time NULL: the book is invalid "until further notice".

const openBookGapSQL = `INSERT INTO coverage (id, venue, symbol, stream, reason, status,
    from_time, to_time, first_id, last_id, epoch, seq, idx, parser_version)
SELECT nextval('coverage_id_seq'), $1, $2, 'book', 'book_invalid', 'gap',
    make_timestamp_ns($3), NULL, NULL, NULL, $4, $5, $6, $7
WHERE NOT EXISTS (
    SELECT 1 FROM coverage
    WHERE venue = $1 AND symbol = $2 AND stream = 'book' AND reason = 'book_invalid'
      AND status = 'gap' AND parser_version = $7 AND to_time IS NULL)`

const closeBookGapSQL = `UPDATE coverage SET to_time = greatest(from_time, make_timestamp_ns($4))
WHERE venue = $1 AND symbol = $2 AND stream = 'book' AND reason = 'book_invalid'
  AND status = 'gap' AND parser_version = $3 AND to_time IS NULL`

func (s *Store) writeBookCoverage(ctx context.Context, c *duck.Conn, b *sink.Batch) error {
	for _, ad := range s.w.status {
		st := &b.BookStatus[ad.i]
		var err error
		switch st.State {
		case md.BookInvalid:
			err = s.exec(ctx, c, openBookGapSQL, st.Venue, st.Symbol, st.RecvTime,
				st.Prov.Epoch, st.Prov.Seq, st.Prov.Index, st.ParserVersion)
		case md.BookValid:
			err = s.exec(ctx, c, closeBookGapSQL, st.Venue, st.Symbol, st.ParserVersion,
				st.RecvTime)
		}
		if err != nil {
			return fmt.Errorf("book status %s %s/%s at %d.%d.%d: %w", st.State, st.Venue,
				st.Symbol, st.Prov.Epoch, st.Prov.Seq, st.Prov.Index, err)
		}
	}
	return nil
}
