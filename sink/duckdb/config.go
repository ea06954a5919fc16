package duckdb

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Defaults of [Config]; the zero value of a field means its default.
const (
	DefaultMemoryLimit = "2GB"
	// DefaultCheckpointThreshold replaces DuckDB's 16MB: each checkpoint rewrites the tables'
	// open row groups, and at 16MB (~160k trades) that was a third of the write time; 2M
	// trades were written in 0.6x the time at 256MB, final checkpoint included
	// (BENCHMARKS.md). The price: a crash replays up to 256MB of WAL on open.
	DefaultCheckpointThreshold = "256MB"
	DefaultQueryTimeout        = 30 * time.Second
	DefaultQueryMaxRows        = 100000
	DefaultQueryConns          = 4
	defaultRollbackTimeout     = 10 * time.Second
)

// Config configures a [Store]. Only Path is required.
type Config struct {
	// Path is the database file (created if missing, together with DuckDB's ".wal" beside
	// it). Its directory must exist. It must not contain '?', '#' or '%' (it is part of a DSN).
	Path string
	// ReadOnly opens the file read-only: no migrations, Write fails with ErrReadOnly. DuckDB
	// admits one read-write process per file, so a read-only open fails while the pipeline
	// runs; query the running process instead.
	ReadOnly bool
	// MemoryLimit is DuckDB's memory_limit for the whole embedded database, writer and
	// queries together ("2GB", "512MB"). DuckDB has no per-query limit; this bounds every
	// query's working memory (beyond it DuckDB spills to its temp directory or fails the
	// query). Default 2GB.
	MemoryLimit string
	// Threads is DuckDB's worker thread count. Default: DuckDB's (the number of cores).
	Threads int
	// CheckpointThreshold is DuckDB's checkpoint_threshold (WAL size that triggers a
	// checkpoint at commit, "16MB"). Default DefaultCheckpointThreshold.
	CheckpointThreshold string
	// QueryTimeout bounds each Query. Default 30s.
	QueryTimeout time.Duration
	// QueryMaxRows caps the rows one Query returns; further rows are not read and
	// Rows.Truncated is set. Default 100000.
	QueryMaxRows int
	// QueryConns is the number of connections queries may use concurrently (the writer has
	// its own). Default 4.
	QueryConns int
}

var sizeRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*([KMGT]i?B|B|bytes)?$`)

// Validate reports invalid settings.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("duckdb: config: path is required"))
	}
	if strings.ContainsAny(c.Path, "?#%") {
		errs = append(errs, fmt.Errorf("duckdb: config: path %q must not contain '?', '#' or '%%'", c.Path))
	}
	for _, s := range []struct{ name, v string }{
		{"memory limit", c.MemoryLimit}, {"checkpoint threshold", c.CheckpointThreshold},
	} {
		if s.v != "" && !sizeRE.MatchString(s.v) {
			errs = append(errs, fmt.Errorf("duckdb: config: %s %q is not a size like 2GB", s.name, s.v))
		}
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("duckdb: config: threads %d < 0", c.Threads))
	}
	if c.QueryTimeout < 0 {
		errs = append(errs, fmt.Errorf("duckdb: config: query timeout %v < 0", c.QueryTimeout))
	}
	if c.QueryMaxRows < 0 {
		errs = append(errs, fmt.Errorf("duckdb: config: query max rows %d < 0", c.QueryMaxRows))
	}
	if c.QueryConns < 0 {
		errs = append(errs, fmt.Errorf("duckdb: config: query conns %d < 0", c.QueryConns))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MemoryLimit == "" {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.CheckpointThreshold == "" {
		c.CheckpointThreshold = DefaultCheckpointThreshold
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = DefaultQueryTimeout
	}
	if c.QueryMaxRows == 0 {
		c.QueryMaxRows = DefaultQueryMaxRows
	}
	if c.QueryConns == 0 {
		c.QueryConns = DefaultQueryConns
	}
	return c
}

// dsn returns the DuckDB DSN: the path and the startup settings that must hold before any
// connection exists. enable_external_access=false confines DuckDB to its own database file,
// WAL and temp directory (no COPY/ATTACH/read_csv of other files, no extension downloads).
func (c Config) dsn() string {
	var b strings.Builder
	b.WriteString(c.Path)
	b.WriteString("?enable_external_access=false&autoinstall_known_extensions=false" +
		"&autoload_known_extensions=false&allow_community_extensions=false")
	b.WriteString("&memory_limit=" + strings.ReplaceAll(c.MemoryLimit, " ", ""))
	if c.ReadOnly {
		b.WriteString("&access_mode=READ_ONLY")
	}
	if c.Threads > 0 {
		fmt.Fprintf(&b, "&threads=%d", c.Threads)
	}
	if c.CheckpointThreshold != "" {
		b.WriteString("&checkpoint_threshold=" + strings.ReplaceAll(c.CheckpointThreshold, " ", ""))
	}
	return b.String()
}
