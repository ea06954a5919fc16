package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// The tables of the kinds beyond trades and integrity: book updates (and their top-N copies
// in book_snapshots), book statuses, BBOs, funding, open interest and liquidations. Each is
// written like trades (write.go): admitted against its own watermark key, cut by planInserts
// into INSERTs of one partition day and at most MaxInsertRows rows, one part each.
//
// book_snapshots has a watermark key of its own (kind "book_snapshot", kindBookSnapshot
// below, derived from that table), so a Write that failed between the book_updates INSERT
// and the book_snapshots INSERT stores exactly the missing snapshots on retry.

// kindBookSnapshot is the watermark kind of book_snapshots rows. It is not an md.Kind on the
// wire: it only keys the sink's watermark of that table.
const kindBookSnapshot md.Kind = 0x80

// storedKinds are the kinds Write stores.
var storedKinds = []md.Kind{md.KindTrade, md.KindIntegrity, md.KindBookUpdate,
	md.KindBookStatus, md.KindBBO, md.KindFunding, md.KindOpenInterest, md.KindLiquidation}

// StoresKind reports whether Write stores events of kind k (sink.KindStore): trades,
// integrity, book updates, book statuses, BBOs, funding, open interest and liquidations.
func (s *Store) StoresKind(k md.Kind) bool {
	for _, sk := range storedKinds {
		if k == sk {
			return true
		}
	}
	return false
}

var _ sink.KindStore = (*Store)(nil)

// DefaultSnapshotLevels is the default of Config.SnapshotLevels.
const DefaultSnapshotLevels = 20

// headerColumns are the event-header columns every event table ends with.
func headerColumns(d Dialect) []string {
	return []string{timeCol(d, "exch"), timeCol(d, "send"), timeCol(d, "recv"),
		"clock_offset_ns", "epoch", "seq", "idx", "source", "parser_version"}
}

func bookUpdateColumns(d Dialect) []string {
	return append([]string{"venue", "symbol", "is_snapshot", "book_seq", "book_prev_seq",
		"first_id", "last_id", "depth", "price_scale", "qty_scale", "bid_price_mant",
		"bid_qty_mant", "ask_price_mant", "ask_qty_mant"}, headerColumns(d)...)
}

func bookSnapshotColumns(d Dialect) []string {
	return append([]string{"venue", "symbol", "book_seq", "depth", "price_scale", "qty_scale",
		"bid_price_mant", "bid_qty_mant", "ask_price_mant", "ask_qty_mant"}, headerColumns(d)...)
}

func bookStatusColumns(d Dialect) []string {
	return append([]string{"venue", "symbol", "state", "reason", "book_seq"}, headerColumns(d)...)
}

func bboColumns(d Dialect) []string {
	return append([]string{"venue", "symbol", "bid_price_mant", "bid_price_scale",
		"bid_qty_mant", "bid_qty_scale", "ask_price_mant", "ask_price_scale", "ask_qty_mant",
		"ask_qty_scale", "update_id"}, headerColumns(d)...)
}

func fundingColumns(d Dialect) []string {
	return append([]string{"venue", "symbol", "rate_mant", "rate_scale", "mark_price_mant",
		"mark_price_scale", "index_price_mant", "index_price_scale", timeCol(d, "funding"),
		timeCol(d, "next_funding")}, headerColumns(d)...)
}

func openInterestColumns(d Dialect) []string {
	return append([]string{"venue", "symbol", "oi_mant", "oi_scale", "value_mant",
		"value_scale"}, headerColumns(d)...)
}

func liquidationColumns(d Dialect) []string {
	return append([]string{"venue", "symbol", "side", "price_mant", "price_scale", "qty_mant",
		"qty_scale"}, headerColumns(d)...)
}

// kindTable is one event table beyond trades and integrity: its watermark kind, its name,
// its INSERT and how to fill one.
type kindTable struct {
	kind  md.Kind
	table string
	sql   string
	rows  []admitted
	// header returns the header of event i of the batch.
	header func(b *sink.Batch, i int) *md.Header
	// fill appends the columns after venue and symbol (and before the header) of the rows.
	fill func(s *Store, c *colAppender, b *sink.Batch, rows []admitted)
}

