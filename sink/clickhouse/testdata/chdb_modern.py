#!/usr/bin/env python3
"""Checks the modern-dialect migrations of sink/clickhouse on a current ClickHouse engine.

The only ClickHouse server obtainable on tickflow's machines is Debian's 18.16, which cannot
run the modern DDL (DateTime64, LowCardinality, codecs, TTL, parameterized views). chdb
(PyPI) is the current ClickHouse engine in-process: this script applies every
migrations/modern/*.sql file in order, twice (migrations must be idempotent), on a session
database, then writes rows the way the Go sink does and reads them back through the
documented views.

Run by TestIntegrationModernDDLWithChdb (go test -tags integration ./sink/clickhouse/) when
python3 can import chdb; by hand: python3 sink/clickhouse/testdata/chdb_modern.py
Prints "N passed, 0 failed" and exits 0 on success.
"""

import glob
import os
import re
import sys
import tempfile

try:
    import chdb
    from chdb import session as chs
except ImportError:  # the Go test checks for chdb before running this
    print("chdb is not installed (pip install chdb)", file=sys.stderr)
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "migrations", "modern")


def statements(text):
    """Splits a migration the way migrate.go does: comment lines dropped, ';' at line end."""
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    out = []
    for part in re.split(r";[ \t]*(?:\n|$)", body):
        part = part.strip()
        if part:
            out.append(part)
    return out


passed = 0
failures = []


def check(name, got, want):
    global passed
    if got == want:
        passed += 1
    else:
        failures.append(f"{name}: got {got!r}, want {want!r}")


