package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// Defaults of [Config]; the zero value of a field means its default.
const (
	DefaultAddr          = "127.0.0.1:9000"
	DefaultDatabase      = "tickflow"
	DefaultUsername      = "default"
	DefaultDialTimeout   = 10 * time.Second
	DefaultInsertTimeout = 60 * time.Second
	DefaultSettleTimeout = 60 * time.Second
	// DefaultMaxInsertRows keeps every INSERT one block, under the server's
	// max_insert_block_size (1,048,576 rows by default on every version), so that it is one
	// part per partition: see the package doc.
	DefaultMaxInsertRows = 1_000_000
	maxInsertRowsLimit   = 1_048_576
	// DefaultInsertParallelism is the default of Config.InsertParallelism.
	DefaultInsertParallelism = 2
	maxInsertParallelism     = 16
	// laneRows is the fewest trade rows per parallel INSERT (smaller parts are one INSERT).
	laneRows          = 25_000
	maxSnapshotLevels = 10_000
)

// Dialect names a family of DDL. It is chosen by server version when a database is created
// and recorded in schema_migrations; an existing database keeps its dialect.
type Dialect string

// Dialects.
const (
	// DialectAuto picks DialectModern on ClickHouse 23.8 and later, DialectLegacy before.
	DialectAuto Dialect = ""
	// DialectLegacy runs on ClickHouse 18.16 and later: Int64 nanosecond *_ns columns,
	// String, no codecs, no TTL.
	DialectLegacy Dialect = "legacy"
	// DialectModern needs ClickHouse 23.8 or later: DateTime64(9, 'UTC') *_time columns,
	// LowCardinality, codecs, TTL and a parameterized view.
	DialectModern Dialect = "modern"
)

