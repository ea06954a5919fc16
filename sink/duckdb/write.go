package duckdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// The write path. One DuckDB transaction per batch on the writer's own connection:
//
//  1. batch_keys (a temp table) gets one row per key advanced by the batch: its id, venue,
//     symbol, kind, parser version and new watermark;
//  2. trades go through DuckDB query appenders carrying only numbers (no per-row strings,
//     which cost three cgo calls each), and an INSERT ... SELECT joins batch_keys for venue
//     and symbol and turns nanoseconds into TIMESTAMP_NS;
//  3. integrity events likewise;
//  4. book updates and their levels (books.go: headers through the temp table batch_books,
//     levels through a query appender joining it), book statuses and BBOs likewise;
//  5. coverage rows from the integrity events and the book statuses (coverage.go, books.go);
//  6. watermarks are upserted from batch_keys, offsets from the batch;
//  7. COMMIT. Any error before it rolls everything back; DuckDB's WAL makes the commit
//     atomic under SIGKILL.

const batchKeysDDL = `CREATE TEMP TABLE IF NOT EXISTS batch_keys (
    key_id         UINTEGER  NOT NULL,
    venue          VARCHAR   NOT NULL,
    symbol         VARCHAR   NOT NULL,
    kind           VARCHAR   NOT NULL,
    parser_version USMALLINT NOT NULL,
    epoch          UBIGINT   NOT NULL,
    seq            UBIGINT   NOT NULL,
    idx            UINTEGER  NOT NULL
)`

// column is one appended column: its name in the appender's query and its type.
type column struct {
	name string
	typ  duck.Type
}

// withHeader returns cols followed by the event-header columns every event table appends
// last (times, provenance, source); source arrives as md's number or as text.
func withHeader(source duck.Type, cols ...column) []column {
	return append(cols,
		column{"exch_ns", duck.TYPE_BIGINT},
		column{"send_ns", duck.TYPE_BIGINT},
		column{"recv_ns", duck.TYPE_BIGINT},
		column{"clock_offset_ns", duck.TYPE_BIGINT},
		column{"epoch", duck.TYPE_UBIGINT},
		column{"seq", duck.TYPE_UBIGINT},
		column{"idx", duck.TYPE_UINTEGER},
		column{"source", source})
}

// Columns appended per trade, in order, and their types.
var tradeCols = withHeader(duck.TYPE_UTINYINT,
	column{"key_id", duck.TYPE_UINTEGER},
	column{"id", duck.TYPE_UBIGINT}, // numeric id; replaced by id_text in the text variant
	column{"price_mant", duck.TYPE_BIGINT},
	column{"price_scale", duck.TYPE_UTINYINT},
	column{"qty_mant", duck.TYPE_BIGINT},
	column{"qty_scale", duck.TYPE_UTINYINT},
	column{"side", duck.TYPE_UTINYINT},
)

// side and source arrive as md's numbers; values outside the enums (a newer md) are stored
// as 'unknown' / 'live', matching md's String methods.
const insertTradesSQL = `INSERT INTO trades (venue, symbol, trade_id_num, trade_id_text,
    price_mant, price_scale, qty_mant, qty_scale, side, exch_time, send_time,
    recv_time, clock_offset_ns, epoch, seq, idx, source, parser_version)
SELECT k.venue, k.symbol, %s, %s,
       a.price_mant, a.price_scale, a.qty_mant, a.qty_scale,
       CASE a.side WHEN 1 THEN 'buy' WHEN 2 THEN 'sell' ELSE 'unknown' END,
       make_timestamp_ns(NULLIF(a.exch_ns, 0)), make_timestamp_ns(NULLIF(a.send_ns, 0)),
       make_timestamp_ns(a.recv_ns), a.clock_offset_ns, a.epoch, a.seq, a.idx,
       CASE a.source WHEN 1 THEN 'backfill' WHEN 2 THEN 'reimport' ELSE 'live' END,
       k.parser_version
FROM appended_data a JOIN batch_keys k ON a.key_id = k.key_id`

var (
	insertTradesNumSQL  = fmt.Sprintf(insertTradesSQL, "a.id", "CAST(NULL AS VARCHAR)")
	insertTradesTextSQL = fmt.Sprintf(insertTradesSQL, "CAST(NULL AS UBIGINT)", "a.id_text")
)