// kindTables returns the tables in INSERT order. Book statuses follow the book updates of
// their batch, so a reader never sees a status before the updates it refers to.
func (w *writeState) kindTables(d Dialect) []*kindTable {
	return []*kindTable{
		{kind: md.KindBookUpdate, table: "book_updates", sql: insertSQL("book_updates", bookUpdateColumns(d)),
			header: func(b *sink.Batch, i int) *md.Header { return &b.Books[i].Header },
			fill:   fillBookUpdates},
		{kind: kindBookSnapshot, table: "book_snapshots", sql: insertSQL("book_snapshots", bookSnapshotColumns(d)),
			header: func(b *sink.Batch, i int) *md.Header { return &b.Books[i].Header },
			fill:   fillBookSnapshots},
		{kind: md.KindBookStatus, table: "book_status", sql: insertSQL("book_status", bookStatusColumns(d)),
			header: func(b *sink.Batch, i int) *md.Header { return &b.BookStatus[i].Header },
			fill:   fillBookStatus},
		{kind: md.KindBBO, table: "bbo", sql: insertSQL("bbo", bboColumns(d)),
			header: func(b *sink.Batch, i int) *md.Header { return &b.BBOs[i].Header },
			fill:   fillBBO},
		{kind: md.KindFunding, table: "funding", sql: insertSQL("funding", fundingColumns(d)),
			header: func(b *sink.Batch, i int) *md.Header { return &b.Funding[i].Header },
			fill:   fillFunding},
		{kind: md.KindOpenInterest, table: "open_interest", sql: insertSQL("open_interest", openInterestColumns(d)),
			header: func(b *sink.Batch, i int) *md.Header { return &b.OpenInterest[i].Header },
			fill:   fillOpenInterest},
		{kind: md.KindLiquidation, table: "liquidations", sql: insertSQL("liquidations", liquidationColumns(d)),
			header: func(b *sink.Batch, i int) *md.Header { return &b.Liquidations[i].Header },
			fill:   fillLiquidations},
	}
}

// rowsOf returns the admitted rows of the kind table of k.
func (w *writeState) rowsOf(k md.Kind) []admitted {
	for _, kt := range w.kinds {
		if kt.kind == k {
			return kt.rows
		}
	}
	return nil
}

// admitKinds admits the batch's events of the kind tables against their watermarks and
// counts them into res.
func (s *Store) admitKinds(b *sink.Batch, res *sink.WriteResult) {
	w := &s.w
	count := func(kt *kindTable, n int) int {
		kt.rows = kt.rows[:0]
		dups := 0
		for i := range n {
			h := kt.header(b, i)
			if kt.kind == kindBookSnapshot && !b.Books[i].Snapshot {
				continue
			}
			m, ok := s.wm.Admit(kt.kind, h)
			if !ok {
				dups++
				continue
			}
			kt.rows = append(kt.rows, admitted{i: int32(i), key: m.ID, day: dayOf(h.RecvTime)})
		}
		return dups
	}
	for _, kt := range w.kinds {
		switch kt.kind {
		case md.KindBookUpdate:
			res.Duplicates.Books += count(kt, len(b.Books))
			res.Written.Books = len(kt.rows)
			for _, r := range kt.rows {
				res.Levels += len(b.Books[r.i].Bids) + len(b.Books[r.i].Asks)
			}
		case kindBookSnapshot:
			count(kt, len(b.Books)) // copies of book updates: not counted as events
		case md.KindBookStatus:
			res.Duplicates.BookStatus += count(kt, len(b.BookStatus))
			res.Written.BookStatus = len(kt.rows)
		case md.KindBBO:
			res.Duplicates.BBOs += count(kt, len(b.BBOs))
			res.Written.BBOs = len(kt.rows)
		case md.KindFunding:
			res.Duplicates.Funding += count(kt, len(b.Funding))
			res.Written.Funding = len(kt.rows)
		case md.KindOpenInterest:
			res.Duplicates.OpenInterest += count(kt, len(b.OpenInterest))
			res.Written.OpenInterest = len(kt.rows)
		case md.KindLiquidation:
			res.Duplicates.Liquidations += count(kt, len(b.Liquidations))
			res.Written.Liquidations = len(kt.rows)
		}
	}
}

