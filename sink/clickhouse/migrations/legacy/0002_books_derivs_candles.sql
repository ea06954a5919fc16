-- 0002 (legacy dialect: ClickHouse 18.16+): books, book status, BBO, periodic book snapshots, funding, open
-- interest, liquidations, and candles maintained by materialized views over trades.
-- The legacy and modern files create the same objects (TestDialectsMatch); only
-- time columns, LowCardinality and codecs differ). SCHEMA.md documents every object.
-- 0001 created empty placeholder tables for these kinds that the sink never wrote: they
-- are dropped and created again with the columns the writer fills (DROP ... IF EXISTS keeps
-- the migration idempotent: an interrupted run is re-run whole before anything is written).
-- Never edit after release: add a new migration.

DROP TABLE IF EXISTS book_updates;
DROP TABLE IF EXISTS book_snapshots;
DROP TABLE IF EXISTS bbo;
DROP TABLE IF EXISTS funding;
DROP TABLE IF EXISTS open_interest;
DROP TABLE IF EXISTS liquidations;
DROP TABLE IF EXISTS watermarks;

-- One row per unified book message (md.BookUpdate): deltas and snapshots (is_snapshot: the
-- full book, replacing what came before). The levels are parallel arrays, best first; all
-- levels of a message share price_scale and qty_scale; in a delta qty 0 deletes the level.
CREATE TABLE IF NOT EXISTS book_updates (
    venue           String,
    symbol          String,
    is_snapshot     UInt8,
    book_seq        UInt64,
    book_prev_seq   UInt64,
    first_id        UInt64,
    last_id         UInt64,
    depth           UInt32,
    price_scale     UInt8,
    qty_scale       UInt8,
    bid_price_mant  Array(Int64),
    bid_qty_mant    Array(Int64),
    ask_price_mant  Array(Int64),
    ask_qty_mant    Array(Int64),
    bid_levels      UInt32 ALIAS length(bid_price_mant),
    ask_levels      UInt32 ALIAS length(ask_price_mant),
    exch_ns         Nullable(Int64),
    send_ns         Nullable(Int64),
    recv_ns         Int64,
    clock_offset_ns Int64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

-- The resync markers: one row per md.BookStatus.
CREATE TABLE IF NOT EXISTS book_status (
    venue           String,
    symbol          String,
    state           Enum8('unknown' = 0, 'valid' = 1, 'invalid' = 2),
    reason          Nullable(String),
    book_seq        UInt64,
    exch_ns         Nullable(Int64),
    send_ns         Nullable(Int64),
    recv_ns         Int64,
    clock_offset_ns Int64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

-- Every snapshot message cut to its best N levels per side (Config.SnapshotLevels): the
-- normalizer's periodic snapshots (every 30 s) and those after a resync.
CREATE TABLE IF NOT EXISTS book_snapshots (
    venue           String,
    symbol          String,
    book_seq        UInt64,
    depth           UInt32,
    price_scale     UInt8,
    qty_scale       UInt8,
    bid_price_mant  Array(Int64),
    bid_qty_mant    Array(Int64),
    ask_price_mant  Array(Int64),
    ask_qty_mant    Array(Int64),
    bid_price       Array(Float64) ALIAS arrayMap((m, s) -> m / exp10(s), bid_price_mant,
        arrayResize(emptyArrayUInt8(), length(bid_price_mant), price_scale)),
    bid_qty         Array(Float64) ALIAS arrayMap((m, s) -> m / exp10(s), bid_qty_mant,
        arrayResize(emptyArrayUInt8(), length(bid_qty_mant), qty_scale)),
    ask_price       Array(Float64) ALIAS arrayMap((m, s) -> m / exp10(s), ask_price_mant,
        arrayResize(emptyArrayUInt8(), length(ask_price_mant), price_scale)),
    ask_qty         Array(Float64) ALIAS arrayMap((m, s) -> m / exp10(s), ask_qty_mant,
        arrayResize(emptyArrayUInt8(), length(ask_qty_mant), qty_scale)),
    exch_ns         Nullable(Int64),
    send_ns         Nullable(Int64),
    recv_ns         Int64,
    clock_offset_ns Int64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS bbo (
    venue           String,
    symbol          String,
    bid_price_mant  Int64,
    bid_price_scale UInt8,
    bid_qty_mant    Int64,
    bid_qty_scale   UInt8,
    ask_price_mant  Int64,
    ask_price_scale UInt8,
    ask_qty_mant    Int64,
    ask_qty_scale   UInt8,
    bid_price       Float64 ALIAS bid_price_mant / exp10(bid_price_scale),
    bid_qty         Float64 ALIAS bid_qty_mant / exp10(bid_qty_scale),
    ask_price       Float64 ALIAS ask_price_mant / exp10(ask_price_scale),
    ask_qty         Float64 ALIAS ask_qty_mant / exp10(ask_qty_scale),
    update_id       Nullable(UInt64),
    exch_ns         Nullable(Int64),
    send_ns         Nullable(Int64),
    recv_ns         Int64,
    clock_offset_ns Int64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS funding (
    venue             String,
    symbol            String,
    rate_mant         Int64,
    rate_scale        UInt8,
    mark_price_mant   Int64,
    mark_price_scale  UInt8,
    index_price_mant  Int64,
    index_price_scale UInt8,
    rate              Float64 ALIAS rate_mant / exp10(rate_scale),
    mark_price        Float64 ALIAS mark_price_mant / exp10(mark_price_scale),
    index_price       Float64 ALIAS index_price_mant / exp10(index_price_scale),
    funding_ns         Nullable(Int64),
    next_funding_ns         Nullable(Int64),
    exch_ns         Nullable(Int64),
    send_ns         Nullable(Int64),
    recv_ns         Int64,
    clock_offset_ns Int64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS open_interest (
    venue           String,
    symbol          String,
    oi_mant         Int64,
    oi_scale        UInt8,
    value_mant      Int64,
    value_scale     UInt8,
    open_interest   Float64 ALIAS oi_mant / exp10(oi_scale),
    oi_value        Float64 ALIAS value_mant / exp10(value_scale),
    exch_ns         Nullable(Int64),
    send_ns         Nullable(Int64),
    recv_ns         Int64,
    clock_offset_ns Int64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS liquidations (
    venue           String,
    symbol          String,
    side            Enum8('unknown' = 0, 'buy' = 1, 'sell' = 2),
    price_mant      Int64,
    price_scale     UInt8,
    qty_mant        Int64,
    qty_scale       UInt8,
    price           Float64 ALIAS price_mant / exp10(price_scale),
    qty             Float64 ALIAS qty_mant / exp10(qty_scale),
    exch_ns         Nullable(Int64),
    send_ns         Nullable(Int64),
    recv_ns         Int64,
    clock_offset_ns Int64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

CREATE VIEW IF NOT EXISTS book_updates_v AS
SELECT *, bid_levels, ask_levels
FROM book_updates
ORDER BY venue, symbol, epoch, seq, idx, parser_version DESC
LIMIT 1 BY venue, symbol, epoch, seq, idx;

CREATE VIEW IF NOT EXISTS book_status_v AS
SELECT *
FROM book_status
ORDER BY venue, symbol, epoch, seq, idx, parser_version DESC
LIMIT 1 BY venue, symbol, epoch, seq, idx;

CREATE VIEW IF NOT EXISTS book_snapshots_v AS
SELECT *, bid_price, bid_qty, ask_price, ask_qty
FROM book_snapshots
ORDER BY venue, symbol, epoch, seq, idx, parser_version DESC
LIMIT 1 BY venue, symbol, epoch, seq, idx;

CREATE VIEW IF NOT EXISTS bbo_v AS
SELECT *, bid_price, bid_qty, ask_price, ask_qty
FROM bbo
ORDER BY venue, symbol, epoch, seq, idx, parser_version DESC
LIMIT 1 BY venue, symbol, epoch, seq, idx;

CREATE VIEW IF NOT EXISTS funding_v AS
SELECT *, rate, mark_price, index_price
FROM funding
ORDER BY venue, symbol, epoch, seq, idx, parser_version DESC
LIMIT 1 BY venue, symbol, epoch, seq, idx;

CREATE VIEW IF NOT EXISTS open_interest_v AS
SELECT *, open_interest, oi_value
FROM open_interest
ORDER BY venue, symbol, epoch, seq, idx, parser_version DESC
LIMIT 1 BY venue, symbol, epoch, seq, idx;

CREATE VIEW IF NOT EXISTS liquidations_v AS
SELECT *, price, qty
FROM liquidations
ORDER BY venue, symbol, epoch, seq, idx, parser_version DESC
LIMIT 1 BY venue, symbol, epoch, seq, idx;

-- One row per level of a book message, as DuckDB's book_levels table (level 1 = best).
CREATE VIEW IF NOT EXISTS book_levels AS
SELECT venue, symbol, recv_ns, book_seq, 'bid' AS side, level, price_mant, price_scale,
       qty_mant, qty_scale, price_mant / exp10(price_scale) AS price,
       qty_mant / exp10(qty_scale) AS qty, epoch, seq, idx, parser_version
FROM book_updates
ARRAY JOIN bid_price_mant AS price_mant, bid_qty_mant AS qty_mant,
           arrayEnumerate(bid_price_mant) AS level
UNION ALL
SELECT venue, symbol, recv_ns, book_seq, 'ask' AS side, level, price_mant, price_scale,
       qty_mant, qty_scale, price_mant / exp10(price_scale) AS price,
       qty_mant / exp10(qty_scale) AS qty, epoch, seq, idx, parser_version
FROM book_updates
ARRAY JOIN ask_price_mant AS price_mant, ask_qty_mant AS qty_mant,
           arrayEnumerate(ask_price_mant) AS level;

-- The exactly-once state, derived from the stored rows (the sink runs the same query):
-- one kind per table; book_snapshot is the sink's own key for book_snapshots rows.
CREATE VIEW IF NOT EXISTS watermarks AS
SELECT venue, symbol, 'trade' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM trades GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'integrity' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM integrity GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'book' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM book_updates GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'book_status' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM book_status GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'bbo' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM bbo GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'book_snapshot' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM book_snapshots GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'funding' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM funding GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'open_interest' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM open_interest GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'liquidation' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM liquidations GROUP BY venue, symbol, parser_version);

-- Candles (OHLCV) per (venue, symbol, bucket, parser_version), maintained by materialized
-- views on every INSERT into trades. bucket is the interval's start (UTC) in the trade's
-- exchange time (its receive time when the venue sent none). open/close are the prices of the
-- first/last trade by (trade time, epoch, seq, idx). Read candles_*_v: per bucket the newest
-- parser_version. Views double-count rows inserted twice (a retried INSERT outside the sink,
-- re-normalized rows in a bucket that also holds older versions): Store.ReconcileCandles
-- compares them with trades_v and rebuilds the buckets that differ (SCHEMA.md).
CREATE TABLE IF NOT EXISTS candles_1s (
    venue          String,
    symbol         String,
    bucket         DateTime('UTC'),
    parser_version UInt16,
    open           AggregateFunction(argMin, Float64, Tuple(Int64, UInt64, UInt64, UInt32)),
    high           AggregateFunction(max, Float64),
    low            AggregateFunction(min, Float64),
    close          AggregateFunction(argMax, Float64, Tuple(Int64, UInt64, UInt64, UInt32)),
    volume         AggregateFunction(sum, Float64),
    quote_volume   AggregateFunction(sum, Float64),
    buy_volume     AggregateFunction(sum, Float64),
    trades         AggregateFunction(count)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(bucket)
ORDER BY (venue, symbol, bucket, parser_version);

CREATE MATERIALIZED VIEW IF NOT EXISTS candles_1s_mv TO candles_1s AS
SELECT venue, symbol, toDateTime(intDiv(ifNull(exch_ns, recv_ns), 1000000000), 'UTC') AS bucket, parser_version,
       argMinState(price, (ifNull(exch_ns, recv_ns), epoch, seq, idx)) AS open,
       maxState(price) AS high, minState(price) AS low,
       argMaxState(price, (ifNull(exch_ns, recv_ns), epoch, seq, idx)) AS close,
       sumState(qty) AS volume, sumState(price * qty) AS quote_volume,
       sumState(if(side = 'buy', qty, 0.)) AS buy_volume, countState() AS trades
FROM trades
GROUP BY venue, symbol, bucket, parser_version;

CREATE VIEW IF NOT EXISTS candles_1s_v AS
SELECT venue, symbol, bucket, parser_version, argMinMerge(open) AS open, maxMerge(high) AS high,
       minMerge(low) AS low, argMaxMerge(close) AS close, sumMerge(volume) AS volume,
       sumMerge(quote_volume) AS quote_volume, sumMerge(buy_volume) AS buy_volume,
       countMerge(trades) AS trades
FROM candles_1s
GROUP BY venue, symbol, bucket, parser_version
ORDER BY venue, symbol, bucket, parser_version DESC
LIMIT 1 BY venue, symbol, bucket;

CREATE TABLE IF NOT EXISTS candles_1m (
    venue          String,
    symbol         String,
    bucket         DateTime('UTC'),
    parser_version UInt16,
    open           AggregateFunction(argMin, Float64, Tuple(Int64, UInt64, UInt64, UInt32)),
    high           AggregateFunction(max, Float64),
    low            AggregateFunction(min, Float64),
    close          AggregateFunction(argMax, Float64, Tuple(Int64, UInt64, UInt64, UInt32)),
    volume         AggregateFunction(sum, Float64),
    quote_volume   AggregateFunction(sum, Float64),
    buy_volume     AggregateFunction(sum, Float64),
    trades         AggregateFunction(count)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (venue, symbol, bucket, parser_version);

CREATE MATERIALIZED VIEW IF NOT EXISTS candles_1m_mv TO candles_1m AS
SELECT venue, symbol, toStartOfMinute(toDateTime(intDiv(ifNull(exch_ns, recv_ns), 1000000000), 'UTC')) AS bucket, parser_version,
       argMinState(price, (ifNull(exch_ns, recv_ns), epoch, seq, idx)) AS open,
       maxState(price) AS high, minState(price) AS low,
       argMaxState(price, (ifNull(exch_ns, recv_ns), epoch, seq, idx)) AS close,
       sumState(qty) AS volume, sumState(price * qty) AS quote_volume,
       sumState(if(side = 'buy', qty, 0.)) AS buy_volume, countState() AS trades
FROM trades
GROUP BY venue, symbol, bucket, parser_version;

CREATE VIEW IF NOT EXISTS candles_1m_v AS
SELECT venue, symbol, bucket, parser_version, argMinMerge(open) AS open, maxMerge(high) AS high,
       minMerge(low) AS low, argMaxMerge(close) AS close, sumMerge(volume) AS volume,
       sumMerge(quote_volume) AS quote_volume, sumMerge(buy_volume) AS buy_volume,
       countMerge(trades) AS trades
FROM candles_1m
GROUP BY venue, symbol, bucket, parser_version
ORDER BY venue, symbol, bucket, parser_version DESC
LIMIT 1 BY venue, symbol, bucket;

CREATE TABLE IF NOT EXISTS candles_1h (
    venue          String,
    symbol         String,
    bucket         DateTime('UTC'),
    parser_version UInt16,
    open           AggregateFunction(argMin, Float64, Tuple(Int64, UInt64, UInt64, UInt32)),
    high           AggregateFunction(max, Float64),
    low            AggregateFunction(min, Float64),
    close          AggregateFunction(argMax, Float64, Tuple(Int64, UInt64, UInt64, UInt32)),
    volume         AggregateFunction(sum, Float64),
    quote_volume   AggregateFunction(sum, Float64),
    buy_volume     AggregateFunction(sum, Float64),
    trades         AggregateFunction(count)
) ENGINE = AggregatingMergeTree
PARTITION BY toYear(bucket)
ORDER BY (venue, symbol, bucket, parser_version);

CREATE MATERIALIZED VIEW IF NOT EXISTS candles_1h_mv TO candles_1h AS
SELECT venue, symbol, toStartOfHour(toDateTime(intDiv(ifNull(exch_ns, recv_ns), 1000000000), 'UTC')) AS bucket, parser_version,
       argMinState(price, (ifNull(exch_ns, recv_ns), epoch, seq, idx)) AS open,
       maxState(price) AS high, minState(price) AS low,
       argMaxState(price, (ifNull(exch_ns, recv_ns), epoch, seq, idx)) AS close,
       sumState(qty) AS volume, sumState(price * qty) AS quote_volume,
       sumState(if(side = 'buy', qty, 0.)) AS buy_volume, countState() AS trades
FROM trades
GROUP BY venue, symbol, bucket, parser_version;

CREATE VIEW IF NOT EXISTS candles_1h_v AS
SELECT venue, symbol, bucket, parser_version, argMinMerge(open) AS open, maxMerge(high) AS high,
       minMerge(low) AS low, argMaxMerge(close) AS close, sumMerge(volume) AS volume,
       sumMerge(quote_volume) AS quote_volume, sumMerge(buy_volume) AS buy_volume,
       countMerge(trades) AS trades
FROM candles_1h
GROUP BY venue, symbol, bucket, parser_version
ORDER BY venue, symbol, bucket, parser_version DESC
LIMIT 1 BY venue, symbol, bucket;
