-- 0001: initial tickflow store schema. Documented column by column in SCHEMA.md.
-- Applied once, in a transaction, by Open. Never edit after release: add a new migration.

CREATE TYPE side_t AS ENUM ('unknown', 'buy', 'sell');
CREATE TYPE source_t AS ENUM ('live', 'backfill', 'reimport');

CREATE TABLE trades (
    venue           VARCHAR      NOT NULL,
    symbol          VARCHAR      NOT NULL,
    trade_id_num    UBIGINT,
    trade_id_text   VARCHAR,
    trade_id        VARCHAR      GENERATED ALWAYS AS
                        (coalesce(trade_id_text, CAST(trade_id_num AS VARCHAR))) VIRTUAL,
    price_mant      BIGINT       NOT NULL,
    price_scale     UTINYINT     NOT NULL,
    qty_mant        BIGINT       NOT NULL,
    qty_scale       UTINYINT     NOT NULL,
    price           DOUBLE       GENERATED ALWAYS AS
                        (price_mant / pow(10, price_scale)) VIRTUAL,
    qty             DOUBLE       GENERATED ALWAYS AS
                        (qty_mant / pow(10, qty_scale)) VIRTUAL,
    side            side_t       NOT NULL,
    exch_time       TIMESTAMP_NS,
    send_time       TIMESTAMP_NS,
    recv_time       TIMESTAMP_NS NOT NULL,
    clock_offset_ns BIGINT       NOT NULL,
    epoch           UBIGINT      NOT NULL,
    seq             UBIGINT      NOT NULL,
    idx             UINTEGER     NOT NULL,
    source          source_t     NOT NULL,
    parser_version  USMALLINT    NOT NULL
);

CREATE TABLE integrity (
    venue           VARCHAR      NOT NULL,
    symbol          VARCHAR      NOT NULL,
    type            VARCHAR      NOT NULL,
    stream          VARCHAR      NOT NULL,
    from_time       TIMESTAMP_NS,
    to_time         TIMESTAMP_NS,
    first_id        UBIGINT,
    last_id         UBIGINT,
    count           UBIGINT      NOT NULL,
    exch_time       TIMESTAMP_NS,
    send_time       TIMESTAMP_NS,
    recv_time       TIMESTAMP_NS NOT NULL,
    clock_offset_ns BIGINT       NOT NULL,
    epoch           UBIGINT      NOT NULL,
    seq             UBIGINT      NOT NULL,
    idx             UINTEGER     NOT NULL,
    source          source_t     NOT NULL,
    parser_version  USMALLINT    NOT NULL
);

CREATE SEQUENCE coverage_id_seq START 1;

CREATE TABLE coverage (
    id               BIGINT       NOT NULL,
    venue            VARCHAR      NOT NULL,
    symbol           VARCHAR      NOT NULL,
    stream           VARCHAR      NOT NULL,
    reason           VARCHAR      NOT NULL,
    status           VARCHAR      NOT NULL,
    from_time        TIMESTAMP_NS,
    to_time          TIMESTAMP_NS,
    first_id         UBIGINT,
    last_id          UBIGINT,
    epoch            UBIGINT      NOT NULL,
    seq              UBIGINT      NOT NULL,
    idx              UINTEGER     NOT NULL,
    parser_version   USMALLINT    NOT NULL,
    repaired_epoch   UBIGINT,
    repaired_seq     UBIGINT,
    repaired_idx     UINTEGER,
    repaired_time    TIMESTAMP_NS
);

CREATE TABLE watermarks (
    venue          VARCHAR   NOT NULL,
    symbol         VARCHAR   NOT NULL,
    kind           VARCHAR   NOT NULL,
    parser_version USMALLINT NOT NULL,
    epoch          UBIGINT   NOT NULL,
    seq            UBIGINT   NOT NULL,
    idx            UINTEGER  NOT NULL,
    PRIMARY KEY (venue, symbol, kind, parser_version)
);

CREATE TABLE offsets (
    topic       VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    next_offset BIGINT  NOT NULL,
    PRIMARY KEY (topic, "partition")
);

-- One row per (venue, symbol, trade_id): the newest parser_version; among rows of that
-- version (redundant captures) the earliest provenance. Partitioned by the stored id columns
-- (exactly one of them is non-NULL), not the virtual trade_id text, which is far cheaper.
CREATE VIEW trades_v AS
SELECT * FROM trades
QUALIFY row_number() OVER (
    PARTITION BY venue, symbol, trade_id_num, trade_id_text
    ORDER BY parser_version DESC, epoch, seq, idx) = 1;

-- trades_v restricted to recv_time in [from_ts, to_ts): filters before deduplicating, so a
-- time-range backtest reads only the row groups of its range.
CREATE MACRO trades_range(from_ts, to_ts) AS TABLE
SELECT * FROM trades
WHERE recv_time >= CAST(from_ts AS TIMESTAMP_NS) AND recv_time < CAST(to_ts AS TIMESTAMP_NS)
QUALIFY row_number() OVER (
    PARTITION BY venue, symbol, trade_id_num, trade_id_text
    ORDER BY parser_version DESC, epoch, seq, idx) = 1;

-- One row per integrity event id (venue, symbol, provenance): the newest parser_version.
CREATE VIEW integrity_v AS
SELECT * FROM integrity
QUALIFY row_number() OVER (
    PARTITION BY venue, symbol, epoch, seq, idx
    ORDER BY parser_version DESC) = 1;

-- Intervals whose data is incomplete and not repaired: mask these in backtests.
CREATE VIEW coverage_gaps AS
SELECT venue, symbol, stream, reason, from_time, to_time, first_id, last_id,
       epoch, seq, idx, parser_version, id
FROM coverage
WHERE status = 'gap';