def main():
    tmp = tempfile.mkdtemp(prefix="tickflow-chdb-")
    sess = chs.Session(tmp)

    def q(sql, fmt="TabSeparated"):
        return sess.query(sql, fmt).bytes().decode()

    def rows(sql):
        out = q(sql).strip("\n")
        out = out.replace("\\'", "'")  # TSV escapes quotes
        return [] if out == "" else [line.split("\t") for line in out.split("\n")]

    version = q("SELECT version()").strip()
    q("CREATE DATABASE IF NOT EXISTS tickflow")
    q("USE tickflow")
    files = sorted(glob.glob(os.path.join(MIGRATIONS, "*.sql")))
    check("migration files", len(files) > 0, True)
    for f in files:
        for rnd in range(2):  # running each migration twice proves it can run again when interrupted
            for st in statements(open(f).read()):
                try:
                    q(st)
                except Exception as e:  # noqa: BLE001 - report which statement failed
                    failures.append(f"{os.path.basename(f)} round {rnd}: {st[:80]!r}: {e}")
                    report(version)
                    return

    tables = {r[0] for r in rows("SELECT name FROM system.tables WHERE database = 'tickflow'")}
    for t in ["trades", "integrity", "coverage", "offsets", "book_updates", "book_snapshots",
              "bbo", "funding", "open_interest", "liquidations", "instruments", "trades_v",
              "trades_range", "integrity_v", "coverage_v", "coverage_gaps", "watermarks",
              "offsets_v", "instruments_v", "book_status", "book_levels", "book_updates_v",
              "book_status_v", "book_snapshots_v", "bbo_v", "funding_v", "open_interest_v",
              "liquidations_v", "candles", "candles_feed", "candles_feed_mv", "candles_mv",
              "candles_1s_v", "candles_1m_v", "candles_1h_v"]:
        check(f"table {t} exists", t in tables, True)

    types = dict(rows("SELECT name, type FROM system.columns WHERE database = 'tickflow' "
                      "AND table = 'trades'"))
    check("trades.recv_time type", types.get("recv_time"), "DateTime64(9, 'UTC')")
    check("trades.exch_time type", types.get("exch_time"), "Nullable(DateTime64(9, 'UTC'))")
    check("trades.venue type", types.get("venue"), "LowCardinality(String)")
    codecs = dict(rows("SELECT name, compression_codec FROM system.columns WHERE "
                       "database = 'tickflow' AND table = 'trades'"))
    check("trades.recv_time codec", codecs.get("recv_time"), "CODEC(DoubleDelta, ZSTD(1))")
    ttl = q("SELECT engine_full FROM system.tables WHERE database = 'tickflow' "
            "AND name = 'book_snapshots'")
    check("book_snapshots TTL", "TTL" in ttl, True)

    # The Go writer's INSERT column lists (passed as table=col,col,... arguments by the Go
    # test) name exactly the insertable columns of each table.
    sqls = {}
    for arg in sys.argv[1:]:
        if arg.startswith("sql:"):
            name, _, sql = arg[4:].partition("=")
            sqls[name] = sql
            continue
        table, _, cols = arg.partition("=")
        have = sorted(r[0] for r in rows(
            "SELECT name FROM system.columns WHERE database = 'tickflow' AND table = '%s' "
            "AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')" % table))
        check(f"insert columns of {table}", sorted(cols.split(",")), have)

    # Trades as the sink writes them: the batch of one day in one INSERT (one part), the next
    # day in another. Row 3 is a re-normalized copy of trade 100 (parser_version 2); row 4 a
    # redundant capture of trade 101 with a later provenance.
    cols = ("venue, symbol, trade_id_num, trade_id_text, price_mant, price_scale, qty_mant, "
            "qty_scale, side, exch_time, send_time, recv_time, clock_offset_ns, epoch, seq, idx, "
            "source, parser_version")
    day1 = 1767225600  # 2026-01-01T00:00:00Z
    q(f"INSERT INTO trades ({cols}) VALUES "
      f"('binance','BTC-USDT',100,'',6500012,2,1500,5,'buy',NULL,"
      f"fromUnixTimestamp64Nano(toInt64({day1}000000005)),"
      f"fromUnixTimestamp64Nano(toInt64({day1}000000100)),-7,1,1,0,'live',1),"
      f"('binance','BTC-USDT',101,'',6500013,2,1500,5,'sell',NULL,NULL,"
      f"fromUnixTimestamp64Nano(toInt64({day1}000001100)),0,1,2,0,'live',1),"
      f"('binance','BTC-USDT',100,'',6500012,2,1500,5,'buy',NULL,NULL,"
      f"fromUnixTimestamp64Nano(toInt64({day1}000002100)),0,1,1,0,'reimport',2),"
      f"('binance','BTC-USDT',101,'',6500013,2,1500,5,'sell',NULL,NULL,"
      f"fromUnixTimestamp64Nano(toInt64({day1}000003100)),0,2,1,0,'live',1)")
    q(f"INSERT INTO trades ({cols}) VALUES "
      f"('bybit','BTC-USDT-PERP',0,'9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d',6500014,2,1,3,'buy',"
      f"NULL,NULL,fromUnixTimestamp64Nano(toInt64({day1 + 86400}000000100)),0,1,3,0,'live',1)")
    parts = rows("SELECT partition, count() FROM system.parts WHERE database = 'tickflow' "
                 "AND table = 'trades' AND active GROUP BY partition ORDER BY partition")
    check("trades parts per day", parts, [["20260101", "1"], ["20260102", "1"]])
    check("price materialized", rows("SELECT price, qty FROM trades WHERE epoch = 1 AND seq = 1 "
                                     "AND parser_version = 1"), [["65000.12", "0.015"]])
    check("trade_id alias", rows("SELECT trade_id FROM trades ORDER BY recv_time"),
          [["100"], ["101"], ["100"], ["101"], ["9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"]])
    check("trades_v newest version, earliest capture",
          rows("SELECT trade_id, parser_version, epoch, seq FROM trades_v ORDER BY venue, trade_id"),
          [["100", "2", "1", "1"], ["101", "1", "1", "2"],
           ["9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "1", "1", "3"]])
    check("trades_range", rows(
        "SELECT count() FROM trades_range(from_ts = '2026-01-01 00:00:00', "
        "to_ts = '2026-01-02 00:00:00')"), [["2"]])
    check("nanoseconds kept", rows(
        "SELECT toUnixTimestamp64Nano(recv_time), toUnixTimestamp64Nano(send_time) "
        "FROM trades WHERE epoch = 1 AND seq = 1 AND parser_version = 1"),
        [[f"{day1}000000100", f"{day1}000000005"]])
    check("watermarks", rows("SELECT venue, symbol, kind, parser_version, epoch, seq, idx "
                             "FROM watermarks ORDER BY venue, parser_version"),
          [["binance", "BTC-USDT", "trade", "1", "2", "1", "0"],
           ["binance", "BTC-USDT", "trade", "2", "1", "1", "0"],
           ["bybit", "BTC-USDT-PERP", "trade", "1", "1", "3", "0"]])

    # Integrity rows and coverage pieces: a gap [10, 20] split by a backfill of [12, 15].
    q("INSERT INTO integrity (venue, symbol, type, stream, from_time, to_time, first_id, last_id, "
      "count, exch_time, send_time, recv_time, clock_offset_ns, epoch, seq, idx, source, "
      "parser_version) VALUES ('binance','BTC-USDT','gap','trade',NULL,NULL,10,20,11,NULL,NULL,"
      f"fromUnixTimestamp64Nano(toInt64({day1}000005000)),0,1,5,0,'live',1)")
    ccols = ("venue, symbol, stream, reason, status, from_time, to_time, first_id, last_id, "
             "epoch, seq, idx, parser_version, repaired_epoch, repaired_seq, repaired_idx, "
             "repaired_time, version")
    q(f"INSERT INTO coverage ({ccols}) VALUES ('binance','BTC-USDT','trade','gap','gap',NULL,NULL,"
      "10,20,1,5,0,1,NULL,NULL,NULL,NULL,1)")
    q(f"INSERT INTO coverage ({ccols}) VALUES "
      "('binance','BTC-USDT','trade','gap','gap',NULL,NULL,10,11,1,5,0,1,NULL,NULL,NULL,NULL,2),"
      "('binance','BTC-USDT','trade','gap','backfilled',NULL,NULL,12,15,1,5,0,1,1,9,0,"
      f"fromUnixTimestamp64Nano(toInt64({day1}000009000)),2),"
      "('binance','BTC-USDT','trade','gap','gap',NULL,NULL,16,20,1,5,0,1,NULL,NULL,NULL,NULL,2)")
    check("coverage_gaps after split", rows(
        "SELECT first_id, last_id FROM coverage_gaps ORDER BY first_id"), [["10", "11"], ["16", "20"]])
    check("coverage_v pieces", rows(
        "SELECT first_id, last_id, status FROM coverage_v ORDER BY first_id"),
        [["10", "11", "gap"], ["12", "15", "backfilled"], ["16", "20", "gap"]])
    check("integrity watermark", rows("SELECT seq FROM watermarks WHERE kind = 'integrity'"), [["5"]])

    # Offsets: the newest version wins, with or without merges.
    q("INSERT INTO offsets VALUES ('tickflow.md.trades', 0, 10, 1, 0)")
    q("INSERT INTO offsets VALUES ('tickflow.md.trades', 0, 25, 2, 0), ('tickflow.md.trades', 1, 7, 2, 0)")
    check("offsets_v", rows("SELECT topic, partition, next_offset FROM offsets_v ORDER BY partition"),
          [["tickflow.md.trades", "0", "25"], ["tickflow.md.trades", "1", "7"]])

    # Candles: the views counted every trades row (the redundant capture of 101 twice); the
    # newest parser version of the bucket (2) holds only the re-normalized trade 100.
    check("candles_1m_v before rebuild", rows(
        "SELECT symbol, toString(bucket), parser_version, trades, open FROM candles_1m_v "
        "WHERE venue = 'binance'"), [["BTC-USDT", "2026-01-01 00:00:00", "2", "1", "65000.12"]])
    # Every interval is merged from the 1-second states of candles_feed (migration 0003).
    for iv in [1, 60, 3600]:
        check(f"candles interval {iv} pv 1 rows counted", rows(
            f"SELECT countMerge(trades) FROM candles WHERE interval_s = {iv} AND venue = 'binance' "
            "AND parser_version = 1"), [["3"]])
    check("candles_1h_v before rebuild", rows(
        "SELECT symbol, toString(bucket), parser_version, trades, open FROM candles_1h_v "
        "WHERE venue = 'binance'"), [["BTC-USDT", "2026-01-01 00:00:00", "2", "1", "65000.12"]])
    check("candles_feed stores nothing", rows("SELECT count() FROM candles_feed"), [["0"]])
    if "rebuild_1m" in sqls:  # the Go writer's rebuild statement (candles.go)
        q("ALTER TABLE candles DELETE WHERE interval_s = 60 AND bucket >= toDateTime(%d, 'UTC') "
          "AND bucket < toDateTime(%d, 'UTC') SETTINGS mutations_sync = 1" % (day1, day1 + 60))
        q(sqls["rebuild_1m"])
        # trade 101 (received at +1100 ns, no exchange time) opens, trade 100 v2 (+2100) closes
        check("candles_1m_v after rebuild", rows(
            "SELECT parser_version, trades, open, close, high, low, volume FROM candles_1m_v "
            "WHERE venue = 'binance'"),
            [["2", "2", "65000.13", "65000.12", "65000.13", "65000.12", "0.03"]])
        # An INSERT straight into candles reaches no view: the other intervals are unchanged.
        check("1h bars after rebuilding 1m", rows(
            "SELECT countMerge(trades) FROM candles WHERE interval_s = 3600 AND venue = 'binance'"),
            [["4"]])
    else:
        failures.append("the Go test passes sql:rebuild_1m")
    if "rebuild_all" in sqls:  # what Open runs after migration 0003, one day per INSERT
        q("ALTER TABLE candles DELETE WHERE 1 SETTINGS mutations_sync = 1")
        q(sqls["rebuild_all"])
        for iv in ["1s", "1m", "1h"]:
            check(f"candles_{iv}_v after rebuilding every interval", rows(
                f"SELECT sum(trades), max(parser_version) FROM candles_{iv}_v WHERE venue = 'binance'"),
                [["2", "2"]])
        check("1h bar after rebuilding every interval", rows(
            "SELECT parser_version, trades, open, close, high, low, volume FROM candles_1h_v "
            "WHERE venue = 'binance'"),
            [["2", "2", "65000.13", "65000.12", "65000.13", "65000.12", "0.03"]])
    else:
        failures.append("the Go test passes sql:rebuild_all")

    # Book rows as the sink writes them; book_levels unnests them.
    bcols = ("venue, symbol, is_snapshot, book_seq, book_prev_seq, first_id, last_id, depth, "
             "price_scale, qty_scale, bid_price_mant, bid_qty_mant, ask_price_mant, ask_qty_mant, "
             "exch_time, send_time, recv_time, clock_offset_ns, epoch, seq, idx, source, "
             "parser_version")
    q(f"INSERT INTO book_updates ({bcols}) VALUES "
      f"('binance','BTC-USDT',1,1,0,10,10,2,2,5,[6500012,6500011],[1500,2000],[6500013],[1],"
      f"NULL,NULL,fromUnixTimestamp64Nano(toInt64({day1}000000100)),0,1,1,0,'live',1),"
      f"('binance','BTC-USDT',0,2,1,11,12,2,2,5,[6500011],[0],[6500014],[7],"
      f"NULL,NULL,fromUnixTimestamp64Nano(toInt64({day1}000000200)),0,1,2,0,'live',1)")
    check("book_levels", rows("SELECT book_seq, side, level, price, qty FROM book_levels "
                              "ORDER BY book_seq, side, level"),
          [["1", "ask", "1", "65000.13", "0.00001"], ["1", "bid", "1", "65000.12", "0.015"],
           ["1", "bid", "2", "65000.11", "0.02"], ["2", "ask", "1", "65000.14", "0.00007"],
           ["2", "bid", "1", "65000.11", "0"]])
    if "book_levels_at" in sqls:  # BookAt's level query (bookat.go) as of book_seq 2
        check("BookAt levels", rows(sqls["book_levels_at"]),
              [["0", "6500012", "1500", "5"], ["1", "6500013", "1", "5"],
               ["1", "6500014", "7", "5"]])
    else:
        failures.append("the Go test passes sql:book_levels_at")
    check("book watermark", rows("SELECT seq FROM watermarks WHERE kind = 'book'"), [["2"]])

    q("INSERT INTO instruments (venue, native, symbol, kind, base, quote, tick_mant, tick_scale, "
      "lot_mant, lot_scale, status, valid_from_time, recorded_time) VALUES ('binance','BTCUSDT',"
      "'BTC-USDT','spot','BTC','USDT',1,2,1,5,'listed',fromUnixTimestamp64Nano(toInt64(0)),"
      "fromUnixTimestamp64Nano(toInt64(1)))")
    check("instruments_v row", rows("SELECT symbol, kind FROM instruments_v"), [["BTC-USDT", "spot"]])
    report(version)


def report(version):
    for f in failures:
        print("FAIL:", f)
    print(f"chdb engine {version}")
    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
