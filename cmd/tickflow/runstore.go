package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/clickhouse"
	"github.com/tickflow/tickflow/sink/duckdb"
)

// runStoreMemoryLimit is DuckDB's memory limit in `tickflow run`: its buffer pool keeps
// recently written blocks up to the limit, so the limit is where the process's RSS levels off
// (measured in BENCHMARKS.md); queries share it.
const runStoreMemoryLimit = "1GB"

// openRunStore opens the store of `tickflow run`: ClickHouse when dsn is set, else the
// embedded DuckDB file at path. duck is the DuckDB store (for /query), nil for ClickHouse.
func openRunStore(ctx context.Context, dsn, path string, threads int) (store sink.Store, duck *duckdb.Store, err error) {
	if dsn != "" {
		cfg, err := clickhouse.ParseDSN(dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("--clickhouse-dsn: %w (want clickhouse://[user[:password]@]host:9000[/database])", err)
		}
		ch, err := clickhouse.Open(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (is ClickHouse running at %s?)", err, cfg.Addr)
		}
		return ch, nil, nil
	}
	d, err := duckdb.Open(ctx, duckdb.Config{Path: path, Threads: threads, MemoryLimit: runStoreMemoryLimit})
	if err != nil {
		return nil, nil, err
	}
	return d, d, nil
}

// sqlHint is the startup line telling where to query the store.
func sqlHint(dsn, dataDir string) string {
	if dsn != "" {
		return "clickhouse-client (the store is ClickHouse: " + redactDSN(dsn) + ")"
	}
	return "tickflow sql --data-dir " + dataDir + " \"SELECT count(*) FROM trades\""
}

// redactDSN hides a password in a DSN for printing.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "clickhouse"
	}
	return u.Redacted()
}