// Config configures a [Store]. The zero value connects to 127.0.0.1:9000 as "default" and
// uses database "tickflow".
type Config struct {
	// Addr is the host:port of the server's native protocol. Default 127.0.0.1:9000.
	Addr string
	// Database holds the store's tables; created if missing. Default "tickflow".
	Database string
	// Username and Password authenticate the writer. Default user "default".
	Username string
	Password string
	// Dialect forces a DDL dialect for a new database (DialectAuto: by server version). An
	// existing database keeps the dialect it was created with.
	Dialect Dialect
	// DialTimeout bounds connecting. Default 10s.
	DialTimeout time.Duration
	// InsertTimeout bounds each INSERT and query of a Write. Default 60s.
	InsertTimeout time.Duration
	// MaxInsertRows cuts the rows of one table and partition into INSERTs of at most this
	// many rows; at most 1,048,576 (the server's default max_insert_block_size). Default
	// 1,000,000.
	MaxInsertRows int
	// InsertParallelism is how many trade INSERTs of one partition a Write may run at once
	// (each at least 25,000 rows, split by instrument; see the package doc): the server runs
	// an INSERT and its materialized views on one thread, so a large batch written as one
	// INSERT leaves its other cores idle; each parallel INSERT makes its own parts (and its
	// own candle-view parts). With one INSERT at a time the server idles while the client
	// fills and encodes the next; through real Kafka on the shared 2-core development
	// machine two stored 1.02–1.2× the trades/s of one with 250,000-row batches (431k, 411k,
	// 434k vs 358k, 392k, 424k; with 100,000-row batches and 0002's candle views it had
	// gained nothing; BENCHMARKS.md). At most 16. Default 2 (batches under 2 × 25,000 trade
	// rows stay one INSERT).
	InsertParallelism int
	// SnapshotLevels is how many levels per side of each snapshot book message are kept in
	// book_snapshots (the full snapshot is in book_updates); at most 10,000. Default 20.
	SnapshotLevels int
	// SettleTimeout is how long Open and a Write after a failure wait for an interrupted
	// INSERT of this database to finish on the server before deriving the watermarks.
	// Default 60s.
	SettleTimeout time.Duration
	// Logger receives the store's logs. Default: discard.
	Logger *slog.Logger

	// dial, when set (tests), replaces the TCP dialer.
	dial func(ctx context.Context, addr string) (net.Conn, error)
	// schemaLimit, when set (tests of upgrades), is the last migration Open applies.
	schemaLimit int
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports invalid settings.
func (c Config) Validate() error {
	var errs []error
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("clickhouse: config: addr %q: %w (want host:port)", c.Addr, err))
		}
	}
	if c.Database != "" && !dbNameRE.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse: config: database %q: want letters, digits and _", c.Database))
	}
	switch c.Dialect {
	case DialectAuto, DialectLegacy, DialectModern:
	default:
		errs = append(errs, fmt.Errorf("clickhouse: config: dialect %q: want legacy, modern or empty", c.Dialect))
	}
	if c.DialTimeout < 0 || c.InsertTimeout < 0 || c.SettleTimeout < 0 {
		errs = append(errs, errors.New("clickhouse: config: negative timeout"))
	}
	if c.SnapshotLevels < 0 || c.SnapshotLevels > maxSnapshotLevels {
		errs = append(errs, fmt.Errorf("clickhouse: config: snapshot levels %d: want 1..%d (0: default %d)",
			c.SnapshotLevels, maxSnapshotLevels, DefaultSnapshotLevels))
	}
	if c.InsertParallelism < 0 || c.InsertParallelism > maxInsertParallelism {
		errs = append(errs, fmt.Errorf("clickhouse: config: insert parallelism %d: want 1..%d",
			c.InsertParallelism, maxInsertParallelism))
	}
	if c.MaxInsertRows < 0 || c.MaxInsertRows > maxInsertRowsLimit {
		errs = append(errs, fmt.Errorf("clickhouse: config: max insert rows %d: want 1..%d",
			c.MaxInsertRows, maxInsertRowsLimit))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Username == "" {
		c.Username = DefaultUsername
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.InsertTimeout == 0 {
		c.InsertTimeout = DefaultInsertTimeout
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = DefaultSettleTimeout
	}
	if c.MaxInsertRows == 0 {
		c.MaxInsertRows = DefaultMaxInsertRows
	}
	if c.SnapshotLevels == 0 {
		c.SnapshotLevels = DefaultSnapshotLevels
	}
	if c.InsertParallelism == 0 {
		c.InsertParallelism = DefaultInsertParallelism
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ParseDSN parses the --clickhouse-dsn form
//
//	clickhouse://[user[:password]@]host:port[/database][?dialect=legacy|modern&insert_timeout=60s&max_insert_rows=N&insert_parallelism=N&snapshot_levels=N]
//
// into a Config (fields it does not name keep their defaults).
func ParseDSN(dsn string) (Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return Config{}, fmt.Errorf("clickhouse: dsn: %w", err)
	}
	if u.Scheme != "clickhouse" && u.Scheme != "tcp" {
		return Config{}, fmt.Errorf("clickhouse: dsn %q: scheme must be clickhouse://", u.Redacted())
	}
	c := Config{Addr: u.Host}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if len(u.Path) > 1 {
		c.Database = u.Path[1:]
	}
	q := u.Query()
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "dialect":
			c.Dialect = Dialect(v)
		case "database":
			c.Database = v
		case "dial_timeout", "insert_timeout", "settle_timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				return Config{}, fmt.Errorf("clickhouse: dsn: %s: %w", k, err)
			}
			switch k {
			case "dial_timeout":
				c.DialTimeout = d
			case "insert_timeout":
				c.InsertTimeout = d
			default:
				c.SettleTimeout = d
			}
		case "snapshot_levels":
			n, err := strconv.Atoi(v)
			if err != nil {
				return Config{}, fmt.Errorf("clickhouse: dsn: snapshot_levels: %w", err)
			}
			c.SnapshotLevels = n
		case "insert_parallelism":
			n, err := strconv.Atoi(v)
			if err != nil {
				return Config{}, fmt.Errorf("clickhouse: dsn: insert_parallelism: %w", err)
			}
			c.InsertParallelism = n
		case "max_insert_rows":
			n, err := strconv.Atoi(v)
			if err != nil {
				return Config{}, fmt.Errorf("clickhouse: dsn: max_insert_rows: %w", err)
			}
			c.MaxInsertRows = n
		default:
			return Config{}, fmt.Errorf("clickhouse: dsn: unknown parameter %q", k)
		}
	}
	return c, c.Validate()
}
