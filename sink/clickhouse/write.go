package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// The write path (the package doc explains why it is exactly once):
//
//  1. every event is admitted or skipped against its key's watermark (sink.Watermarks);
//  2. coverage pieces derived from the admitted integrity events: one INSERT;
//  3. the admitted integrity events, then the trades, each cut by planInserts into INSERTs of
//     one partition (UTC day of recv) and at most MaxInsertRows rows, ordered so that the
//     rows of every key that have landed are always a prefix of its rows;
//  4. the batch's offsets: one INSERT;
//  5. only then the cached watermarks advance. On any error they are re-derived from the
//     table before the next Write.

const nsPerDay = int64(24 * time.Hour)

// dayOf returns the UTC day number of a Unix-nanosecond time: the partition of a row
// (toYYYYMMDD of its recv time in UTC).
func dayOf(ns int64) int32 {
	d := ns / nsPerDay
	if ns%nsPerDay < 0 {
		d--
	}
	return int32(d)
}

// admitted is an event of the batch above its watermark: its index, its key's mark id and
// its partition day.
type admitted struct {
	i   int32
	key uint32
	day int32
}

// planInserts cuts the admitted rows of one table (in batch order, which is provenance order
// per key) into INSERTs, each of one partition day and at most maxRows rows, in execution
// order. Rows are grouped into rounds; a round holds one INSERT per day, executed in
// ascending day order. A new round starts when a row's day is earlier than an earlier row of
// the same key in the round (a clock stepped back over midnight) or when its day's INSERT is
// full. So for every key, the rows of each INSERT follow, in provenance, all its rows in
// earlier INSERTs: whichever INSERTs land before a failure, the landed rows of each key are a
// prefix of its rows, and the derived watermark is exactly where a retry must resume.
func planInserts(rows []admitted, maxRows int) [][]admitted {
	if len(rows) == 0 {
		return nil
	}
	if len(rows) <= maxRows { // the common case: one day, one INSERT
		same := true
		for i := range rows {
			if rows[i].day != rows[0].day {
				same = false
				break
			}
		}
		if same {
			return [][]admitted{rows}
		}
	}
	var out [][]admitted
	round := map[int32][]admitted{}
	last := map[uint32]int32{}
	flush := func() {
		days := make([]int32, 0, len(round))
		for d := range round {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days {
			out = append(out, round[d])
		}
		clear(round)
		clear(last)
	}
	for _, r := range rows {
		if ld, ok := last[r.key]; ok && r.day < ld {
			flush()
		}
		if len(round[r.day]) >= maxRows {
			flush()
		}
		round[r.day] = append(round[r.day], r)
		if ld, ok := last[r.key]; !ok || r.day > ld {
			last[r.key] = r.day
		}
	}
	flush()
	return out
}

// Column lists of the INSERTs. 18.16 needs the explicit list (clickhouse-go's batch insert
// without one sends a column set that server rejects); it also keeps MATERIALIZED and ALIAS
// columns out.
func tradeColumns(d Dialect) []string {
	return []string{"venue", "symbol", "trade_id_num", "trade_id_text", "price_mant",
		"price_scale", "qty_mant", "qty_scale", "side", timeCol(d, "exch"), timeCol(d, "send"),
		timeCol(d, "recv"), "clock_offset_ns", "epoch", "seq", "idx", "source", "parser_version"}
}

func integrityColumns(d Dialect) []string {
	return []string{"venue", "symbol", "type", "stream", timeCol(d, "from"), timeCol(d, "to"),
		"first_id", "last_id", "count", timeCol(d, "exch"), timeCol(d, "send"),
		timeCol(d, "recv"), "clock_offset_ns", "epoch", "seq", "idx", "source", "parser_version"}
}

var offsetColumns = []string{"topic", "partition", "next_offset", "version", "written_ns"}

// timeCol names a time column: name_ns (Int64 ns) in the legacy dialect, name_time
// (DateTime64(9, 'UTC')) in the modern one.
func timeCol(d Dialect, name string) string {
	if d == DialectModern {
		return name + "_time"
	}
	return name + "_ns"
}

// timeExpr is a SELECT expression reading a time column as Int64 ns.
func timeExpr(d Dialect, name string) string {
	if d == DialectModern {
		return "toUnixTimestamp64Nano(" + name + "_time)"
	}
	return name + "_ns"
}

func insertSQL(table string, cols []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ")"
}

// writeState is the writer's reusable scratch space.
type writeState struct {
	lane      // the column scratch of every INSERT but the parallel trade INSERTs
	tradeSQL  string
	integSQL  string
	trades    []admitted
	integrity []admitted
	kinds     []*kindTable // the other event tables, in INSERT order (write_kinds.go)
	// lanes and split are the scratch of trade INSERTs run in parallel (insertTrades).
	lanes []*lane
	split [][]admitted
}

// lane is the column scratch of one INSERT being filled: one slice per column.
type lane struct {
	dialect                     Dialect
	venue, symbol, text1, text2 []string
	u64a, u64b, u64c            []uint64
	u32                         []uint32
	u16                         []uint16
	u8a, u8b                    []uint8
	i8a, i8b                    []int8
	i64a, i64b, i64c            []int64
	ns                          [5][]int64
	nsPtr                       []*int64
	u64Ptr                      [2][]*uint64
	tm                          []time.Time
	tmPtr                       []*time.Time
}

func (w *writeState) init(d Dialect) {
	w.dialect = d
	w.tradeSQL = insertSQL("trades", tradeColumns(d))
	w.integSQL = insertSQL("integrity", integrityColumns(d))
	w.kinds = w.kindTables(d)
}

// appendTimes appends Unix-ns times to a time column of the dialect; with nullable, 0 is
// NULL.
func (w *lane) appendTimes(col driver.BatchColumn, ns []int64, nullable bool) error {
	if w.dialect == DialectLegacy {
		if !nullable {
			return col.Append(ns)
		}
		w.nsPtr = w.nsPtr[:0]
		for i := range ns {
			if ns[i] == 0 {
				w.nsPtr = append(w.nsPtr, nil)
			} else {
				w.nsPtr = append(w.nsPtr, &ns[i])
			}
		}
		return col.Append(w.nsPtr)
	}
	w.tm = w.tm[:0]
	for _, v := range ns {
		w.tm = append(w.tm, time.Unix(0, v).UTC())
	}
	if !nullable {
		return col.Append(w.tm)
	}
	w.tmPtr = w.tmPtr[:0]
	for i := range w.tm {
		if ns[i] == 0 {
			w.tmPtr = append(w.tmPtr, nil)
		} else {
			w.tmPtr = append(w.tmPtr, &w.tm[i])
		}
	}
	return col.Append(w.tmPtr)
}

func enum3(v uint8) int8 {
	if v > 2 {
		return 0 // unknown / live, as md's String methods say
	}
	return int8(v)
}

// Batch limits the store asks of the sink Runner (sink.BatchSizer) when its Config leaves
// them zero. Every Write makes at least one part per table it writes (trades: one more
// for the candle views) and one for the offsets, and ClickHouse wants about one INSERT per
// second per table: at the Runner's defaults (50,000 rows or 200 ms) a slow feed made 5
// Writes, 25+ parts, per second. Large batches also insert faster: 100,000-row batches
// 1.5–2× faster per row than 10,000-row ones (SCHEMA.md "Throughput"), and through real Kafka
// 250,000-row batches stored 1.2–1.3× the trades/s of 100,000-row ones (a part costs the
// server file work however small it is, ~8–17 ms for the small ones, and fewer parts mean
// fewer merges), while
// 500,000 was slower again (the sink's garbage collector); BENCHMARKS.md. The price is up to a
// second more latency into the store and ~250 MB of client memory per batch at the most
// (decoded events and clickhouse-go's column buffers).
const (
	// DefaultBatchRows is the sink batch size (messages) for this store.
	DefaultBatchRows = 250_000
	// DefaultBatchBytes is the sink batch size (message bytes) for this store.
	DefaultBatchBytes = 32 << 20
	// DefaultBatchDelay is the longest a sink batch for this store waits for more messages.
	DefaultBatchDelay = time.Second
)

var _ sink.BatchSizer = (*Store)(nil)

// BatchLimits returns the sink batch limits for this store (sink.BatchSizer):
// DefaultBatchRows, DefaultBatchBytes and DefaultBatchDelay.
func (s *Store) BatchLimits() sink.BatchLimits {
	return sink.BatchLimits{MaxRows: DefaultBatchRows, MaxBytes: DefaultBatchBytes, MaxDelay: DefaultBatchDelay}
}

// Write stores the events of b above their watermarks and then b.Offsets. See sink.Store and
// the package doc for what "atomic" means without transactions.
func (s *Store) Write(ctx context.Context, b *sink.Batch) (sink.WriteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return sink.WriteResult{}, ErrClosed
	}
	if !s.wmOK {
		if err := s.loadState(ctx); err != nil {
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
		w.trades = append(w.trades, admitted{i: int32(i), key: m.ID, day: dayOf(b.Trades[i].RecvTime)})
	}
	for i := range b.Integrity {
		m, ok := s.wm.Admit(md.KindIntegrity, &b.Integrity[i].Header)
		if !ok {
			res.Duplicates.Integrity++
			continue
		}
		w.integrity = append(w.integrity, admitted{i: int32(i), key: m.ID,
			day: dayOf(b.Integrity[i].RecvTime)})
	}
	res.Written = sink.KindCounts{Trades: len(w.trades), Integrity: len(w.integrity)}
	s.admitKinds(b, &res)
	pending := res.Written.Total()
	for _, kt := range w.kinds {
		pending += len(kt.rows) // book_snapshots rows are not counted as events
	}
	if pending == 0 && len(b.Offsets) == 0 {
		return res, nil
	}
	covWritten, err := s.write(ctx, b)
	if err != nil {
		s.wm.Rollback()
		// Some INSERTs may have landed, the failed one may or may not have: derive the
		// watermarks from the table again before the next write instead of trusting the
		// cache.
		s.wmOK = false
		s.cfg.Logger.Warn("write failed; watermarks are re-derived from the tables before the next write",
			"database", s.cfg.Database, "err", err)
		return sink.WriteResult{}, fmt.Errorf("clickhouse: write batch: %w", err)
	}
	s.wm.Commit()
	if covWritten {
		s.covVersion++
	}
	if len(b.Offsets) > 0 {
		s.offVersion++
	}
	return res, nil
}

func (s *Store) write(ctx context.Context, b *sink.Batch) (covWritten bool, err error) {
	w := &s.w
	if len(w.integrity) > 0 || len(w.rowsOf(md.KindBookStatus)) > 0 {
		if covWritten, err = s.writeCoverage(ctx, b); err != nil {
			return false, fmt.Errorf("coverage: %w", err)
		}
	}
	for _, part := range planInserts(w.integrity, s.cfg.MaxInsertRows) {
		if err := s.insert(ctx, "integrity", w.integSQL, func(bt driver.Batch) error {
			return s.fillIntegrity(bt, b, part)
		}); err != nil {
			return false, err
		}
	}
	for _, part := range planInserts(w.trades, s.cfg.MaxInsertRows) {
		if err := s.insertTrades(ctx, b, part); err != nil {
			return false, err
		}
	}
	if err := s.writeKinds(ctx, b); err != nil {
		return false, err
	}
	if len(b.Offsets) > 0 {
		version := s.offVersion + 1
		now := time.Now().UnixNano()
		if err := s.insert(ctx, "offsets", insertSQL("offsets", offsetColumns),
			func(bt driver.Batch) error {
				for _, o := range b.Offsets {
					if err := bt.Append(o.Topic, int32(o.Partition), o.Next, version, now); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
			return false, err
		}
	}
	return covWritten, nil
}

var qidCounter atomic.Uint64

// insert runs one INSERT (one block, so one part per partition) under a query id that
// settle can find on the server, then the failpoint.
func (s *Store) insert(ctx context.Context, table, query string, fill func(driver.Batch) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.InsertTimeout)
	defer cancel()
	qid := s.qidInst + strconv.FormatUint(qidCounter.Add(1), 10)
	ctx = ch.Context(ctx, ch.WithQueryID(qid))
	bt, err := s.conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("insert into %s: prepare: %w", table, err)
	}
	if err := fill(bt); err != nil {
		_ = bt.Abort()
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	// The server holds the INSERT open (visible to settle) and nothing commits before Send:
	// the last moment to refuse a write from a fenced consumer-group member (ADR 0009).
	if err := sink.CheckGuard(ctx); err != nil {
		_ = bt.Abort()
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	if err := bt.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	if s.failpoint != nil {
		if err := s.failpoint(table); err != nil {
			return fmt.Errorf("after insert into %s: %w", table, err)
		}
	}
	return nil
}

// insertTrades runs the trade INSERT of one planned part: one INSERT, or, for a part of at
// least 2 × laneRows rows with Config.InsertParallelism > 1, up to that many INSERTs at once,
// each holding every row of its keys (key ID modulo the lane count). The server runs each
// INSERT on one thread, so parallel INSERTs use its other cores. Exactly once still holds:
// a key's rows of the part are in one INSERT, so whichever INSERTs land, each key's stored
// rows are a prefix of its rows in the batch (the derived watermark is where a retry
// resumes); the next part starts only after every INSERT of this one succeeded.
func (s *Store) insertTrades(ctx context.Context, b *sink.Batch, part []admitted) error {
	w := &s.w
	n := min(s.cfg.InsertParallelism, len(part)/s.laneRows)
	if n <= 1 {
		return s.insert(ctx, "trades", w.tradeSQL, func(bt driver.Batch) error {
			return fillTrades(&w.lane, bt, b, part)
		})
	}
	for len(w.lanes) < n {
		w.lanes = append(w.lanes, &lane{dialect: w.dialect})
		w.split = append(w.split, nil)
	}
	for k := range n {
		w.split[k] = w.split[k][:0]
	}
	for _, r := range part {
		k := int(r.key) % n
		w.split[k] = append(w.split[k], r)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		rows, l := w.split[k], w.lanes[k]
		if len(rows) == 0 {
			continue
		}
		wg.Go(func() {
			errs[k] = s.insert(ctx, "trades", w.tradeSQL, func(bt driver.Batch) error {
				return fillTrades(l, bt, b, rows)
			})
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func fillTrades(w *lane, bt driver.Batch, b *sink.Batch, rows []admitted) error {
	w.venue, w.symbol, w.text1 = w.venue[:0], w.symbol[:0], w.text1[:0]
	w.u64a, w.u64b, w.u64c, w.u32, w.u16 = w.u64a[:0], w.u64b[:0], w.u64c[:0], w.u32[:0], w.u16[:0]
	w.i64a, w.i64b, w.i64c = w.i64a[:0], w.i64b[:0], w.i64c[:0]
	w.u8a, w.u8b, w.i8a, w.i8b = w.u8a[:0], w.u8b[:0], w.i8a[:0], w.i8b[:0]
	for k := range w.ns[:3] {
		w.ns[k] = w.ns[k][:0]
	}
	for _, r := range rows {
		t := &b.Trades[r.i]
		w.venue = append(w.venue, t.Venue)
		w.symbol = append(w.symbol, t.Symbol)
		if t.ID.IsNumeric() {
			w.u64a = append(w.u64a, t.ID.Num)
			w.text1 = append(w.text1, "")
		} else {
			w.u64a = append(w.u64a, 0)
			w.text1 = append(w.text1, string(t.ID.Text()))
		}
		w.i64a = append(w.i64a, t.Price.Mant)
		w.u8a = append(w.u8a, t.Price.Scale)
		w.i64b = append(w.i64b, t.Qty.Mant)
		w.u8b = append(w.u8b, t.Qty.Scale)
		w.i8a = append(w.i8a, enum3(uint8(t.Side)))
		w.ns[0] = append(w.ns[0], t.ExchTime)
		w.ns[1] = append(w.ns[1], t.SendTime)
		w.ns[2] = append(w.ns[2], t.RecvTime)
		w.i64c = append(w.i64c, t.ClockOffset)
		w.u64b = append(w.u64b, t.Prov.Epoch)
		w.u64c = append(w.u64c, t.Prov.Seq)
		w.u32 = append(w.u32, t.Prov.Index)
		w.i8b = append(w.i8b, enum3(uint8(t.Source)))
		w.u16 = append(w.u16, t.ParserVersion)
	}
	cols := []any{w.venue, w.symbol, w.u64a, w.text1, w.i64a, w.u8a, w.i64b, w.u8b, w.i8a}
	for i, c := range cols {
		if err := bt.Column(i).Append(c); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	for k := range 3 {
		if err := w.appendTimes(bt.Column(9+k), w.ns[k], k < 2); err != nil {
			return fmt.Errorf("column %d: %w", 9+k, err)
		}
	}
	for i, c := range []any{w.i64c, w.u64b, w.u64c, w.u32, w.i8b, w.u16} {
		if err := bt.Column(12 + i).Append(c); err != nil {
			return fmt.Errorf("column %d: %w", 12+i, err)
		}
	}
	return nil
}

func (s *Store) fillIntegrity(bt driver.Batch, b *sink.Batch, rows []admitted) error {
	w := &s.w.lane
	w.venue, w.symbol, w.text1, w.text2 = w.venue[:0], w.symbol[:0], w.text1[:0], w.text2[:0]
	w.u64a, w.u64b, w.u64c, w.u32, w.u16 = w.u64a[:0], w.u64b[:0], w.u64c[:0], w.u32[:0], w.u16[:0]
	w.i64c, w.i8b = w.i64c[:0], w.i8b[:0]
	for k := range w.ns {
		w.ns[k] = w.ns[k][:0]
	}
	ids := [2][]uint64{make([]uint64, 0, len(rows)), make([]uint64, 0, len(rows))}
	hasIDs := make([]bool, 0, len(rows))
	for _, r := range rows {
		e := &b.Integrity[r.i]
		w.venue = append(w.venue, e.Venue)
		w.symbol = append(w.symbol, e.Symbol)
		w.text1 = append(w.text1, e.Type.String())
		w.text2 = append(w.text2, e.Stream.String())
		w.ns[3] = append(w.ns[3], e.From)
		w.ns[4] = append(w.ns[4], e.To)
		ids[0] = append(ids[0], e.FirstID)
		ids[1] = append(ids[1], e.LastID)
		hasIDs = append(hasIDs, e.FirstID != 0 || e.LastID != 0)
		w.u64a = append(w.u64a, e.Count)
		w.ns[0] = append(w.ns[0], e.ExchTime)
		w.ns[1] = append(w.ns[1], e.SendTime)
		w.ns[2] = append(w.ns[2], e.RecvTime)
		w.i64c = append(w.i64c, e.ClockOffset)
		w.u64b = append(w.u64b, e.Prov.Epoch)
		w.u64c = append(w.u64c, e.Prov.Seq)
		w.u32 = append(w.u32, e.Prov.Index)
		w.i8b = append(w.i8b, enum3(uint8(e.Source)))
		w.u16 = append(w.u16, e.ParserVersion)
	}
	for k := range 2 {
		w.u64Ptr[k] = w.u64Ptr[k][:0]
		for i := range ids[k] {
			if hasIDs[i] {
				w.u64Ptr[k] = append(w.u64Ptr[k], &ids[k][i])
			} else {
				w.u64Ptr[k] = append(w.u64Ptr[k], nil)
			}
		}
	}
	steps := []func(i int) error{
		func(i int) error { return bt.Column(i).Append(w.venue) },
		func(i int) error { return bt.Column(i).Append(w.symbol) },
		func(i int) error { return bt.Column(i).Append(w.text1) },
		func(i int) error { return bt.Column(i).Append(w.text2) },
		func(i int) error { return w.appendTimes(bt.Column(i), w.ns[3], true) },
		func(i int) error { return w.appendTimes(bt.Column(i), w.ns[4], true) },
		func(i int) error { return bt.Column(i).Append(w.u64Ptr[0]) },
		func(i int) error { return bt.Column(i).Append(w.u64Ptr[1]) },
		func(i int) error { return bt.Column(i).Append(w.u64a) },
		func(i int) error { return w.appendTimes(bt.Column(i), w.ns[0], true) },
		func(i int) error { return w.appendTimes(bt.Column(i), w.ns[1], true) },
		func(i int) error { return w.appendTimes(bt.Column(i), w.ns[2], false) },
		func(i int) error { return bt.Column(i).Append(w.i64c) },
		func(i int) error { return bt.Column(i).Append(w.u64b) },
		func(i int) error { return bt.Column(i).Append(w.u64c) },
		func(i int) error { return bt.Column(i).Append(w.u32) },
		func(i int) error { return bt.Column(i).Append(w.i8b) },
		func(i int) error { return bt.Column(i).Append(w.u16) },
	}
	for i, st := range steps {
		if err := st(i); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}
