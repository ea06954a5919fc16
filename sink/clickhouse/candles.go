package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Candles (OHLCV bars) of 1 second, 1 minute and 1 hour are kept by materialized views on
// trades (migration 0003): every INSERT into trades is aggregated once, by CandleFeedView,
// into 1-second states, which one view merges into the 1-second, 1-minute and 1-hour bars of
// the table candles (AggregatingMergeTree, one part per INSERT), keyed by (venue, symbol,
// interval_s, bucket, parser_version); candles_<interval>_v merges them and shows, per
// bucket, the newest parser_version. An INSERT straight into candles (RebuildCandles)
// reaches no view.
//
// A view counts what is inserted, not what trades_v shows, so it drifts from the
// deduplicated trades when
//
//   - rows reach trades twice: an INSERT retried outside the sink's watermarks (a manual
//     re-import, a restore), or the same trades re-captured under new provenance;
//   - re-normalized trades (a newer parser_version) cover only part of a bucket: the bucket's
//     newest-version row then holds only those, while trades_v takes the newest version per
//     trade id and the old version for the rest;
//   - the view's INSERT failed after the trades part landed (the sink's watermark then skips
//     those trades on retry, and the view never sees them).
//
// Parser-version policy: a candle is computed from trades_v, the newest parser_version of
// each trade id, and its row carries the highest parser_version among those trades.
// ReconcileCandles enforces it: it compares each bucket's trade count and volume in the view
// with those computed from trades_v and rebuilds the buckets that differ; RebuildCandles
// recomputes a whole range. Run ReconcileCandles on closed intervals (older than the sink's
// flush interval plus the latest trade delay you accept): trades inserted into a bucket
// while it is being rebuilt may be counted twice until the next reconciliation.

// CandleFeedView is the materialized view that aggregates every INSERT into trades into the
// 1-second states the bars of all three intervals are merged from. Dropping it stops candle
// maintenance (RebuildCandles fills the range later); bench-kafka --drop-candle-views does.
const CandleFeedView = "candles_feed_mv"

// candleTable holds the bars of every interval (column interval_s), migration 0003.
const candleTable = "candles"

// CandleInterval names one of the candle intervals (and its view candles_<interval>_v).
type CandleInterval string

// Candle intervals.
const (
	Candles1s CandleInterval = "1s"
	Candles1m CandleInterval = "1m"
	Candles1h CandleInterval = "1h"
)

// CandleIntervals lists every interval, shortest first.
var CandleIntervals = []CandleInterval{Candles1s, Candles1m, Candles1h}

func (iv CandleInterval) duration() (time.Duration, error) {
	switch iv {
	case Candles1s:
		return time.Second, nil
	case Candles1m:
		return time.Minute, nil
	case Candles1h:
		return time.Hour, nil
	}
	return 0, fmt.Errorf("clickhouse: unknown candle interval %q (want 1s, 1m or 1h)", string(iv))
}

// table names the interval's bars in messages ("candles_1m"), as its view candles_1m_v does.
func (iv CandleInterval) table() string { return "candles_" + string(iv) }

// seconds is the interval's interval_s in the candles table.
func (iv CandleInterval) seconds() int {
	d, _ := iv.duration()
	return int(d / time.Second)
}

// Candle is one bar as stored in candles_<interval>_v. Prices are floats (price_mant /
// 10^price_scale of the trades).
type Candle struct {
	Venue, Symbol string
	// Start is the bucket's start (UTC) in the trades' exchange time (receive time where
	// the venue sent none).
	Start time.Time
	// ParserVersion is the highest parser_version among the bucket's trades.
	ParserVersion uint16
	// Open and Close are the prices of the first and last trade by (trade time, epoch, seq,
	// idx); High and Low the extremes.
	Open, High, Low, Close float64
	// Volume is the sum of quantities, QuoteVolume of price × quantity, BuyVolume of the
	// quantities of trades whose aggressor bought.
	Volume, QuoteVolume, BuyVolume float64
	// Trades is the number of trades.
	Trades uint64
}

