-- 0001 (modern dialect: ClickHouse 20.3 and later; tested with chdb's engine): the initial
-- tickflow schema. Times are DateTime64(9, 'UTC') *_time columns; venue and symbol are
-- LowCardinality; columns carry codecs. SCHEMA.md documents every table and column; the legacy
-- dialect (migrations/legacy, for 18.16) has the same tables with Int64 *_ns columns.
-- Statements are separated by a ';' at the end of a line. Each is idempotent (IF NOT
-- EXISTS): a migration interrupted half-way is re-run whole at the next Open.
-- Never edit after release: add a new migration.

CREATE TABLE IF NOT EXISTS trades (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    trade_id_num    UInt64 CODEC(Delta, ZSTD(1)),
    trade_id_text   String CODEC(ZSTD(1)),
    trade_id        String ALIAS if(trade_id_text = '', toString(trade_id_num), trade_id_text),
    price_mant      Int64 CODEC(Delta, ZSTD(1)),
    price_scale     UInt8,
    qty_mant        Int64 CODEC(ZSTD(1)),
    qty_scale       UInt8,
    price           Float64 MATERIALIZED price_mant / exp10(price_scale) CODEC(Gorilla, ZSTD(1)),
    qty             Float64 MATERIALIZED qty_mant / exp10(qty_scale) CODEC(ZSTD(1)),
    side            Enum8('unknown' = 0, 'buy' = 1, 'sell' = 2),
    exch_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    send_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    recv_time       DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    clock_offset_ns Int64 CODEC(ZSTD(1)),
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(recv_time)
ORDER BY (venue, symbol, recv_time, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS integrity (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    type            LowCardinality(String),
    stream          LowCardinality(String),
    from_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    to_time         Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    first_id        Nullable(UInt64),
    last_id         Nullable(UInt64),
    count           UInt64,
    exch_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    send_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    recv_time       DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    clock_offset_ns Int64 CODEC(ZSTD(1)),
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(recv_time)
ORDER BY (venue, symbol, recv_time, epoch, seq, idx);

-- Coverage pieces: identity (venue, symbol, stream, opening provenance, parser_version,
-- first_id); a newer version of a piece replaces the older one (read with FINAL).
CREATE TABLE IF NOT EXISTS coverage (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    stream          LowCardinality(String),
    reason          LowCardinality(String),
    status          LowCardinality(String),
    from_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    to_time         Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    first_id        UInt64,
    last_id         UInt64,
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    parser_version  UInt16,
    repaired_epoch  Nullable(UInt64),
    repaired_seq    Nullable(UInt64),
    repaired_idx    Nullable(UInt32),
    repaired_time   Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (venue, symbol, stream, epoch, seq, idx, parser_version, first_id);

CREATE TABLE IF NOT EXISTS offsets (
    topic           String,
    partition       Int32,
    next_offset     Int64,
    version         UInt64,
    written_ns      Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, partition);

-- Tables of the event kinds the sink does not write yet (empty for now).

-- One row per unified book message: deltas, snapshots (row_type 'snapshot': the full book
-- replaces what came before) and resync markers (row_type 'resync': the book is invalid from
-- here until the next snapshot). Levels are parallel arrays of mantissas; qty 0 removes a level.
CREATE TABLE IF NOT EXISTS book_updates (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    row_type        Enum8('delta' = 0, 'snapshot' = 1, 'resync' = 2),
    book_seq        UInt64,
    prev_seq        UInt64,
    valid_depth     UInt32,
    price_scale     UInt8,
    qty_scale       UInt8,
    bid_price       Array(Int64) CODEC(ZSTD(1)),
    bid_qty         Array(Int64) CODEC(ZSTD(1)),
    ask_price       Array(Int64) CODEC(ZSTD(1)),
    ask_qty         Array(Int64) CODEC(ZSTD(1)),
    exch_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    send_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    recv_time       DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    clock_offset_ns Int64 CODEC(ZSTD(1)),
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(recv_time)
ORDER BY (venue, symbol, recv_time, epoch, seq, idx);

-- Periodic top-N books (a replay starts from the nearest one instead of the day's first
-- snapshot).
CREATE TABLE IF NOT EXISTS book_snapshots (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    book_seq        UInt64,
    depth           UInt16,
    valid_depth     UInt32,
    price_scale     UInt8,
    qty_scale       UInt8,
    bid_price       Array(Int64) CODEC(ZSTD(1)),
    bid_qty         Array(Int64) CODEC(ZSTD(1)),
    ask_price       Array(Int64) CODEC(ZSTD(1)),
    ask_qty         Array(Int64) CODEC(ZSTD(1)),
    exch_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    recv_time       DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(recv_time)
ORDER BY (venue, symbol, recv_time, epoch, seq, idx)
-- Snapshots are a replay accelerator, rebuildable from book_updates: kept 90 days.
TTL toDateTime(recv_time) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS bbo (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    bid_price_mant  Int64,
    bid_qty_mant    Int64,
    ask_price_mant  Int64,
    ask_qty_mant    Int64,
    price_scale     UInt8,
    qty_scale       UInt8,
    bid_price       Float64 MATERIALIZED bid_price_mant / exp10(price_scale),
    ask_price       Float64 MATERIALIZED ask_price_mant / exp10(price_scale),
    exch_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    send_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    recv_time       DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    clock_offset_ns Int64 CODEC(ZSTD(1)),
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(recv_time)
ORDER BY (venue, symbol, recv_time, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS funding (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    rate_mant       Int64,
    rate_scale      UInt8,
    rate            Float64 MATERIALIZED rate_mant / exp10(rate_scale),
    mark_price_mant Int64,
    index_price_mant Int64,
    price_scale     UInt8,
    funding_time    Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    next_funding_time Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    exch_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    send_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    recv_time       DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    clock_offset_ns Int64 CODEC(ZSTD(1)),
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(recv_time)
ORDER BY (venue, symbol, recv_time, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS open_interest (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    oi_mant         Int64,
    qty_scale       UInt8,
    open_interest   Float64 MATERIALIZED oi_mant / exp10(qty_scale),
    oi_value        Float64,
    exch_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    send_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    recv_time       DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    clock_offset_ns Int64 CODEC(ZSTD(1)),
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(recv_time)
ORDER BY (venue, symbol, recv_time, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS liquidations (
    venue           LowCardinality(String),
    symbol          LowCardinality(String),
    side            Enum8('unknown' = 0, 'buy' = 1, 'sell' = 2),
    price_mant      Int64 CODEC(Delta, ZSTD(1)),
    price_scale     UInt8,
    qty_mant        Int64 CODEC(ZSTD(1)),
    qty_scale       UInt8,
    price           Float64 MATERIALIZED price_mant / exp10(price_scale) CODEC(Gorilla, ZSTD(1)),
    qty             Float64 MATERIALIZED qty_mant / exp10(qty_scale) CODEC(ZSTD(1)),
    order_id        String,
    exch_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    send_time       Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    recv_time       DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    clock_offset_ns Int64 CODEC(ZSTD(1)),
    epoch           UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq             UInt64 CODEC(DoubleDelta, ZSTD(1)),
    idx             UInt32 CODEC(ZSTD(1)),
    source          Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(recv_time)
ORDER BY (venue, symbol, recv_time, epoch, seq, idx);

-- Instrument versions (ADR 0004): a row per (venue, native symbol, valid_from); a re-recorded
-- version replaces the older recording (read with FINAL).
CREATE TABLE IF NOT EXISTS instruments (
    venue           LowCardinality(String),
    native          String,
    symbol          LowCardinality(String),
    kind            Enum8('unknown' = 0, 'spot' = 1, 'perpetual' = 2, 'future' = 3, 'option' = 4),
    base            String,
    quote           String,
    settle          String,
    inverse         UInt8,
    expiry_time     DateTime64(9, 'UTC'),
    strike          String,
    is_call         UInt8,
    tick_mant       Int64,
    tick_scale      UInt8,
    lot_mant        Int64,
    lot_scale       UInt8,
    status          Enum8('unknown' = 0, 'listed' = 1, 'delisted' = 2),
    valid_from_time DateTime64(9, 'UTC'),
    recorded_time   DateTime64(9, 'UTC')
) ENGINE = ReplacingMergeTree(recorded_time)
ORDER BY (venue, native, valid_from_time);

-- Views (SCHEMA.md): the newest parser_version per event id.

-- Deduplicated by the stored id columns (one of them is the id: a text id has num 0, a
-- numeric id text ''), not the trade_id ALIAS, which would format every numeric id.
CREATE VIEW IF NOT EXISTS trades_v AS
SELECT *, trade_id, price, qty
FROM trades
ORDER BY venue, symbol, trade_id_num, trade_id_text, parser_version DESC, epoch, seq, idx
LIMIT 1 BY venue, symbol, trade_id_num, trade_id_text;

-- trades_v restricted to recv_time in [from_ts, to_ts) before deduplicating (a parameterized
-- view, ClickHouse 23.1+): SELECT * FROM trades_range(from_ts = '2026-01-01', to_ts = '2026-01-02').
CREATE VIEW IF NOT EXISTS trades_range AS
SELECT *, trade_id, price, qty
FROM trades
WHERE recv_time >= {from_ts:DateTime64(9, 'UTC')} AND recv_time < {to_ts:DateTime64(9, 'UTC')}
ORDER BY venue, symbol, trade_id_num, trade_id_text, parser_version DESC, epoch, seq, idx
LIMIT 1 BY venue, symbol, trade_id_num, trade_id_text;

CREATE VIEW IF NOT EXISTS integrity_v AS
SELECT *
FROM integrity
ORDER BY venue, symbol, epoch, seq, idx, parser_version DESC
LIMIT 1 BY venue, symbol, epoch, seq, idx;

CREATE VIEW IF NOT EXISTS coverage_v AS
SELECT * FROM coverage FINAL;

CREATE VIEW IF NOT EXISTS coverage_gaps AS
SELECT * FROM coverage FINAL WHERE status = 'gap';

-- The exactly-once state, derived from the stored rows (the sink runs the same query).
CREATE VIEW IF NOT EXISTS watermarks AS
SELECT venue, symbol, 'trade' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM trades GROUP BY venue, symbol, parser_version)
UNION ALL
SELECT venue, symbol, 'integrity' AS kind, parser_version,
       tupleElement(m, 1) AS epoch, tupleElement(m, 2) AS seq, tupleElement(m, 3) AS idx
FROM (SELECT venue, symbol, parser_version, max((epoch, seq, idx)) AS m
      FROM integrity GROUP BY venue, symbol, parser_version);

CREATE VIEW IF NOT EXISTS offsets_v AS
SELECT topic, partition, argMax(next_offset, version) AS next_offset
FROM offsets
GROUP BY topic, partition;

CREATE VIEW IF NOT EXISTS instruments_v AS
SELECT * FROM instruments FINAL;
