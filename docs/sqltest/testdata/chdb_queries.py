#!/usr/bin/env python3
"""Runs the modern-ClickHouse queries of docs/sql.md on a current ClickHouse engine (chdb).

The only ClickHouse server on tickflow's machines is 18.16 (legacy dialect). The Go test
(docs/sqltest, TestIntegrationClickHouseModernQueries) writes the generated market into an
18.16 database through the store's Write, then runs this script, which:

1. applies sink/clickhouse/migrations/modern/*.sql in a chdb session (the real modern DDL);
2. copies every table both dialects have from the 18.16 server over its HTTP interface,
   turning each legacy `<x>_ns` Int64 column into the modern `<x>_time` DateTime64(9, 'UTC')
   column (the rows the 18.16 store wrote, coverage included);
3. runs each query of the JSON file given and prints one JSON object:
   {"version": "...", "results": {name: {"columns": [...], "rows": [[...]]} | {"error": "..."}}}

usage: chdb_queries.py <http base url> <legacy database> <migrations dir> <queries.json> [--time]

With --time each query is run three times as SELECT count() FROM (<query>) and its result
is {"rows": count, "best_ms": ..., "median_ms": ...} (TestIntegrationTiming); the output
also holds the bytes on disk of each copied table.
"""

import glob
import json
import os
import re
import sys
import tempfile
import time
import urllib.parse

from chdb import session as chs


def statements(text):
    """Splits a migration the way migrate.go does: comment lines dropped, ';' at line end."""
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    return [p.strip() for p in re.split(r";[ \t]*(?:\n|$)", body) if p.strip()]


def main():
    base, legacy_db, migrations, queries_path = sys.argv[1:5]
    timing = "--time" in sys.argv[5:]
    sess = chs.Session(tempfile.mkdtemp(prefix="tickflow-sqltest-"))

    def q(sql, fmt="TabSeparated"):
        return sess.query(sql, fmt).bytes().decode()

    def legacy(sql):
        return base + "/?" + urllib.parse.urlencode({"query": sql})

    def remote_rows(sql):
        out = q(f"SELECT * FROM url('{legacy(sql + ' FORMAT TSV')}', TSV, 'a String, b String')")
        return [l.split("\t") for l in out.strip("\n").split("\n") if l]

    q("CREATE DATABASE IF NOT EXISTS tickflow")
    q("USE tickflow")
    for f in sorted(glob.glob(os.path.join(migrations, "*.sql"))):
        for st in statements(open(f).read()):
            q(st)

    modern_tables = [r[0] for r in (l.split("\t") for l in q(
        "SELECT name FROM system.tables WHERE database = 'tickflow' AND engine LIKE '%MergeTree'"
    ).strip("\n").split("\n")) if r[0]]
    legacy_cols = {}
    for table, col in remote_rows(
            f"SELECT table, name FROM system.columns WHERE database = '{legacy_db}' "
            f"AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')"):
        legacy_cols.setdefault(table, set()).add(col)
    # Tables a materialized view writes to (candles) are filled by their views as the
    # source rows are inserted: not copied.
    mv_targets = set()
    for l in q("SELECT create_table_query FROM system.tables WHERE database = 'tickflow' "
               "AND engine = 'MaterializedView'").split("\n"):
        m = re.search(r"\bTO\s+(?:tickflow\.)?`?(\w+)`?", l.replace("\\n", " "))
        if m:
            mv_targets.add(m.group(1))
    copied = {}
    for table in modern_tables:
        if table not in legacy_cols or table in mv_targets:
            continue
        if "TTL" in q(f"SELECT engine_full FROM system.tables WHERE database = 'tickflow' "
                      f"AND name = '{table}'"):
            # The generated market is dated 2026-01-01: older than a TTL (book_snapshots,
            # 90 days) counted from today, so the rows would be dropped as they arrive.
            q(f"ALTER TABLE {table} REMOVE TTL")
        cols = [l for l in q(
            f"SELECT name FROM system.columns WHERE database = 'tickflow' AND table = '{table}' "
            "AND default_kind NOT IN ('MATERIALIZED', 'ALIAS') ORDER BY position"
        ).strip("\n").split("\n") if l]
        src, exprs = [], []
        for c in cols:
            if c in legacy_cols[table]:
                src.append(c)
                exprs.append(c)
            elif c.endswith("_time") and c[:-5] + "_ns" in legacy_cols[table]:
                src.append(c[:-5] + "_ns")
                exprs.append(f"fromUnixTimestamp64Nano({c[:-5]}_ns, 'UTC')")
            else:
                raise SystemExit(f"{table}.{c}: no legacy column to copy it from")
        sel = f"SELECT {', '.join(src)} FROM {legacy_db}.{table} FORMAT TSVWithNamesAndTypes"
        q(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} "
          f"FROM url('{legacy(sel)}', TSVWithNamesAndTypes) "
          "SETTINGS use_structure_from_insertion_table_in_table_functions = 0")
        copied[table] = int(q(f"SELECT count() FROM {table}").strip())

    q("OPTIMIZE TABLE trades FINAL")  # one part per partition, as a settled store has
    sizes = {}
    for l in q("SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = 'tickflow' "
               "AND active GROUP BY table").strip("\n").split("\n"):
        if l:
            t, b = l.split("\t")
            sizes[t] = int(b)
    results = {}
    for name, sql in json.load(open(queries_path)).items():
        if timing:
            try:
                times, n = [], 0
                for _ in range(3):
                    start = time.monotonic()
                    n = int(q(f"SELECT count() FROM ({sql})").strip())
                    times.append((time.monotonic() - start) * 1000)
                times.sort()
                results[name] = {"rows": n, "best_ms": times[0], "median_ms": times[1]}
            except Exception as e:  # noqa: BLE001
                results[name] = {"error": str(e)}
            continue
        try:
            out = json.loads(q(sql, "JSONCompact"))
            results[name] = {"columns": [m["name"] for m in out["meta"]], "rows": out["data"]}
        except Exception as e:  # noqa: BLE001 - reported per query to the Go test
            results[name] = {"error": str(e)}
    json.dump({"version": q("SELECT version()").strip(), "copied": copied, "bytes": sizes,
               "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