// tradeTimeNs is the SQL expression of a trade row's time in Unix ns (exchange time, else
// receive time), the time candles bucket by.
func tradeTimeNs(d Dialect) string {
	if d == DialectModern {
		return "toUnixTimestamp64Nano(ifNull(exch_time, recv_time))"
	}
	return "ifNull(exch_ns, recv_ns)"
}

// bucketExpr is the SQL expression of a trade row's bucket (DateTime('UTC')).
func bucketExpr(d Dialect, iv CandleInterval) string {
	sec := "toDateTime(intDiv(ifNull(exch_ns, recv_ns), 1000000000), 'UTC')"
	if d == DialectModern {
		sec = "toDateTime(ifNull(exch_time, recv_time), 'UTC')"
	}
	switch iv {
	case Candles1m:
		return "toStartOfMinute(" + sec + ")"
	case Candles1h:
		return "toStartOfHour(" + sec + ")"
	}
	return sec
}

// dedupTradesSQL selects the trades of trade time [?, ?) (Unix ns; then venue and symbol
// when filtered), newest parser_version per trade id, with their bucket b, time t_ns and pv.
func dedupTradesSQL(d Dialect, iv CandleInterval, filtered bool) string {
	where := tradeTimeNs(d) + " >= ? AND " + tradeTimeNs(d) + " < ?"
	if filtered {
		where += " AND venue = ? AND symbol = ?"
	}
	return `SELECT venue, symbol, price, qty, side, parser_version AS pv, epoch, seq, idx,
       ` + tradeTimeNs(d) + ` AS t_ns, ` + bucketExpr(d, iv) + ` AS b
FROM trades
WHERE ` + where + `
ORDER BY venue, symbol, trade_id_num, trade_id_text, parser_version DESC, epoch, seq, idx
LIMIT 1 BY venue, symbol, trade_id_num, trade_id_text`
}

// candleOrderKey is the SQL of the string that orders trades for open and close (migration
// 0003): trade time tNs (Unix ns), epoch, seq and idx, each big-endian (8, 8, 8 and 4 bytes),
// so comparing the strings compares (tNs, epoch, seq, idx). The server compares argMin/argMax
// states of a string with memcmp, those of a tuple field by field (it cost the trade INSERTs
// about 0.8 µs a row). toFixedString pads reinterpretAsString's little-endian bytes, which
// drop trailing zero bytes, back to the full width.
func candleOrderKey(tNs string) string {
	return "concat(reverse(toFixedString(reinterpretAsString(" + tNs + "), 8)), " +
		"reverse(toFixedString(reinterpretAsString(epoch), 8)), " +
		"reverse(toFixedString(reinterpretAsString(seq), 8)), " +
		"reverse(toFixedString(reinterpretAsString(idx), 4)))"
}

// candleInsertSQL and candleStatesSQL are the INSERT head and the aggregate states (after
// venue, symbol, interval_s, bucket and parser_version) of the rebuild statements, over
// dedupTradesSQL's columns.
var (
	candleInsertSQL = `INSERT INTO ` + candleTable + ` (venue, symbol, interval_s, bucket, parser_version,
    open, high, low, close, volume, quote_volume, buy_volume, trades)`
	candleStatesSQL = `argMinState(price, ` + candleOrderKey("t_ns") + `), maxState(price),
       minState(price), argMaxState(price, ` + candleOrderKey("t_ns") + `), sumState(qty),
       sumState(price * qty), sumState(if(side = 'buy', qty, 0.)), countState()`
)

