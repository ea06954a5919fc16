-- 0001 (legacy dialect: ClickHouse 18.16 .. 20.2): the initial tickflow schema.
-- No DateTime64, LowCardinality, codecs or TTL on these servers: times are Int64 Unix
-- nanoseconds in *_ns columns. SCHEMA.md documents every table and column; the modern
-- dialect (migrations/modern) has the same tables with DateTime64 *_time columns.
-- Statements are separated by a ';' at the end of a line. Each is idempotent (IF NOT
-- EXISTS): a migration interrupted half-way is re-run whole at the next Open.
-- Never edit after release: add a new migration.

CREATE TABLE IF NOT EXISTS trades (
    venue           String,
    symbol          String,
    trade_id_num    UInt64,
    trade_id_text   String,
    trade_id        String ALIAS if(trade_id_text = '', toString(trade_id_num), trade_id_text),
    price_mant      Int64,
    price_scale     UInt8,
    qty_mant        Int64,
    qty_scale       UInt8,
    price           Float64 MATERIALIZED price_mant / exp10(price_scale),
    qty             Float64 MATERIALIZED qty_mant / exp10(qty_scale),
    side            Enum8('unknown' = 0, 'buy' = 1, 'sell' = 2),
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

CREATE TABLE IF NOT EXISTS integrity (
    venue           String,
    symbol          String,
    type            String,
    stream          String,
    from_ns         Nullable(Int64),
    to_ns           Nullable(Int64),
    first_id        Nullable(UInt64),
    last_id         Nullable(UInt64),
    count           UInt64,
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

-- Coverage pieces: identity (venue, symbol, stream, opening provenance, parser_version,
-- first_id); a newer version of a piece replaces the older one (read with FINAL).
CREATE TABLE IF NOT EXISTS coverage (
    venue           String,
    symbol          String,
    stream          String,
    reason          String,
    status          String,
    from_ns         Nullable(Int64),
    to_ns           Nullable(Int64),
    first_id        UInt64,
    last_id         UInt64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    parser_version  UInt16,
    repaired_epoch  Nullable(UInt64),
    repaired_seq    Nullable(UInt64),
    repaired_idx    Nullable(UInt32),
    repaired_ns     Nullable(Int64),
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (venue, symbol, stream, epoch, seq, idx, parser_version, first_id);

CREATE TABLE IF NOT EXISTS offsets (
    topic       String,
    partition   Int32,
    next_offset Int64,
    version     UInt64,
    written_ns  Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, partition);

-- Tables of the event kinds the sink does not write yet (empty for now).

-- One row per unified book message: deltas, snapshots (row_type 'snapshot': the full book
-- replaces what came before) and resync markers (row_type 'resync': the book is invalid from
-- here until the next snapshot). Levels are parallel arrays of mantissas; qty 0 removes a level.
CREATE TABLE IF NOT EXISTS book_updates (
    venue           String,
    symbol          String,
    row_type        Enum8('delta' = 0, 'snapshot' = 1, 'resync' = 2),
    book_seq        UInt64,
    prev_seq        UInt64,
    valid_depth     UInt32,
    price_scale     UInt8,
    qty_scale       UInt8,
    bid_price       Array(Int64),
    bid_qty         Array(Int64),
    ask_price       Array(Int64),
    ask_qty         Array(Int64),
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

-- Periodic top-N books (a replay starts from the nearest one instead of the day's first
-- snapshot).
CREATE TABLE IF NOT EXISTS book_snapshots (
    venue           String,
    symbol          String,
    book_seq        UInt64,
    depth           UInt16,
    valid_depth     UInt32,
    price_scale     UInt8,
    qty_scale       UInt8,
    bid_price       Array(Int64),
    bid_qty         Array(Int64),
    ask_price       Array(Int64),
    ask_qty         Array(Int64),
    exch_ns         Nullable(Int64),
    recv_ns         Int64,
    epoch           UInt64,
    seq             UInt64,
    idx             UInt32,
    parser_version  UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS bbo (
    venue           String,
    symbol          String,
    bid_price_mant  Int64,
    bid_qty_mant    Int64,
    ask_price_mant  Int64,
    ask_qty_mant    Int64,
    price_scale     UInt8,
    qty_scale       UInt8,
    bid_price       Float64 MATERIALIZED bid_price_mant / exp10(price_scale),
    ask_price       Float64 MATERIALIZED ask_price_mant / exp10(price_scale),
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
    venue            String,
    symbol           String,
    rate_mant        Int64,
    rate_scale       UInt8,
    rate             Float64 MATERIALIZED rate_mant / exp10(rate_scale),
    mark_price_mant  Int64,
    index_price_mant Int64,
    price_scale      UInt8,
    funding_ns       Nullable(Int64),
    next_funding_ns  Nullable(Int64),
    exch_ns          Nullable(Int64),
    send_ns          Nullable(Int64),
    recv_ns          Int64,
    clock_offset_ns  Int64,
    epoch            UInt64,
    seq              UInt64,
    idx              UInt32,
    source           Enum8('live' = 0, 'backfill' = 1, 'reimport' = 2),
    parser_version   UInt16
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(recv_ns, 1000000000), 'UTC'))
ORDER BY (venue, symbol, recv_ns, epoch, seq, idx);

CREATE TABLE IF NOT EXISTS open_interest (
    venue           String,
    symbol          String,
    oi_mant         Int64,
    qty_scale       UInt8,
    open_interest   Float64 MATERIALIZED oi_mant / exp10(qty_scale),
    oi_value        Float64,
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
    price           Float64 MATERIALIZED price_mant / exp10(price_scale),
    qty             Float64 MATERIALIZED qty_mant / exp10(qty_scale),
    order_id        String,
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

-- Instrument versions (ADR 0004): a row per (venue, native symbol, valid_from); a re-recorded
-- version replaces the older recording (read with FINAL).
CREATE TABLE IF NOT EXISTS instruments (
    venue         String,
    native        String,
    symbol        String,
    kind          Enum8('unknown' = 0, 'spot' = 1, 'perpetual' = 2, 'future' = 3, 'option' = 4),
    base          String,
    quote         String,
    settle        String,
    inverse       UInt8,
    expiry_ns     Int64,
    strike        String,
    is_call       UInt8,
    tick_mant     Int64,
    tick_scale    UInt8,
    lot_mant      Int64,
    lot_scale     UInt8,
    status        Enum8('unknown' = 0, 'listed' = 1, 'delisted' = 2),
    valid_from_ns Int64,
    recorded_ns   Int64
) ENGINE = ReplacingMergeTree(recorded_ns)
ORDER BY (venue, native, valid_from_ns);

-- Views (SCHEMA.md): the newest parser_version per event id.

-- Deduplicated by the stored id columns (one of them is the id: a text id has num 0, a
-- numeric id text ''), not the trade_id ALIAS, which would format every numeric id.
CREATE VIEW IF NOT EXISTS trades_v AS
SELECT *, trade_id, price, qty
FROM trades
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
