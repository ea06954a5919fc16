package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tickflow/tickflow/md"
)

// Book is an instrument's L2 book rebuilt from the store alone (book_updates and
// book_status), as DuckDB's book_at macro rebuilds it. SCHEMA.md ("Rebuilding a book") has
// the same steps as SQL that runs on ClickHouse 18.16.
type Book struct {
	Venue, Symbol string
	// ParserVersion is the parser version the book was rebuilt in: the one whose latest
	// book message at or before the time asked is latest (the newest on ties).
	ParserVersion uint16
	// SnapshotSeq is the book_seq of the snapshot the rebuild started from; Seq that of the
	// last message applied.
	SnapshotSeq, Seq uint64
	// AsOf is the receive time (Unix ns) of the last message applied.
	AsOf int64
	// KnownDepth is that message's depth: levels below it may be wrong (0: whole book).
	KnownDepth uint32
	// Valid is false when the latest book status at or before the time is "invalid" (the
	// book was known wrong and being resynced) or the deltas after the snapshot broke off (a
	// book_seq is missing: what follows was not applied).
	Valid bool
	// Bids (price descending) and Asks (ascending), best first. Prices are at the largest
	// price scale among the messages applied; quantities as the last message carrying the
	// level sent them.
	Bids, Asks []md.Level
}

// BookAt rebuilds the book of venue/symbol as of receive time ts (Unix ns, inclusive): the
// latest snapshot at or before ts (of the parser version chosen as Book.ParserVersion says)
// and the deltas after it, in book_seq order, as long as book_seq stays contiguous; per side
// and price, the quantity of the last message carrying it, quantity 0 deleting the level.
// depth > 0 keeps the best depth levels per side. It returns nil and no error when there is
// no snapshot at or before ts. It scans the instrument's history up to ts; on a long history
// use BookAtWithin.
func (s *Store) BookAt(ctx context.Context, venue, symbol string, ts int64, depth int) (*Book, error) {
	return s.BookAtWithin(ctx, venue, symbol, ts, depth, 0)
}