// rebuildCandlesSQL inserts the candles of dedupTradesSQL's trades, restricted to the
// buckets of an array parameter when buckets is set (has(?, toUInt32(b))).
func rebuildCandlesSQL(d Dialect, iv CandleInterval, filtered, buckets bool) string {
	outer := ""
	if buckets {
		outer = "\nWHERE has(?, toUInt32(b))"
	}
	return candleInsertSQL + `
SELECT venue, symbol, toUInt32(` + strconv.Itoa(iv.seconds()) + `), b, max(pv), ` + candleStatesSQL + `
FROM (` + dedupTradesSQL(d, iv, filtered) + `)` + outer + `
GROUP BY venue, symbol, b`
}

// alignRange rounds [from, to) out to whole buckets and checks it.
func alignRange(iv CandleInterval, from, to time.Time) (time.Time, time.Time, error) {
	step, err := iv.duration()
	if err != nil {
		return from, to, err
	}
	from = from.UTC().Truncate(step)
	if t := to.UTC().Truncate(step); t.Before(to) {
		to = t.Add(step)
	}
	if !from.Before(to) {
		return from, to, fmt.Errorf("clickhouse: candle range [%s, %s) is empty", from, to)
	}
	return from, to.UTC(), nil
}

// rebuildAllCandlesSQL inserts the bars of every interval for the trades of trade time
// [?, ?) (Unix ns): the trades are deduplicated once, then each goes to its 1-second,
// 1-minute and 1-hour bucket (ARRAY JOIN).
func rebuildAllCandlesSQL(d Dialect) string {
	return candleInsertSQL + `
SELECT venue, symbol, iv, toDateTime(intDiv(toUInt32(b), iv) * iv, 'UTC') AS bk, max(pv),
       ` + candleStatesSQL + `
FROM (` + dedupTradesSQL(d, Candles1s, false) + `)
ARRAY JOIN [toUInt32(1), toUInt32(60), toUInt32(3600)] AS iv
GROUP BY venue, symbol, iv, bk`
}

