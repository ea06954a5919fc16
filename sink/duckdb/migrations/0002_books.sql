-- 0002: books (update headers and their levels), book statuses and BBOs, their views and the
-- book_at macro. Documented column by column in SCHEMA.md. Never edit after release: add a
-- new migration.
--
-- Provenance is (epoch, seq, idx) in every table, as in 0001; the book's own sequence
-- (md.BookUpdate.Seq / PrevSeq, md.BookStatus.Seq) is book_seq / book_prev_seq.

CREATE TYPE book_side_t AS ENUM ('bid', 'ask');

-- One row per book message (snapshot or delta); its levels are in book_levels.
CREATE TABLE book_updates (
    venue           VARCHAR      NOT NULL,
    symbol          VARCHAR      NOT NULL,
    is_snapshot     BOOLEAN      NOT NULL,
    book_seq        UBIGINT      NOT NULL,
    book_prev_seq   UBIGINT      NOT NULL,
    first_id        UBIGINT      NOT NULL,
    last_id         UBIGINT      NOT NULL,
    depth           UINTEGER     NOT NULL,
    bid_levels      UINTEGER     NOT NULL,
    ask_levels      UINTEGER     NOT NULL,
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

-- One row per level of a book message. (venue, symbol, parser_version, epoch, seq, idx) is
-- the message's id in book_updates; recv_time and book_seq are copied from it so that level
-- scans prune by time and order by book sequence without a join.
CREATE TABLE book_levels (
    venue           VARCHAR      NOT NULL,
    symbol          VARCHAR      NOT NULL,
    recv_time       TIMESTAMP_NS NOT NULL,
    book_seq        UBIGINT      NOT NULL,
    side            book_side_t  NOT NULL,
    level           UINTEGER     NOT NULL,
    price_mant      BIGINT       NOT NULL,
    price_scale     UTINYINT     NOT NULL,
    qty_mant        BIGINT       NOT NULL,
    qty_scale       UTINYINT     NOT NULL,
    price           DOUBLE       GENERATED ALWAYS AS
                        (price_mant / pow(10, price_scale)) VIRTUAL,
    qty             DOUBLE       GENERATED ALWAYS AS
                        (qty_mant / pow(10, qty_scale)) VIRTUAL,
    epoch           UBIGINT      NOT NULL,
    seq             UBIGINT      NOT NULL,
    idx             UINTEGER     NOT NULL,
    parser_version  USMALLINT    NOT NULL
);

-- One row per book status event: the resync markers.
CREATE TABLE book_status (
    venue           VARCHAR      NOT NULL,
    symbol          VARCHAR      NOT NULL,
    state           VARCHAR      NOT NULL,
    reason          VARCHAR,
    book_seq        UBIGINT      NOT NULL,
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

CREATE TABLE bbo (
    venue           VARCHAR      NOT NULL,
    symbol          VARCHAR      NOT NULL,
    bid_price_mant  BIGINT       NOT NULL,
    bid_price_scale UTINYINT     NOT NULL,
    bid_qty_mant    BIGINT       NOT NULL,
    bid_qty_scale   UTINYINT     NOT NULL,
    ask_price_mant  BIGINT       NOT NULL,
    ask_price_scale UTINYINT     NOT NULL,
    ask_qty_mant    BIGINT       NOT NULL,
    ask_qty_scale   UTINYINT     NOT NULL,
    bid_price       DOUBLE       GENERATED ALWAYS AS
                        (bid_price_mant / pow(10, bid_price_scale)) VIRTUAL,
    bid_qty         DOUBLE       GENERATED ALWAYS AS
                        (bid_qty_mant / pow(10, bid_qty_scale)) VIRTUAL,
    ask_price       DOUBLE       GENERATED ALWAYS AS
                        (ask_price_mant / pow(10, ask_price_scale)) VIRTUAL,
    ask_qty         DOUBLE       GENERATED ALWAYS AS
                        (ask_qty_mant / pow(10, ask_qty_scale)) VIRTUAL,
    update_id       UBIGINT,
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

-- One row per event id (venue, symbol, epoch, seq, idx): the newest parser_version.
CREATE VIEW book_updates_v AS
SELECT * FROM book_updates
QUALIFY row_number() OVER (
    PARTITION BY venue, symbol, epoch, seq, idx
    ORDER BY parser_version DESC) = 1;

CREATE VIEW book_status_v AS
SELECT * FROM book_status
QUALIFY row_number() OVER (
    PARTITION BY venue, symbol, epoch, seq, idx
    ORDER BY parser_version DESC) = 1;

CREATE VIEW bbo_v AS
SELECT * FROM bbo
QUALIFY row_number() OVER (
    PARTITION BY venue, symbol, epoch, seq, idx
    ORDER BY parser_version DESC) = 1;

-- book_at(venue, symbol, ts, depth): the book of one instrument as of receive time ts (a
-- TIMESTAMP / TIMESTAMP_NS), rebuilt from the store alone. Of the parser versions, the one
-- with the latest book message received at or before ts is used (the newest on ties), so a
-- re-normalized range is read in its new version and the rest in the old; of that version,
-- the latest snapshot received at or before ts, then the deltas received after it up to ts,
-- in book_seq order, stopping at the first break of the sequence; a level takes the
-- quantity of the last message that carried its price (prices compared by value, whatever
-- their scale), quantity 0 deletes it. Returns the best `depth` levels per side (all when
-- depth <= 0 or NULL), bids then asks, best first. valid is false when the latest
-- book_status at or before ts (of that parser version) is 'invalid', or when the deltas
-- after the snapshot are not contiguous. No rows: no snapshot at or before ts (or an empty
-- book). lookback (an INTERVAL, named: lookback := INTERVAL 1 HOUR) bounds the scans of
-- book_updates and book_levels to receive times in [ts - lookback, ts]: the snapshot must
-- lie in that window. SCHEMA.md spells out the same SQL with literals.
CREATE MACRO book_at(at_venue, at_symbol, at_ts, max_levels, lookback := NULL) AS TABLE
WITH ver AS (
    SELECT v.parser_version
    FROM book_updates v
    WHERE v.venue = at_venue AND v.symbol = at_symbol
      AND v.recv_time <= CAST(at_ts AS TIMESTAMP_NS)
      AND (lookback IS NULL OR v.recv_time >= CAST(at_ts AS TIMESTAMP_NS) - lookback)
    ORDER BY v.recv_time DESC, v.parser_version DESC
    LIMIT 1
), snap AS (
    SELECT s.parser_version, s.recv_time, s.book_seq
    FROM book_updates s JOIN ver ON s.parser_version = ver.parser_version
    WHERE s.venue = at_venue AND s.symbol = at_symbol AND s.is_snapshot
      AND s.recv_time <= CAST(at_ts AS TIMESTAMP_NS)
      AND (lookback IS NULL OR s.recv_time >= CAST(at_ts AS TIMESTAMP_NS) - lookback)
    ORDER BY s.recv_time DESC, s.epoch DESC, s.seq DESC, s.idx DESC
    LIMIT 1
), msgs AS (
    SELECT u.parser_version, u.recv_time, u.epoch, u.seq, u.idx, u.book_seq, u.depth,
           u.book_seq - sn.book_seq = row_number() OVER (
               ORDER BY u.book_seq, u.epoch, u.seq, u.idx) - 1 AS in_chain
    FROM book_updates u JOIN snap sn ON u.parser_version = sn.parser_version
    WHERE u.venue = at_venue AND u.symbol = at_symbol
      AND u.recv_time >= sn.recv_time AND u.recv_time <= CAST(at_ts AS TIMESTAMP_NS)
      AND (lookback IS NULL OR u.recv_time >= CAST(at_ts AS TIMESTAMP_NS) - lookback)
      AND u.book_seq >= sn.book_seq
), head AS (
    SELECT max(m.book_seq) FILTER (WHERE m.in_chain) AS book_seq,
           arg_max(m.recv_time, m.book_seq) FILTER (WHERE m.in_chain) AS as_of,
           arg_max(m.depth, m.book_seq) FILTER (WHERE m.in_chain) AS known_depth,
           bool_and(m.in_chain) AS contiguous
    FROM msgs m
), status AS (
    SELECT st.state
    FROM book_status st JOIN snap sn ON st.parser_version = sn.parser_version
    WHERE st.venue = at_venue AND st.symbol = at_symbol
      AND st.recv_time <= CAST(at_ts AS TIMESTAMP_NS)
    ORDER BY st.recv_time DESC, st.epoch DESC, st.seq DESC, st.idx DESC
    LIMIT 1
), lv AS (
    SELECT l.side, l.level, l.book_seq, l.price_mant, l.price_scale, l.qty_mant, l.qty_scale,
           CAST(l.price_mant AS HUGEINT) * CAST(pow(10, 18 - l.price_scale) AS HUGEINT)
               AS price_key
    FROM book_levels l JOIN msgs m
      ON l.recv_time = m.recv_time AND l.parser_version = m.parser_version
     AND l.epoch = m.epoch AND l.seq = m.seq AND l.idx = m.idx
    WHERE l.venue = at_venue AND l.symbol = at_symbol
      AND l.recv_time <= CAST(at_ts AS TIMESTAMP_NS)
      AND (lookback IS NULL OR l.recv_time >= CAST(at_ts AS TIMESTAMP_NS) - lookback)
      AND m.in_chain
), book AS (
    SELECT lv.side, lv.price_key, lv.price_mant, lv.price_scale, lv.qty_mant, lv.qty_scale
    FROM lv
    QUALIFY row_number() OVER (
        PARTITION BY lv.side, lv.price_key ORDER BY lv.book_seq DESC, lv.level DESC) = 1
), ranked AS (
    SELECT b.side,
           row_number() OVER (PARTITION BY b.side ORDER BY
               CASE WHEN b.side = 'bid' THEN -b.price_key ELSE b.price_key END) AS level,
           b.price_mant, b.price_scale, b.qty_mant, b.qty_scale
    FROM book b
    WHERE b.qty_mant <> 0
)
SELECT r.side, r.level,
       r.price_mant / pow(10, r.price_scale) AS price,
       r.qty_mant / pow(10, r.qty_scale) AS qty,
       r.price_mant, r.price_scale, r.qty_mant, r.qty_scale,
       h.book_seq, sn.book_seq AS snapshot_seq, h.as_of, h.known_depth,
       h.contiguous AND coalesce((SELECT s.state FROM status s) = 'valid', true) AS valid,
       sn.parser_version
FROM ranked r, head h, snap sn
WHERE max_levels IS NULL OR max_levels <= 0 OR r.level <= max_levels
ORDER BY r.side, r.level;
