package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// Coverage follows the same rules as the DuckDB store (SCHEMA.md): gap and disconnect events
// open intervals; a backfill with an id range repairs the overlapping part of open id gaps
// (splitting them), one with a time window repairs the open id-less gaps inside it.
//
// Without UPDATE, the table holds pieces in a ReplacingMergeTree: a piece's identity is
// (venue, symbol, stream, opening provenance, parser_version, first_id) and a newer version
// of an identity replaces the older (read with FINAL; coverage_v and coverage_gaps do). A
// split keeps the original identity for the piece that starts at the original first id and
// adds new identities for the others.
//
// Crash safety: the pieces a batch produces are written in one INSERT (one part) before the
// batch's integrity rows. If the integrity rows do not land, the retry re-applies the same
// events to a coverage state that already holds their effect: re-inserting a gap resets its
// identity, and the backfills re-applied after it split it again the same way, so coverage
// converges to the state of the events stored. Re-applying a backfill alone changes nothing
// (the gaps it repairs are no longer open).

type covKey struct {
	venue, symbol, stream string
	epoch, seq            uint64
	idx                   uint32
	pv                    uint16
	first                 uint64
}

type covRow struct {
	covKey
	reason, status string
	from, to       int64 // 0: NULL
	last           uint64
	repaired       bool
	rEpoch, rSeq   uint64
	rIdx           uint32
	rTime          int64
}

func (r *covRow) hasIDs() bool { return r.first != 0 || r.last != 0 }

// covState is the coverage pieces changed by the batch in progress.
type covState struct {
	pending map[covKey]*covRow
	order   []covKey
}

func (c *covState) put(r covRow) {
	if c.pending == nil {
		c.pending = map[covKey]*covRow{}
	}
	if p, ok := c.pending[r.covKey]; ok {
		*p = r
		return
	}
	c.pending[r.covKey] = &r
	c.order = append(c.order, r.covKey)
}

// writeCoverage derives the coverage pieces of the admitted integrity events and inserts
// them. It reports whether it inserted anything.
func (s *Store) writeCoverage(ctx context.Context, b *sink.Batch) (bool, error) {
	var st covState
	for _, ad := range s.w.integrity {
		e := &b.Integrity[ad.i]
		var err error
		switch e.Type {
		case md.IntegrityGap, md.IntegrityDisconnect:
			st.put(covRow{
				covKey: covKey{venue: e.Venue, symbol: e.Symbol, stream: e.Stream.String(),
					epoch: e.Prov.Epoch, seq: e.Prov.Seq, idx: e.Prov.Index, pv: e.ParserVersion,
					first: e.FirstID},
				reason: e.Type.String(), status: "gap", from: e.From, to: e.To, last: e.LastID,
			})
		case md.IntegrityBackfill:
			err = s.repair(ctx, &st, e)
		}
		if err != nil {
			return false, fmt.Errorf("integrity event %s %s/%s at %d.%d.%d: %w", e.Type, e.Venue,
				e.Symbol, e.Prov.Epoch, e.Prov.Seq, e.Prov.Index, err)
		}
	}
	for _, ad := range s.w.rowsOf(md.KindBookStatus) {
		e := &b.BookStatus[ad.i]
		if err := s.bookCoverage(ctx, &st, e); err != nil {
			return false, fmt.Errorf("book status %s %s/%s at %d.%d.%d: %w", e.State, e.Venue,
				e.Symbol, e.Prov.Epoch, e.Prov.Seq, e.Prov.Index, err)
		}
	}
	if len(st.order) == 0 {
		return false, nil
	}
	version := s.covVersion + 1
	err := s.insert(ctx, "coverage", insertSQL("coverage", coverageColumns(s.dialect)), func(bt driver.Batch) error {
		for _, k := range st.order {
			r := st.pending[k]
			var rEpoch, rSeq *uint64
			var rIdx *uint32
			var rTime int64
			if r.repaired {
				rEpoch, rSeq, rIdx, rTime = &r.rEpoch, &r.rSeq, &r.rIdx, r.rTime
			}
			if err := bt.Append(r.venue, r.symbol, r.stream, r.reason, r.status,
				s.nullTime(r.from), s.nullTime(r.to), r.first, r.last, r.epoch, r.seq, r.idx,
				r.pv, rEpoch, rSeq, rIdx, s.nullTime(rTime), version); err != nil {
				return err
			}
		}
		return nil
	})
	return err == nil, err
}