// rebuildAllCandles fills the candles table from the deduplicated trades, one UTC day of
// trade time per INSERT, logging its progress: migration 0003 creates the table anew
// (postMigration), and Open waits for this.
func rebuildAllCandles(ctx context.Context, conn driver.Conn, d Dialect, log *slog.Logger) error {
	var n uint64
	var lo, hi int64
	if err := conn.QueryRow(ctx, "SELECT count(), min(t), max(t) FROM (SELECT "+tradeTimeNs(d)+
		" AS t FROM trades)").Scan(&n, &lo, &hi); err != nil {
		return fmt.Errorf("clickhouse: rebuild candles: trade time range: %w", err)
	}
	if n == 0 {
		return nil
	}
	const day = int64(24 * time.Hour)
	first := lo - lo%day
	days := (hi-first)/day + 1
	start := time.Now()
	log.Info("rebuilding the candle bars from trades (migration 0003)", "trades", n, "days", days)
	for i, from := 0, first; from <= hi; i, from = i+1, from+day {
		if err := conn.Exec(ctx, rebuildAllCandlesSQL(d), from, from+day); err != nil {
			return fmt.Errorf("clickhouse: rebuild the candle bars of %s: %w",
				time.Unix(0, from).UTC().Format(time.DateOnly), err)
		}
		if i%10 == 9 {
			log.Info("rebuilding the candle bars", "days_done", i+1, "days", days,
				"elapsed", time.Since(start).Round(time.Second))
		}
	}
	log.Info("candle bars rebuilt", "days", days, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// RebuildCandles recomputes the iv candles of buckets in [from, to) (rounded out to whole
// buckets) from trades_v: it deletes the range's rows of every parser version (ALTER TABLE
// ... DELETE, waiting until the mutation is done) and inserts them again from the
// deduplicated trades. venue and symbol restrict it to one instrument when not empty.
// SCHEMA.md ("Candles") has the same SQL for use by hand.
func (s *Store) RebuildCandles(ctx context.Context, iv CandleInterval, from, to time.Time, venue, symbol string) error {
	from, to, err := alignRange(iv, from, to)
	if err != nil {
		return err
	}
	filtered := venue != "" || symbol != ""
	del := "bucket >= toDateTime(?, 'UTC') AND bucket < toDateTime(?, 'UTC')"
	args := []any{from.Unix(), to.Unix()}
	if filtered {
		del += " AND venue = ? AND symbol = ?"
		args = append(args, venue, symbol)
	}
	if err := s.deleteCandles(ctx, iv, del, args...); err != nil {
		return err
	}
	ins := []any{from.UnixNano(), to.UnixNano()}
	if filtered {
		ins = append(ins, venue, symbol)
	}
	if err := s.conn.Exec(ctx, rebuildCandlesSQL(s.dialect, iv, filtered, false), ins...); err != nil {
		return fmt.Errorf("clickhouse: rebuild %s [%s, %s): %w", iv.table(), from, to, err)
	}
	return nil
}

// deleteCandles deletes the iv bars matching where and waits for the mutation.
func (s *Store) deleteCandles(ctx context.Context, iv CandleInterval, where string, args ...any) error {
	where = "interval_s = " + strconv.Itoa(iv.seconds()) + " AND (" + where + ")"
	if err := s.conn.Exec(ctx, "ALTER TABLE "+candleTable+" DELETE WHERE "+where, args...); err != nil {
		return fmt.Errorf("clickhouse: delete from %s: %w", iv.table(), err)
	}
	// ALTER ... DELETE is an asynchronous mutation (18.16 has no mutations_sync): wait.
	deadline := time.Now().Add(s.cfg.InsertTimeout)
	for {
		var n uint64
		if err := s.conn.QueryRow(ctx, `SELECT count() FROM system.mutations
			WHERE database = ? AND table = ? AND is_done = 0`, s.cfg.Database, candleTable).Scan(&n); err != nil {
			return fmt.Errorf("clickhouse: wait for the delete from %s: %w", iv.table(), err)
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse: delete from %s still running after %v: check "+
				"system.mutations (latest_fail_reason) and retry", iv.table(), s.cfg.InsertTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Candles returns the iv candles of one instrument with buckets in [from, to), in time
// order, from candles_<iv>_v.
func (s *Store) Candles(ctx context.Context, iv CandleInterval, venue, symbol string, from, to time.Time) ([]Candle, error) {
	if _, err := iv.duration(); err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, `SELECT venue, symbol, toUInt32(bucket), parser_version, open,
		high, low, close, volume, quote_volume, buy_volume, trades
		FROM `+iv.table()+`_v
		WHERE venue = ? AND symbol = ? AND bucket >= toDateTime(?, 'UTC')
		  AND bucket < toDateTime(?, 'UTC')
		ORDER BY bucket`, venue, symbol, from.Unix(), to.Unix())
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read %s: %w", iv.table(), err)
	}
	defer rows.Close()
	var out []Candle
	for rows.Next() {
		var c Candle
		var start uint32
		if err := rows.Scan(&c.Venue, &c.Symbol, &start, &c.ParserVersion, &c.Open, &c.High,
			&c.Low, &c.Close, &c.Volume, &c.QuoteVolume, &c.BuyVolume, &c.Trades); err != nil {
			return nil, fmt.Errorf("clickhouse: read %s: %w", iv.table(), err)
		}
		c.Start = time.Unix(int64(start), 0).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read %s: %w", iv.table(), err)
	}
	return out, nil
}

// ReconcileResult reports what ReconcileCandles did.
type ReconcileResult struct {
	// Buckets is the number of (venue, symbol, bucket) compared: those with trades or a
	// candle in the range.
	Buckets int
	// Differing lists the buckets whose candle differed from trades_v (count, volume, or
	// present on one side only); they were rebuilt.
	Differing []CandleKey
}

// CandleKey names one candle bucket.
type CandleKey struct {
	Venue, Symbol string
	Start         time.Time
}

type bucketSums struct {
	n   uint64
	vol float64
}

// ReconcileCandles compares, for every bucket of [from, to) (rounded out to whole buckets),
// the iv candles' trade count and volume with those of trades_v, and rebuilds the buckets
// that differ (per instrument: delete them, insert them again from trades_v). Volumes are
// compared with a relative tolerance of 1e-9 (float sums in different orders). Running it
// again right after returns no differing buckets.
func (s *Store) ReconcileCandles(ctx context.Context, iv CandleInterval, from, to time.Time) (ReconcileResult, error) {
	var res ReconcileResult
	from, to, err := alignRange(iv, from, to)
	if err != nil {
		return res, err
	}
	have, err := s.candleSums(ctx, `SELECT venue, symbol, toUInt32(bucket), trades, volume
		FROM `+iv.table()+`_v
		WHERE bucket >= toDateTime(?, 'UTC') AND bucket < toDateTime(?, 'UTC')`,
		from.Unix(), to.Unix())
	if err != nil {
		return res, fmt.Errorf("clickhouse: reconcile %s: read candles: %w", iv.table(), err)
	}
	want, err := s.candleSums(ctx, `SELECT venue, symbol, toUInt32(b), count(), sum(qty)
		FROM (`+dedupTradesSQL(s.dialect, iv, false)+`)
		GROUP BY venue, symbol, b`, from.UnixNano(), to.UnixNano())
	if err != nil {
		return res, fmt.Errorf("clickhouse: reconcile %s: aggregate trades: %w", iv.table(), err)
	}
	type inst struct{ venue, symbol string }
	diff := map[inst][]uint32{}
	check := func(k candleKey, h, w bucketSums) {
		if h.n == w.n && math.Abs(h.vol-w.vol) <= 1e-9*math.Max(1, math.Abs(w.vol)) {
			return
		}
		i := inst{k.venue, k.symbol}
		diff[i] = append(diff[i], k.start)
		res.Differing = append(res.Differing, CandleKey{Venue: k.venue, Symbol: k.symbol,
			Start: time.Unix(int64(k.start), 0).UTC()})
	}
	for k, w := range want {
		check(k, have[k], w)
	}
	for k, h := range have {
		if _, ok := want[k]; !ok {
			check(k, h, bucketSums{})
		}
	}
	res.Buckets = len(want)
	for k := range have {
		if _, ok := want[k]; !ok {
			res.Buckets++
		}
	}
	slices.SortFunc(res.Differing, func(a, b CandleKey) int {
		if c := strings.Compare(a.Venue+"\x00"+a.Symbol, b.Venue+"\x00"+b.Symbol); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	for i, buckets := range diff {
		slices.Sort(buckets)
		if err := s.deleteCandles(ctx, iv, "venue = ? AND symbol = ? AND has(?, toUInt32(bucket))",
			i.venue, i.symbol, buckets); err != nil {
			return res, err
		}
		step, _ := iv.duration()
		lo := time.Unix(int64(buckets[0]), 0)
		hi := time.Unix(int64(buckets[len(buckets)-1]), 0).Add(step)
		if err := s.conn.Exec(ctx, rebuildCandlesSQL(s.dialect, iv, true, true), lo.UnixNano(),
			hi.UnixNano(), i.venue, i.symbol, buckets); err != nil {
			return res, fmt.Errorf("clickhouse: reconcile %s: rebuild %s/%s: %w", iv.table(),
				i.venue, i.symbol, err)
		}
	}
	return res, nil
}

type candleKey struct {
	venue, symbol string
	start         uint32
}

func (s *Store) candleSums(ctx context.Context, q string, args ...any) (map[candleKey]bucketSums, error) {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[candleKey]bucketSums{}
	for rows.Next() {
		var k candleKey
		var v bucketSums
		if err := rows.Scan(&k.venue, &k.symbol, &k.start, &v.n, &v.vol); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}
