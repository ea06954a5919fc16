-- 0003: views for re-normalized history (tickflow renormalize, ADR 0010). Documented in
-- SCHEMA.md. Never edit after release: add a new migration.
--
-- 0001/0002 define the per-table *_v views (newest parser_version per event id). These add
-- the levels of the newest version of each book message, and a summary of what each parser
-- version stored, so a re-normalization can be checked before and after.

-- One row per level of the newest parser_version of each book message (venue, symbol,
-- epoch, seq, idx): the levels of book_updates_v.
CREATE VIEW book_levels_v AS
SELECT l.*
FROM book_levels l
JOIN (
    SELECT venue, symbol, epoch, seq, idx, max(parser_version) AS parser_version
    FROM book_updates
    GROUP BY ALL
) n USING (venue, symbol, epoch, seq, idx, parser_version);

-- Per venue, kind and parser version: rows stored, how many are the newest version of their
-- event id (what the *_v views show), and the receive-time range they cover.
CREATE VIEW parser_versions AS
WITH rows AS (
    SELECT 'trade' AS kind, venue, parser_version, recv_time,
           row_number() OVER (PARTITION BY venue, symbol, trade_id_num, trade_id_text
                              ORDER BY parser_version DESC, epoch, seq, idx) = 1 AS newest
    FROM trades
    UNION ALL
    SELECT 'integrity', venue, parser_version, recv_time,
           parser_version = max(parser_version) OVER (PARTITION BY venue, symbol, epoch, seq, idx)
    FROM integrity
    UNION ALL
    SELECT 'book', venue, parser_version, recv_time,
           parser_version = max(parser_version) OVER (PARTITION BY venue, symbol, epoch, seq, idx)
    FROM book_updates
    UNION ALL
    SELECT 'book_status', venue, parser_version, recv_time,
           parser_version = max(parser_version) OVER (PARTITION BY venue, symbol, epoch, seq, idx)
    FROM book_status
    UNION ALL
    SELECT 'bbo', venue, parser_version, recv_time,
           parser_version = max(parser_version) OVER (PARTITION BY venue, symbol, epoch, seq, idx)
    FROM bbo
)
SELECT venue, kind, parser_version, count(*) AS rows, count(*) FILTER (WHERE newest) AS newest_rows,
       min(recv_time) AS from_time, max(recv_time) AS to_time
FROM rows
GROUP BY venue, kind, parser_version;
