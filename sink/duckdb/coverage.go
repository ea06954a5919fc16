package duckdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// Coverage is maintained from integrity events inside the write transaction, in batch order:
//
//   - a gap or disconnect event inserts an interval with status 'gap' (reason 'gap' or
//     'disconnect'), carrying the event's time window and, when it has one, its id range;
//   - a backfill event with an id range [F, L] repairs the open id-carrying gaps of the same
//     (venue, symbol, stream) that it overlaps: the overlapping part becomes 'backfilled';
//     a part of the gap outside [F, L] stays a 'gap' row of its own (same time window), so
//     several backfill pages repair one gap piece by piece;
//   - a backfill event with a time window [From, To] marks 'backfilled' the open gaps
//     without ids (disconnects) of the same (venue, symbol, stream) lying inside the window.
//
// Other integrity types (resync, checksum failure) do not change coverage. Book statuses add
// the intervals in which a book was invalid (books.go); backfills never repair those.

const insertGapSQL = `INSERT INTO coverage (id, venue, symbol, stream, reason, status, from_time,
    to_time, first_id, last_id, epoch, seq, idx, parser_version)
VALUES (nextval('coverage_id_seq'), ?, ?, ?, ?, 'gap', make_timestamp_ns(NULLIF(?, 0)),
    make_timestamp_ns(NULLIF(?, 0)), ?, ?, ?, ?, ?, ?)`

const overlappingGapsSQL = `SELECT id, first_id, last_id FROM coverage
WHERE venue = ? AND symbol = ? AND stream = ? AND status = 'gap'
  AND first_id IS NOT NULL AND first_id <= ? AND last_id >= ?
ORDER BY id`

const splitGapSQL = `INSERT INTO coverage (id, venue, symbol, stream, reason, status, from_time,
    to_time, first_id, last_id, epoch, seq, idx, parser_version)
SELECT nextval('coverage_id_seq'), venue, symbol, stream, reason, 'gap', from_time, to_time,
    ?, ?, epoch, seq, idx, parser_version
FROM coverage WHERE id = ?`

const repairIDGapSQL = `UPDATE coverage SET status = 'backfilled', first_id = ?, last_id = ?,
    repaired_epoch = ?, repaired_seq = ?, repaired_idx = ?,
    repaired_time = make_timestamp_ns(?)
WHERE id = ?`

const repairWindowSQL = `UPDATE coverage SET status = 'backfilled',
    repaired_epoch = ?, repaired_seq = ?, repaired_idx = ?,
    repaired_time = make_timestamp_ns(?)
WHERE venue = ? AND symbol = ? AND stream = ? AND status = 'gap' AND first_id IS NULL
  AND reason <> 'book_invalid'
  AND from_time >= make_timestamp_ns(?) AND to_time <= make_timestamp_ns(?)`

func (s *Store) writeCoverage(ctx context.Context, c *duck.Conn, b *sink.Batch) error {
	for _, ad := range s.w.integrity {
		e := &b.Integrity[ad.i]
		var err error
		switch e.Type {
		case md.IntegrityGap, md.IntegrityDisconnect:
			first, last := integrityIDs(e)
			err = s.exec(ctx, c, insertGapSQL, e.Venue, e.Symbol, e.Stream.String(),
				e.Type.String(), e.From, e.To, first, last, e.Prov.Epoch, e.Prov.Seq,
				e.Prov.Index, e.ParserVersion)
		case md.IntegrityBackfill:
			err = s.repair(ctx, c, e)
		}
		if err != nil {
			return fmt.Errorf("integrity event %s %s/%s at %d.%d.%d: %w", e.Type, e.Venue,
				e.Symbol, e.Prov.Epoch, e.Prov.Seq, e.Prov.Index, err)
		}
	}
	return s.writeBookCoverage(ctx, c, b)
}

type idGap struct {
	id          int64
	first, last uint64
}

func (s *Store) repair(ctx context.Context, c *duck.Conn, e *md.Integrity) error {
	stream := e.Stream.String()
	if first, _ := integrityIDs(e); first != nil && e.LastID >= e.FirstID {
		gaps, err := s.overlappingGaps(ctx, c, e.Venue, e.Symbol, stream, e.FirstID, e.LastID)
		if err != nil {
			return err
		}
		for _, g := range gaps {
			lo, hi := max(g.first, e.FirstID), min(g.last, e.LastID)
			if g.first < lo {
				if err := s.exec(ctx, c, splitGapSQL, g.first, lo-1, g.id); err != nil {
					return err
				}
			}
			if hi < g.last {
				if err := s.exec(ctx, c, splitGapSQL, hi+1, g.last, g.id); err != nil {
					return err
				}
			}
			if err := s.exec(ctx, c, repairIDGapSQL, lo, hi, e.Prov.Epoch, e.Prov.Seq,
				e.Prov.Index, e.RecvTime, g.id); err != nil {
				return err
			}
		}
	}
	if e.From != 0 && e.To != 0 && e.To >= e.From {
		if err := s.exec(ctx, c, repairWindowSQL, e.Prov.Epoch, e.Prov.Seq, e.Prov.Index,
			e.RecvTime, e.Venue, e.Symbol, stream, e.From, e.To); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) overlappingGaps(ctx context.Context, c *duck.Conn, venue, symbol, stream string,
	first, last uint64) ([]idGap, error) {
	args := []driver.NamedValue{
		{Ordinal: 1, Value: venue}, {Ordinal: 2, Value: symbol}, {Ordinal: 3, Value: stream},
		{Ordinal: 4, Value: last}, {Ordinal: 5, Value: first},
	}
	rows, err := c.QueryContext(ctx, overlappingGapsSQL, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []idGap
	dest := make([]driver.Value, 3)
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		g := idGap{}
		var ok1, ok2, ok3 bool
		g.id, ok1 = dest[0].(int64)
		g.first, ok2 = dest[1].(uint64)
		g.last, ok3 = dest[2].(uint64)
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("unexpected coverage row types %T %T %T", dest[0], dest[1], dest[2])
		}
		out = append(out, g)
	}
}