var integrityCols = withHeader(duck.TYPE_VARCHAR,
	column{"key_id", duck.TYPE_UINTEGER},
	column{"type", duck.TYPE_VARCHAR},
	column{"stream", duck.TYPE_VARCHAR},
	column{"from_ns", duck.TYPE_BIGINT},
	column{"to_ns", duck.TYPE_BIGINT},
	column{"first_id", duck.TYPE_UBIGINT},
	column{"last_id", duck.TYPE_UBIGINT},
	column{"count", duck.TYPE_UBIGINT},
)

const insertIntegritySQL = `INSERT INTO integrity (venue, symbol, type, stream, from_time,
    to_time, first_id, last_id, count, exch_time, send_time, recv_time, clock_offset_ns,
    epoch, seq, idx, source, parser_version)
SELECT k.venue, k.symbol, a.type, a.stream,
       make_timestamp_ns(NULLIF(a.from_ns, 0)), make_timestamp_ns(NULLIF(a.to_ns, 0)),
       a.first_id, a.last_id, a.count,
       make_timestamp_ns(NULLIF(a.exch_ns, 0)), make_timestamp_ns(NULLIF(a.send_ns, 0)),
       make_timestamp_ns(a.recv_ns), a.clock_offset_ns, a.epoch, a.seq, a.idx, a.source,
       k.parser_version
FROM appended_data a JOIN batch_keys k ON a.key_id = k.key_id`

const upsertWatermarksSQL = `INSERT OR REPLACE INTO watermarks
    (venue, symbol, kind, parser_version, epoch, seq, idx)
SELECT venue, symbol, kind, parser_version, epoch, seq, idx FROM batch_keys`

// admitted is an event of the batch above its watermark: its index and its key's id.
type admitted struct {
	i   int32
	key uint32
}

// writeState is the writer's reusable scratch space.
type writeState struct {
	trades    []admitted
	integrity []admitted
	books     []admitted
	status    []admitted
	bbos      []admitted
	levels    int // levels of the admitted books
	args      []driver.NamedValue
	book      bookTypes

	tradeNumTypes, tradeTextTypes []duck.TypeInfo
	tradeNumNames, tradeTextNames []string
	integrityTypes                []duck.TypeInfo
	integrityNames                []string
}

func typeInfos(cols []column, replace map[string]string) ([]duck.TypeInfo, []string, error) {
	infos := make([]duck.TypeInfo, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		t, name := c.typ, c.name
		if r, ok := replace[name]; ok {
			name, t = r, duck.TYPE_VARCHAR
		}
		ti, err := duck.NewTypeInfo(t)
		if err != nil {
			return nil, nil, err
		}
		infos[i], names[i] = ti, name
	}
	return infos, names, nil
}

// prepareWriter creates the writer connection's temp table and the appenders' column types.
func (s *Store) prepareWriter(ctx context.Context) error {
	if _, err := s.wconn.ExecContext(ctx, batchKeysDDL); err != nil {
		return fmt.Errorf("duckdb: create batch_keys: %w", err)
	}
	w := &s.w
	var err error
	if w.tradeNumTypes, w.tradeNumNames, err = typeInfos(tradeCols, nil); err != nil {
		return err
	}
	if w.tradeTextTypes, w.tradeTextNames, err = typeInfos(tradeCols,
		map[string]string{"id": "id_text"}); err != nil {
		return err
	}
	if w.integrityTypes, w.integrityNames, err = typeInfos(integrityCols, nil); err != nil {
		return err
	}
	if err := s.prepareBookWriter(ctx); err != nil {
		return fmt.Errorf("duckdb: create batch_books: %w", err)
	}
	return nil
}

