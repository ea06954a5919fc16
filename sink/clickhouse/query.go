package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ErrQueryRefused is returned (wrapped, with the reason) by [Querier.Query] for a statement
// the read-only query endpoint does not run.
var ErrQueryRefused = errors.New("clickhouse: query refused")

// Defaults of [QueryConfig]; the zero value of a field means its default.
const (
	DefaultQueryTimeout   = 30 * time.Second
	DefaultQueryMaxRows   = 100000
	DefaultQueryMaxMemory = 2 << 30
)

// QueryConfig bounds the queries of a [Querier].
type QueryConfig struct {
	// Timeout bounds each query, on the client and on the server (max_execution_time).
	// Default 30s.
	Timeout time.Duration
	// MaxRows caps the rows one query returns; further rows are not read and
	// Rows.Truncated is set. Default 100000.
	MaxRows int
	// MaxMemory is the server's max_memory_usage for one query, in bytes. Default 2 GiB.
	MaxMemory int64
}

func (c QueryConfig) withDefaults() QueryConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultQueryTimeout
	}
	if c.MaxRows <= 0 {
		c.MaxRows = DefaultQueryMaxRows
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = DefaultQueryMaxMemory
	}
	return c
}

// Querier runs untrusted read-only SQL against a store's database: the ClickHouse side of
// `tickflow sql --clickhouse-dsn` and of the HTTP query endpoint. It never creates or
// migrates anything, so it can use a server account that may only read. Safe for
// concurrent use.
type Querier struct {
	cfg  Config
	qc   QueryConfig
	conn driver.Conn
}

// OpenQuerier connects to the server and database of cfg (Addr, Database, Username,
// Password, DialTimeout; see [ParseDSN]) and checks the database exists. It creates
// nothing.
func OpenQuerier(ctx context.Context, cfg Config, qc QueryConfig) (*Querier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	qc = qc.withDefaults()
	conn, err := ch.Open(&ch.Options{
		Addr:         []string{cfg.Addr},
		Auth:         ch.Auth{Database: cfg.Database, Username: cfg.Username, Password: cfg.Password},
		DialTimeout:  cfg.DialTimeout,
		DialContext:  cfg.dial,
		ReadTimeout:  qc.Timeout + 5*time.Second,
		MaxOpenConns: 8,
		MaxIdleConns: 2,
		ClientInfo: ch.ClientInfo{Products: []struct{ Name, Version string }{
			{Name: "tickflow-query", Version: "1"}}},
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: connect %s: %w", cfg.Addr, err)
	}
	q := &Querier{cfg: cfg, qc: qc, conn: conn}
	var n uint64
	if err := conn.QueryRow(q.settings(ctx), "SELECT count() FROM system.databases WHERE name = ?",
		cfg.Database).Scan(&n); err != nil {
		return nil, errors.Join(fmt.Errorf("clickhouse: query: connect %s: %w", cfg.Addr, err), conn.Close())
	}
	if n == 0 {
		return nil, errors.Join(fmt.Errorf("clickhouse: query: no database %s on %s", cfg.Database, cfg.Addr),
			conn.Close())
	}
	return q, nil
}

// settings returns ctx carrying the settings of every query: readonly=1 (the server refuses
// writes, DDL and any setting change, SETTINGS clauses included) and the limits.
func (q *Querier) settings(ctx context.Context) context.Context {
	return ch.Context(ctx, ch.WithSettings(ch.Settings{
		"readonly":           1,
		"max_execution_time": int(q.qc.Timeout.Seconds() + 0.999),
		"max_memory_usage":   int(q.qc.MaxMemory),
	}))
}

// Query runs one read-only statement and returns its result, at most QueryConfig.MaxRows
// rows (Rows.Truncated tells when more existed), within QueryConfig.Timeout. It is hardened
// for untrusted SQL:
//
//   - one statement only, starting with SELECT, WITH, SHOW, DESCRIBE, EXISTS or EXPLAIN;
//   - table functions that read files, URLs, object stores, other servers or programs
//     (file, url, s3, remote, cluster, mysql, executable, ...) are refused by name, and so
//     are SETTINGS, FORMAT and INTO OUTFILE clauses;
//   - the server runs it with readonly=1, so even a statement that slipped through could not
//     write, create, drop or change a setting, and with max_execution_time and
//     max_memory_usage.
//
// Refusals wrap ErrQueryRefused and say why; a timeout wraps context.DeadlineExceeded.
func (q *Querier) Query(ctx context.Context, query string) (*Rows, error) {
	text, err := checkQueryText(query)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, q.qc.Timeout)
	defer cancel()
	rows, err := q.conn.Query(q.settings(ctx), text)
	if err != nil {
		return nil, q.queryErr(ctx, err)
	}
	res, err := readQueryRows(rows, q.qc.MaxRows)
	if err == nil && res.Truncated {
		// Cancel the rest of the query rather than let Close read a result nobody uses
		// (18.16 cannot be sent result_overflow_mode: only numeric settings travel to it).
		cancel()
	}
	_ = rows.Close() // its error after a cancel is the cancel
	if err != nil {
		return nil, q.queryErr(ctx, err)
	}
	return res, nil
}

func (q *Querier) queryErr(ctx context.Context, err error) error {
	var ex *ch.Exception
	var ne net.Error
	// The driver's read deadline is the context's: its i/o timeout can come a moment before
	// the context reports DeadlineExceeded.
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() ||
		errors.As(err, &ex) && ex.Code == 159 { // TIMEOUT_EXCEEDED
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("clickhouse: query: timed out after %v: %w: %w", q.qc.Timeout,
				context.DeadlineExceeded, err)
		}
	}
	return fmt.Errorf("clickhouse: query: %w", err)
}

// Close closes the querier's connections.
func (q *Querier) Close() error {
	if err := q.conn.Close(); err != nil {
		return fmt.Errorf("clickhouse: query: close: %w", err)
	}
	return nil
}

// Rows is a materialized query result that can be written as CSV, JSON or Parquet.
type Rows struct {
	// Columns are the result's column names.
	Columns []string
	// Types are ClickHouse's type names of the columns ("Int64", "Nullable(DateTime)", ...).
	Types []string
	// Values holds one slice per row with one value per column, as clickhouse-go scans the
	// column's type (nil for NULL): bool, int*/uint*, float32/64, string, time.Time,
	// *big.Int, decimal.Decimal, slices, maps, ...
	Values [][]any
	// Truncated reports that the result had more rows than the query row limit.
	Truncated bool
}

func readQueryRows(rows driver.Rows, maxRows int) (*Rows, error) {
	cts := rows.ColumnTypes()
	r := &Rows{Columns: make([]string, len(cts)), Types: make([]string, len(cts)), Values: [][]any{}}
	for i, ct := range cts {
		r.Columns[i] = ct.Name()
		r.Types[i] = ct.DatabaseTypeName()
	}
	ptrs := make([]any, len(cts))
	for rows.Next() {
		if len(r.Values) >= maxRows {
			r.Truncated = true
			break
		}
		for i, ct := range cts {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		vals := make([]any, len(cts))
		for i, p := range ptrs {
			vals[i] = deref(reflect.ValueOf(p).Elem())
		}
		r.Values = append(r.Values, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// deref returns the value v holds, following pointers (Nullable columns scan into *T):
// nil for a nil pointer.
func deref(v reflect.Value) any {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}