// writeKinds runs the INSERTs of the kind tables.
func (s *Store) writeKinds(ctx context.Context, b *sink.Batch) error {
	for _, kt := range s.w.kinds {
		for _, part := range planInserts(kt.rows, s.cfg.MaxInsertRows) {
			if err := s.insert(ctx, kt.table, kt.sql, func(bt driver.Batch) error {
				c := colAppender{bt: bt, w: &s.w}
				venue := make([]string, len(part))
				symbol := make([]string, len(part))
				hs := make([]*md.Header, len(part))
				for j, r := range part {
					h := kt.header(b, int(r.i))
					venue[j], symbol[j], hs[j] = h.Venue, h.Symbol, h
				}
				c.add(venue)
				c.add(symbol)
				kt.fill(s, &c, b, part)
				c.header(hs)
				return c.err
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// colAppender appends whole columns to an INSERT in column order and keeps the first error.
type colAppender struct {
	bt  driver.Batch
	w   *writeState
	i   int
	err error
}

func (c *colAppender) add(v any) {
	if c.err == nil {
		if err := c.bt.Column(c.i).Append(v); err != nil {
			c.err = fmt.Errorf("column %d: %w", c.i, err)
		}
	}
	c.i++
}

// arrays appends an Array column one row at a time: clickhouse-go then takes each []int64
// without reflection (a [][]int64 in one Append goes through reflect per element).
func (c *colAppender) arrays(v [][]int64) {
	if c.err == nil {
		col := c.bt.Column(c.i)
		for j := range v {
			if err := col.AppendRow(v[j]); err != nil {
				c.err = fmt.Errorf("column %d: %w", c.i, err)
				break
			}
		}
	}
	c.i++
}

// times appends a time column (Unix ns) of the dialect; with nullable, 0 is NULL.
func (c *colAppender) times(ns []int64, nullable bool) {
	if c.err == nil {
		if err := c.w.appendTimes(c.bt.Column(c.i), ns, nullable); err != nil {
			c.err = fmt.Errorf("column %d: %w", c.i, err)
		}
	}
	c.i++
}

// header appends the header columns (headerColumns) of hs.
func (c *colAppender) header(hs []*md.Header) {
	n := len(hs)
	exch, send, recv, off := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	epoch, seq := make([]uint64, n), make([]uint64, n)
	idx, src, pv := make([]uint32, n), make([]int8, n), make([]uint16, n)
	for j, h := range hs {
		exch[j], send[j], recv[j], off[j] = h.ExchTime, h.SendTime, h.RecvTime, h.ClockOffset
		epoch[j], seq[j], idx[j] = h.Prov.Epoch, h.Prov.Seq, h.Prov.Index
		src[j], pv[j] = enum3(uint8(h.Source)), h.ParserVersion
	}
	c.times(exch, true)
	c.times(send, true)
	c.times(recv, false)
	for _, v := range []any{off, epoch, seq, idx, src, pv} {
		c.add(v)
	}
}

// levelScales returns the largest price and quantity scales among ls.
func levelScales(ps, qs uint8, ls []md.Level) (uint8, uint8) {
	for i := range ls {
		ps, qs = max(ps, ls[i].Price.Scale), max(qs, ls[i].Qty.Scale)
	}
	return ps, qs
}

// appendMants appends the mantissas of d rescaled to scale (the message's common scale).
func appendMants(dst []int64, ls []md.Level, price bool, scale uint8) ([]int64, error) {
	for i := range ls {
		d := ls[i].Qty
		if price {
			d = ls[i].Price
		}
		if d.Scale != scale {
			r, err := d.Rescale(scale)
			if err != nil {
				return dst, fmt.Errorf("level %s at scale %d: %w (the levels of one book message "+
					"must share a scale that holds them all: fix the parser and re-normalize)",
					d, scale, err)
			}
			d = r
		}
		dst = append(dst, d.Mant)
	}
	return dst, nil
}

// bookArrays builds the level array columns of the rows' book updates, cut to at most
// limit levels per side (0: all), and their common scales.
func bookArrays(b *sink.Batch, rows []admitted, limit int) (arr [4][][]int64, ps, qs []uint8, err error) {
	total := 0
	for _, r := range rows {
		u := &b.Books[r.i]
		total += len(u.Bids) + len(u.Asks)
	}
	// One arena for every mantissa of the INSERT, sub-sliced per message (3-index, so no
	// append runs into the next message).
	arena := make([]int64, 0, 2*total)
	for k := range arr {
		arr[k] = make([][]int64, len(rows))
	}
	ps, qs = make([]uint8, len(rows)), make([]uint8, len(rows))
	for j, r := range rows {
		u := &b.Books[r.i]
		bids, asks := u.Bids, u.Asks
		if limit > 0 {
			bids, asks = bids[:min(len(bids), limit)], asks[:min(len(asks), limit)]
		}
		p, q := levelScales(0, 0, bids)
		p, q = levelScales(p, q, asks)
		ps[j], qs[j] = p, q
		for k, side := range [4]struct {
			ls    []md.Level
			price bool
			scale uint8
		}{{bids, true, p}, {bids, false, q}, {asks, true, p}, {asks, false, q}} {
			start := len(arena)
			if arena, err = appendMants(arena, side.ls, side.price, side.scale); err != nil {
				return arr, nil, nil, fmt.Errorf("book update %s/%s seq %d: %w", u.Venue, u.Symbol,
					u.Seq, err)
			}
			arr[k][j] = arena[start:len(arena):len(arena)]
		}
	}
	return arr, ps, qs, nil
}

func boolU8(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

func fillBookUpdates(s *Store, c *colAppender, b *sink.Batch, rows []admitted) {
	n := len(rows)
	snap, depth := make([]uint8, n), make([]uint32, n)
	seq, prev, first, last := make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for j, r := range rows {
		u := &b.Books[r.i]
		snap[j], depth[j] = boolU8(u.Snapshot), u.Depth
		seq[j], prev[j], first[j], last[j] = u.Seq, u.PrevSeq, u.FirstID, u.LastID
	}
	arr, ps, qs, err := bookArrays(b, rows, 0)
	if err != nil {
		c.err = err
		return
	}
	for _, v := range []any{snap, seq, prev, first, last, depth, ps, qs} {
		c.add(v)
	}
	for k := range arr {
		c.arrays(arr[k])
	}
}

func fillBookSnapshots(s *Store, c *colAppender, b *sink.Batch, rows []admitted) {
	n := len(rows)
	seq, depth := make([]uint64, n), make([]uint32, n)
	for j, r := range rows {
		u := &b.Books[r.i]
		seq[j], depth[j] = u.Seq, u.Depth
	}
	arr, ps, qs, err := bookArrays(b, rows, s.cfg.SnapshotLevels)
	if err != nil {
		c.err = err
		return
	}
	for _, v := range []any{seq, depth, ps, qs} {
		c.add(v)
	}
	for k := range arr {
		c.arrays(arr[k])
	}
}

func fillBookStatus(s *Store, c *colAppender, b *sink.Batch, rows []admitted) {
	n := len(rows)
	state, reason, seq := make([]int8, n), make([]*string, n), make([]uint64, n)
	for j, r := range rows {
		st := &b.BookStatus[r.i]
		state[j] = enum3(uint8(st.State))
		if st.Reason != 0 {
			txt := st.Reason.String()
			reason[j] = &txt
		}
		seq[j] = st.Seq
	}
	c.add(state)
	c.add(reason)
	c.add(seq)
}

func fillBBO(s *Store, c *colAppender, b *sink.Batch, rows []admitted) {
	n := len(rows)
	var mant [4][]int64
	var scale [4][]uint8
	for k := range 4 {
		mant[k], scale[k] = make([]int64, n), make([]uint8, n)
	}
	uid := make([]*uint64, n)
	ids := make([]uint64, n)
	for j, r := range rows {
		q := &b.BBOs[r.i]
		for k, d := range [4]md.Decimal{q.BidPrice, q.BidQty, q.AskPrice, q.AskQty} {
			mant[k][j], scale[k][j] = d.Mant, d.Scale
		}
		if q.UpdateID != 0 {
			ids[j] = q.UpdateID
			uid[j] = &ids[j]
		}
	}
	for k := range 4 {
		c.add(mant[k])
		c.add(scale[k])
	}
	c.add(uid)
}

func fillFunding(s *Store, c *colAppender, b *sink.Batch, rows []admitted) {
	n := len(rows)
	var mant [3][]int64
	var scale [3][]uint8
	for k := range 3 {
		mant[k], scale[k] = make([]int64, n), make([]uint8, n)
	}
	ft, nft := make([]int64, n), make([]int64, n)
	for j, r := range rows {
		f := &b.Funding[r.i]
		for k, d := range [3]md.Decimal{f.Rate, f.MarkPrice, f.IndexPrice} {
			mant[k][j], scale[k][j] = d.Mant, d.Scale
		}
		ft[j], nft[j] = f.FundingTime, f.NextFundingTime
	}
	for k := range 3 {
		c.add(mant[k])
		c.add(scale[k])
	}
	c.times(ft, true)
	c.times(nft, true)
}

func fillOpenInterest(s *Store, c *colAppender, b *sink.Batch, rows []admitted) {
	n := len(rows)
	qm, vm := make([]int64, n), make([]int64, n)
	qs, vs := make([]uint8, n), make([]uint8, n)
	for j, r := range rows {
		o := &b.OpenInterest[r.i]
		qm[j], qs[j], vm[j], vs[j] = o.Qty.Mant, o.Qty.Scale, o.Value.Mant, o.Value.Scale
	}
	for _, v := range []any{qm, qs, vm, vs} {
		c.add(v)
	}
}

func fillLiquidations(s *Store, c *colAppender, b *sink.Batch, rows []admitted) {
	n := len(rows)
	side := make([]int8, n)
	pm, qm := make([]int64, n), make([]int64, n)
	ps, qs := make([]uint8, n), make([]uint8, n)
	for j, r := range rows {
		l := &b.Liquidations[r.i]
		side[j] = enum3(uint8(l.Side))
		pm[j], ps[j], qm[j], qs[j] = l.Price.Mant, l.Price.Scale, l.Qty.Mant, l.Qty.Scale
	}
	for _, v := range []any{side, pm, ps, qm, qs} {
		c.add(v)
	}
}

// unixTime converts Unix ns to a time.Time in UTC (for modern-dialect parameters).
func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