// Write stores the events of b above their watermarks, advances the watermarks and stores
// b.Offsets in one transaction. See sink.Store.
func (s *Store) Write(ctx context.Context, b *sink.Batch) (sink.WriteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return sink.WriteResult{}, ErrClosed
	case s.cfg.ReadOnly:
		return sink.WriteResult{}, ErrReadOnly
	case s.broken != nil:
		return sink.WriteResult{}, s.broken
	}
	if !s.wmOK {
		if err := s.loadWatermarks(ctx); err != nil {
			return sink.WriteResult{}, err
		}
	}
	var res sink.WriteResult
	w := &s.w
	w.trades, w.integrity = w.trades[:0], w.integrity[:0]
	for i := range b.Trades {
		m, ok := s.wm.Admit(md.KindTrade, &b.Trades[i].Header)
		if !ok {
			res.Duplicates.Trades++
			continue
		}
		w.trades = append(w.trades, admitted{i: int32(i), key: m.ID})
	}
	for i := range b.Integrity {
		m, ok := s.wm.Admit(md.KindIntegrity, &b.Integrity[i].Header)
		if !ok {
			res.Duplicates.Integrity++
			continue
		}
		w.integrity = append(w.integrity, admitted{i: int32(i), key: m.ID})
	}
	w.books, w.status, w.bbos, w.levels = w.books[:0], w.status[:0], w.bbos[:0], 0
	for i := range b.Books {
		u := &b.Books[i]
		m, ok := s.wm.Admit(md.KindBookUpdate, &u.Header)
		if !ok {
			res.Duplicates.Books++
			continue
		}
		w.books = append(w.books, admitted{i: int32(i), key: m.ID})
		w.levels += len(u.Bids) + len(u.Asks)
	}
	for i := range b.BookStatus {
		m, ok := s.wm.Admit(md.KindBookStatus, &b.BookStatus[i].Header)
		if !ok {
			res.Duplicates.BookStatus++
			continue
		}
		w.status = append(w.status, admitted{i: int32(i), key: m.ID})
	}
	for i := range b.BBOs {
		m, ok := s.wm.Admit(md.KindBBO, &b.BBOs[i].Header)
		if !ok {
			res.Duplicates.BBOs++
			continue
		}
		w.bbos = append(w.bbos, admitted{i: int32(i), key: m.ID})
	}
	res.Written = sink.KindCounts{Trades: len(w.trades), Integrity: len(w.integrity),
		Books: len(w.books), BookStatus: len(w.status), BBOs: len(w.bbos)}
	res.Levels = w.levels
	if res.Written.Total() == 0 && len(b.Offsets) == 0 {
		return res, nil
	}
	err := s.wconn.Raw(func(dc any) error {
		c, ok := dc.(*duck.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return s.writeTx(ctx, c, b)
	})
	if err != nil {
		s.wm.Rollback()
		// The commit may have happened although an error came back: reload the watermarks
		// from the database before the next write instead of trusting the cache.
		s.wmOK = false
		return sink.WriteResult{}, fmt.Errorf("duckdb: write batch: %w", err)
	}
	s.wm.Commit()
	return res, nil
}

func (s *Store) fail(stage string) error {
	if s.failpoint == nil {
		return nil
	}
	if err := s.failpoint(stage); err != nil {
		return fmt.Errorf("%s: %w", stage, err)
	}
	return nil
}

