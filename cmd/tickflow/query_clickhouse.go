package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/tickflow/tickflow/sink/clickhouse"
)

// clickhouseQuery runs queries on a ClickHouse store through its read-only Querier
// (statement guard, readonly=1, limits).
func clickhouseQuery(q *clickhouse.Querier) queryFunc {
	return func(ctx context.Context, text string) (queryResult, []string, [][]any, error) {
		rows, err := q.Query(ctx, text)
		if err != nil {
			return nil, nil, nil, err
		}
		return rows, rows.Columns, rows.Values, nil
	}
}

// clickhouseQueryHandler serves /query (GET or POST, format=csv|json|parquet, token auth)
// on the ClickHouse store of dsn (`tickflow run --clickhouse-dsn`), read-only: the
// Querier's statement guard and readonly=1 on the server. The connection is opened at the
// first query (and again after a failure to connect), so a ClickHouse that is down does not
// stop the pipeline from starting.
func clickhouseQueryHandler(dsn string, tokens []string) http.Handler {
	cfg, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "--clickhouse-dsn: "+err.Error(), http.StatusServiceUnavailable)
		})
	}
	l := &lazyQuerier{cfg: cfg}
	return serveQuery(func(ctx context.Context, q string) (queryResult, []string, [][]any, error) {
		querier, err := l.get(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		return clickhouseQuery(querier)(ctx, q)
	}, tokens)
}

// lazyQuerier opens a ClickHouse Querier at first use. Safe for concurrent use.
type lazyQuerier struct {
	cfg clickhouse.Config
	mu  sync.Mutex
	q   *clickhouse.Querier
}

func (l *lazyQuerier) get(ctx context.Context) (*clickhouse.Querier, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.q != nil {
		return l.q, nil
	}
	q, err := clickhouse.OpenQuerier(ctx, l.cfg, clickhouse.QueryConfig{})
	if err != nil {
		return nil, fmt.Errorf("query store: %w", err)
	}
	l.q = q
	return q, nil
}