// BookAtWithin is BookAt looking back at most lookback before ts (0: no bound), like the
// lookback argument of DuckDB's book_at: every scan is limited to receive times in
// [ts - lookback, ts], so the cost no longer grows with the history. The window must hold a
// snapshot (the normalizer publishes one every 30 s), else the result is nil.
func (s *Store) BookAtWithin(ctx context.Context, venue, symbol string, ts int64, depth int, lookback time.Duration) (*Book, error) {
	d := s.dialect
	recv := timeExpr(d, "recv")
	lo := int64(0) // receive times are positive
	if lookback > 0 {
		lo = ts - int64(lookback)
	}
	bk := &Book{Venue: venue, Symbol: symbol}
	wrap := func(step string, err error) error {
		return fmt.Errorf("clickhouse: book at %s/%s %d: %s: %w", venue, symbol, ts, step, err)
	}
	// 1. the parser version.
	rows, err := s.conn.Query(ctx, `SELECT parser_version FROM book_updates
		WHERE venue = ? AND symbol = ? AND `+recv+` >= ? AND `+recv+` <= ?
		ORDER BY `+recv+` DESC, parser_version DESC LIMIT 1`, venue, symbol, lo, ts)
	if err != nil {
		return nil, wrap("parser version", err)
	}
	found, err := scanOne(rows, &bk.ParserVersion)
	if err != nil {
		return nil, wrap("parser version", err)
	}
	if !found {
		return nil, nil
	}
	// 2. the latest snapshot.
	var snapRecv int64
	rows, err = s.conn.Query(ctx, `SELECT `+recv+`, book_seq FROM book_updates
		WHERE venue = ? AND symbol = ? AND parser_version = ? AND is_snapshot = 1
		  AND `+recv+` >= ? AND `+recv+` <= ?
		ORDER BY `+recv+` DESC, epoch DESC, seq DESC, idx DESC LIMIT 1`,
		venue, symbol, bk.ParserVersion, lo, ts)
	if err != nil {
		return nil, wrap("snapshot", err)
	}
	if found, err = scanOne(rows, &snapRecv, &bk.SnapshotSeq); err != nil || !found {
		if err != nil {
			return nil, wrap("snapshot", err)
		}
		return nil, nil
	}
	// 3. how far book_seq is contiguous from the snapshot; the largest price scale.
	var n, brk uint64
	var scale uint8
	if err := s.conn.QueryRow(ctx, `SELECT length(s), toUInt64(arrayFirstIndex((x, i) -> x != i + ?, s,
		arrayEnumerate(s))), ps
		FROM (SELECT arraySort(groupUniqArray(book_seq)) AS s, max(price_scale) AS ps
		      FROM book_updates
		      WHERE venue = ? AND symbol = ? AND parser_version = ? AND `+recv+` >= ?
		        AND `+recv+` <= ? AND book_seq >= ?)`,
		int64(bk.SnapshotSeq)-1, venue, symbol, bk.ParserVersion, snapRecv, ts,
		bk.SnapshotSeq).Scan(&n, &brk, &scale); err != nil {
		return nil, wrap("sequence", err)
	}
	chain := n
	if brk != 0 {
		chain = brk - 1
	}
	bk.Seq = bk.SnapshotSeq + chain - 1
	// 4. the last message applied.
	rows, err = s.conn.Query(ctx, `SELECT `+recv+`, depth FROM book_updates
		WHERE venue = ? AND symbol = ? AND parser_version = ? AND book_seq = ?
		  AND `+recv+` >= ? AND `+recv+` <= ?
		ORDER BY epoch, seq, idx LIMIT 1`, venue, symbol, bk.ParserVersion, bk.Seq, snapRecv, ts)
	if err != nil {
		return nil, wrap("head", err)
	}
	if _, err := scanOne(rows, &bk.AsOf, &bk.KnownDepth); err != nil {
		return nil, wrap("head", err)
	}
	// 5. the latest status.
	var state string
	rows, err = s.conn.Query(ctx, `SELECT toString(state) FROM book_status
		WHERE venue = ? AND symbol = ? AND parser_version = ? AND `+recv+` >= ? AND `+recv+` <= ?
		ORDER BY `+recv+` DESC, epoch DESC, seq DESC, idx DESC LIMIT 1`,
		venue, symbol, bk.ParserVersion, lo, ts)
	if err != nil {
		return nil, wrap("status", err)
	}
	hasStatus, err := scanOne(rows, &state)
	if err != nil {
		return nil, wrap("status", err)
	}
	bk.Valid = brk == 0 && (!hasStatus || state == "valid")
	// 6. the levels.
	rows, err = s.conn.Query(ctx, bookLevelsSQL(d, depth), int(scale), venue, symbol,
		bk.ParserVersion, bk.SnapshotSeq, bk.Seq, snapRecv, ts, venue, symbol, bk.ParserVersion,
		bk.SnapshotSeq, bk.Seq, snapRecv, ts)
	if err != nil {
		return nil, wrap("levels", err)
	}
	defer rows.Close()
	for rows.Next() {
		var side uint8
		var l md.Level
		if err := rows.Scan(&side, &l.Price.Mant, &l.Qty.Mant, &l.Qty.Scale); err != nil {
			return nil, wrap("levels", err)
		}
		l.Price.Scale = scale
		if side == 0 {
			bk.Bids = append(bk.Bids, l)
		} else {
			bk.Asks = append(bk.Asks, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("levels", err)
	}
	return bk, nil
}

// bookLevelsSQL is step 6 of BookAt: parameters (scale, then venue, symbol, parser_version,
// snapshot seq, head seq, snapshot recv, ts for bids and again for asks).
func bookLevelsSQL(d Dialect, depth int) string {
	recv := timeExpr(d, "recv")
	side := func(n int, name string) string {
		return `SELECT ` + strconv.Itoa(n) + ` AS side, book_seq, price_scale, qty_scale, p, q, lvl
      FROM book_updates
      ARRAY JOIN ` + name + `_price_mant AS p, ` + name + `_qty_mant AS q,
                 arrayEnumerate(` + name + `_price_mant) AS lvl
      WHERE venue = ? AND symbol = ? AND parser_version = ? AND book_seq >= ?
        AND book_seq <= ? AND ` + recv + ` >= ? AND ` + recv + ` <= ?`
	}
	q := `SELECT side, pkey, argMax(q, (book_seq, lvl)) AS qm, argMax(qty_scale, (book_seq, lvl))
FROM (SELECT side, book_seq, qty_scale, q, lvl, p * toInt64(exp10(toUInt8(?) - price_scale)) AS pkey
      FROM (` + side(0, "bid") + `
      UNION ALL
      ` + side(1, "ask") + `))
GROUP BY side, pkey
HAVING qm != 0
ORDER BY side, if(side = 0, -pkey, pkey)`
	if depth > 0 {
		q += "\nLIMIT " + strconv.Itoa(depth) + " BY side"
	}
	return q
}

// scanOne scans the first row of rows into dst and closes rows; found is false when there
// is none.
func scanOne(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}, dst ...any) (found bool, err error) {
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dst...); err != nil {
		return false, err
	}
	return true, rows.Err()
}