func (s *Store) writeTx(ctx context.Context, c *duck.Conn, b *sink.Batch) (err error) {
	if err := s.exec(ctx, c, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committing := false
	defer func() {
		if err == nil {
			return
		}
		rctx, cancel := context.WithTimeout(context.Background(), defaultRollbackTimeout)
		defer cancel()
		rerr := s.exec(rctx, c, "ROLLBACK")
		if rerr != nil && !(committing && strings.Contains(rerr.Error(), "no transaction")) {
			s.broken = fmt.Errorf("duckdb: store unusable after a failed rollback "+
				"(reopen it): %w", rerr)
			err = errors.Join(err, s.broken)
		}
	}()
	steps := []struct {
		name string
		fn   func(context.Context, *duck.Conn, *sink.Batch) error
	}{
		{"keys", s.writeKeys},
		{"trades", s.appendTrades},
		{"integrity", s.appendIntegrity},
		{"books", s.appendBooks},
		{"book_status", s.appendBookStatus},
		{"bbo", s.appendBBOs},
		{"coverage", s.writeCoverage},
		{"watermarks", s.writeWatermarks},
		{"offsets", s.writeOffsets},
	}
	for _, st := range steps {
		if err := st.fn(ctx, c, b); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		if err := s.fail(st.name); err != nil {
			return err
		}
	}
	committing = true
	if err := s.exec(ctx, c, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// exec runs one statement on the writer's driver connection.
func (s *Store) exec(ctx context.Context, c *duck.Conn, query string, args ...any) error {
	nv := s.w.args[:0]
	for i, a := range args {
		nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	s.w.args = nv
	_, err := c.ExecContext(ctx, query, nv)
	clear(nv)
	return err
}

func (s *Store) writeKeys(ctx context.Context, c *duck.Conn, _ *sink.Batch) (err error) {
	if err := s.exec(ctx, c, "DELETE FROM batch_keys"); err != nil {
		return err
	}
	dirty := s.wm.Dirty()
	if len(dirty) == 0 {
		return nil
	}
	a, err := duck.NewAppender(c, "temp", "main", "batch_keys")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := a.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	for _, m := range dirty {
		if err := a.AppendRow(m.ID, m.Key.Venue, m.Key.Symbol, m.Key.Kind.String(),
			m.Key.ParserVersion, m.Next.Epoch, m.Next.Seq, m.Next.Index); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) appendTrades(_ context.Context, c *duck.Conn, b *sink.Batch) (err error) {
	w := &s.w
	var num, text *duck.Appender
	defer func() {
		for _, a := range []*duck.Appender{num, text} {
			if a == nil {
				continue
			}
			if cerr := a.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	for _, ad := range w.trades {
		t := &b.Trades[ad.i]
		var id driver.Value
		app := num
		if t.ID.IsNumeric() {
			if num == nil {
				if num, err = duck.NewQueryAppender(c, insertTradesNumSQL, "appended_data",
					w.tradeNumTypes, w.tradeNumNames); err != nil {
					return err
				}
			}
			app, id = num, t.ID.Num
		} else {
			if text == nil {
				if text, err = duck.NewQueryAppender(c, insertTradesTextSQL, "appended_data",
					w.tradeTextTypes, w.tradeTextNames); err != nil {
					return err
				}
			}
			app, id = text, t.ID.Text()
		}
		if err := app.AppendRow(ad.key, id, t.Price.Mant, t.Price.Scale, t.Qty.Mant,
			t.Qty.Scale, uint8(t.Side), t.ExchTime,
			t.SendTime, t.RecvTime, t.ClockOffset, t.Prov.Epoch, t.Prov.Seq, t.Prov.Index,
			uint8(t.Source)); err != nil {
			return err
		}
	}
	return nil
}

// integrityIDs returns the event's id range, or nils when it carries none (both 0).
func integrityIDs(e *md.Integrity) (first, last driver.Value) {
	if e.FirstID == 0 && e.LastID == 0 {
		return nil, nil
	}
	return e.FirstID, e.LastID
}

func (s *Store) appendIntegrity(_ context.Context, c *duck.Conn, b *sink.Batch) (err error) {
	w := &s.w
	if len(w.integrity) == 0 {
		return nil
	}
	a, err := duck.NewQueryAppender(c, insertIntegritySQL, "appended_data", w.integrityTypes,
		w.integrityNames)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := a.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	for _, ad := range w.integrity {
		e := &b.Integrity[ad.i]
		first, last := integrityIDs(e)
		if err := a.AppendRow(ad.key, e.Type.String(), e.Stream.String(), e.From, e.To, first,
			last, e.Count, e.ExchTime, e.SendTime, e.RecvTime, e.ClockOffset, e.Prov.Epoch,
			e.Prov.Seq, e.Prov.Index, e.Source.String()); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) writeWatermarks(ctx context.Context, c *duck.Conn, _ *sink.Batch) error {
	if len(s.wm.Dirty()) == 0 {
		return nil
	}
	return s.exec(ctx, c, upsertWatermarksSQL)
}

func (s *Store) writeOffsets(ctx context.Context, c *duck.Conn, b *sink.Batch) error {
	if len(b.Offsets) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString(`INSERT OR REPLACE INTO offsets (topic, "partition", next_offset) VALUES `)
	args := make([]any, 0, 3*len(b.Offsets))
	for i, o := range b.Offsets {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?)")
		args = append(args, o.Topic, int32(o.Partition), o.Next)
	}
	return s.exec(ctx, c, q.String(), args...)
}