func coverageColumns(d Dialect) []string {
	return []string{"venue", "symbol", "stream", "reason", "status", timeCol(d, "from"),
		timeCol(d, "to"), "first_id", "last_id", "epoch", "seq", "idx", "parser_version",
		"repaired_epoch", "repaired_seq", "repaired_idx", timeCol(d, "repaired"), "version"}
}

// nullTime returns a row value for a nullable time column of the dialect (0: NULL).
func (s *Store) nullTime(ns int64) any {
	if ns == 0 {
		return nil
	}
	if s.dialect == DialectModern {
		t := time.Unix(0, ns).UTC()
		return &t
	}
	return &ns
}

// openGaps returns the open gaps of (venue, symbol, stream) that match: stored ones
// (coverage FINAL) overlaid with the batch's pending pieces. With ids, the id gaps
// overlapping [first, last]; without, the id-less gaps whose window lies in [from, to].
func (s *Store) openGaps(ctx context.Context, st *covState, venue, symbol, stream string,
	withIDs bool, first, last uint64, from, to int64) ([]covRow, error) {
	d := s.dialect
	q := `SELECT venue, symbol, stream, epoch, seq, idx, parser_version, first_id, reason,
		status, ` + timeExpr(d, "from") + `, ` + timeExpr(d, "to") + `, last_id
	FROM coverage FINAL
	WHERE venue = ? AND symbol = ? AND stream = ? AND status = 'gap' AND `
	var args []any
	args = append(args, venue, symbol, stream)
	if withIDs {
		q += `NOT (first_id = 0 AND last_id = 0) AND first_id <= ? AND last_id >= ?`
		args = append(args, last, first)
	} else {
		q += `first_id = 0 AND last_id = 0 AND ` + timeExpr(d, "from") + ` >= ? AND ` +
			timeExpr(d, "to") + ` <= ?`
		args = append(args, from, to)
	}
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []covRow
	for rows.Next() {
		var r covRow
		var fromP, toP *int64
		if err := rows.Scan(&r.venue, &r.symbol, &r.stream, &r.epoch, &r.seq, &r.idx, &r.pv,
			&r.first, &r.reason, &r.status, &fromP, &toP, &r.last); err != nil {
			return nil, err
		}
		if fromP != nil {
			r.from = *fromP
		}
		if toP != nil {
			r.to = *toP
		}
		if _, ok := st.pending[r.covKey]; ok {
			continue // the batch changed this piece: the pending version wins
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, k := range st.order {
		r := st.pending[k]
		if r.venue != venue || r.symbol != symbol || r.stream != stream || r.status != "gap" {
			continue
		}
		if withIDs {
			if r.hasIDs() && r.first <= last && r.last >= first {
				out = append(out, *r)
			}
		} else if !r.hasIDs() && r.from != 0 && r.to != 0 && r.from >= from && r.to <= to {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b covRow) int {
		switch {
		case a.first != b.first:
			return cmp(a.first, b.first)
		case a.epoch != b.epoch:
			return cmp(a.epoch, b.epoch)
		case a.seq != b.seq:
			return cmp(a.seq, b.seq)
		}
		return cmp(a.idx, b.idx)
	})
	return out, nil
}

func cmp[T uint64 | uint32](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Store) repair(ctx context.Context, st *covState, e *md.Integrity) error {
	stream := e.Stream.String()
	mark := func(r *covRow) {
		r.status, r.repaired = "backfilled", true
		r.rEpoch, r.rSeq, r.rIdx, r.rTime = e.Prov.Epoch, e.Prov.Seq, e.Prov.Index, e.RecvTime
	}
	if (e.FirstID != 0 || e.LastID != 0) && e.LastID >= e.FirstID {
		gaps, err := s.openGaps(ctx, st, e.Venue, e.Symbol, stream, true, e.FirstID, e.LastID, 0, 0)
		if err != nil {
			return err
		}
		for _, g := range gaps {
			lo, hi := max(g.first, e.FirstID), min(g.last, e.LastID)
			if g.first < lo {
				left := g
				left.last = lo - 1
				st.put(left)
			}
			if hi < g.last {
				right := g
				right.first, right.last = hi+1, g.last
				st.put(right)
			}
			fixed := g
			fixed.first, fixed.last = lo, hi
			mark(&fixed)
			st.put(fixed)
		}
	}
	if e.From != 0 && e.To != 0 && e.To >= e.From {
		gaps, err := s.openGaps(ctx, st, e.Venue, e.Symbol, stream, false, 0, 0, e.From, e.To)
		if err != nil {
			return err
		}
		for _, g := range gaps {
			mark(&g)
			st.put(g)
		}
	}
	return nil
}

// Book coverage, as in the DuckDB store: a book status 'invalid' opens a piece (stream
// 'book', reason 'book_invalid', status 'gap', from its receive time, to NULL: "until further
// notice") unless one is open already for the same (venue, symbol, parser_version); the
// next 'valid' closes it at its receive time (at least the piece's start). The piece's
// identity is the opening status's provenance. Re-applying a batch's statuses after a
// partial Write converges: the re-opened piece has the same identity (a newer version of it)
// and the statuses after it close it the same way. Book gaps are never backfilled.
func (s *Store) bookCoverage(ctx context.Context, st *covState, e *md.BookStatus) error {
	open, err := s.openBookGap(ctx, st, e.Venue, e.Symbol, e.ParserVersion)
	if err != nil {
		return err
	}
	switch e.State {
	case md.BookInvalid:
		if open == nil {
			st.put(covRow{
				covKey: covKey{venue: e.Venue, symbol: e.Symbol, stream: md.KindBookUpdate.String(),
					epoch: e.Prov.Epoch, seq: e.Prov.Seq, idx: e.Prov.Index, pv: e.ParserVersion},
				reason: "book_invalid", status: "gap", from: e.RecvTime,
			})
		}
	case md.BookValid:
		if open != nil {
			open.to = max(open.from, e.RecvTime)
			st.put(*open)
		}
	}
	return nil
}

// openBookGap returns the open book_invalid piece of (venue, symbol, parser_version): the
// batch's pending pieces first, else the stored one (coverage FINAL), or nil.
func (s *Store) openBookGap(ctx context.Context, st *covState, venue, symbol string, pv uint16) (*covRow, error) {
	stream := md.KindBookUpdate.String()
	for i := len(st.order) - 1; i >= 0; i-- {
		r := st.pending[st.order[i]]
		if r.venue == venue && r.symbol == symbol && r.stream == stream && r.pv == pv &&
			r.reason == "book_invalid" {
			if r.to == 0 {
				c := *r
				return &c, nil
			}
			return nil, nil // the batch closed the latest one
		}
	}
	d := s.dialect
	rows, err := s.conn.Query(ctx, `SELECT epoch, seq, idx, `+timeExpr(d, "from")+`
		FROM coverage FINAL
		WHERE venue = ? AND symbol = ? AND stream = ? AND parser_version = ?
		  AND reason = 'book_invalid' AND status = 'gap' AND isNull(`+timeCol(d, "to")+`)
		ORDER BY epoch DESC, seq DESC, idx DESC LIMIT 1`, venue, symbol, stream, pv)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	r := covRow{covKey: covKey{venue: venue, symbol: symbol, stream: stream, pv: pv},
		reason: "book_invalid", status: "gap"}
	var from *int64
	if err := rows.Scan(&r.epoch, &r.seq, &r.idx, &from); err != nil {
		return nil, err
	}
	if from != nil {
		r.from = *from
	}
	return &r, rows.Err()
}
