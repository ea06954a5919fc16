package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

var _ sink.KindStore = (*Store)(nil)

// Store is the embedded DuckDB store: one database file holding trades, integrity events,
// book updates and their levels, book statuses, BBOs, coverage, watermarks and consumed
// offsets (see SCHEMA.md).
//
// Write must be called by one goroutine at a time (it is serialized anyway); Offsets, Query,
// SchemaVersion and Close are safe for concurrent use.
type Store struct {
	cfg       Config
	connector *duck.Connector
	db        *sql.DB
	version   int

	mu     sync.Mutex // guards everything below; held for a whole Write
	wconn  *sql.Conn  // the writer's connection (nil when read-only)
	closed bool
	broken error // set when a failed transaction could not be rolled back
	wm     sink.Watermarks
	wmOK   bool // wm holds every stored watermark
	w      writeState

	// failpoint, when set (tests), is called at named stages inside the write transaction;
	// an error it returns aborts the transaction there.
	failpoint func(stage string) error
}

// Open opens or creates the store at cfg.Path, applies pending schema migrations (in one
// transaction), loads the watermarks and locks DuckDB's configuration. With cfg.ReadOnly it
// opens the file read-only instead (see OpenReadOnly).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	connector, err := duck.NewConnector(cfg.dsn(), nil)
	if err != nil {
		if isLockError(err) {
			return nil, fmt.Errorf("duckdb: open %s: %w: %w", cfg.Path, ErrInUse, err)
		}
		return nil, fmt.Errorf("duckdb: open %s: %w", cfg.Path, err)
	}
	s := &Store{cfg: cfg, connector: connector, db: sql.OpenDB(connector)}
	if err := s.init(ctx); err != nil {
		return nil, errors.Join(err, s.db.Close())
	}
	return s, nil
}

// OpenReadOnly opens an existing store file read-only, for querying it while no pipeline
// runs on it. DuckDB admits one process per file: while tickflow runs, it fails with
// ErrInUse and queries go to the running process.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	return Open(ctx, Config{Path: path, ReadOnly: true})
}

func (s *Store) init(ctx context.Context) error {
	s.db.SetMaxOpenConns(s.cfg.QueryConns + 1)
	s.db.SetMaxIdleConns(s.cfg.QueryConns + 1)
	s.db.SetConnMaxIdleTime(0)
	if s.cfg.ReadOnly {
		applied, err := appliedMigrations(ctx, s.db)
		if err != nil {
			return fmt.Errorf("duckdb: %s is not a tickflow store: %w", s.cfg.Path, err)
		}
		s.version = len(applied)
		return s.lockConfig(ctx)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duckdb: connect: %w", err)
	}
	s.wconn = conn
	if s.version, err = migrate(ctx, conn); err != nil {
		return err
	}
	if err := s.prepareWriter(ctx); err != nil {
		return err
	}
	if err := s.loadWatermarks(ctx); err != nil {
		return err
	}
	return s.lockConfig(ctx)
}

// lockConfig forbids any further configuration change (SET, PRAGMA settings) for the life of
// the database, so a query cannot re-enable external access or lift the memory limit.
func (s *Store) lockConfig(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "SET lock_configuration = true"); err != nil {
		return fmt.Errorf("duckdb: lock configuration: %w", err)
	}
	return nil
}

// loadWatermarks fills the cache with every stored watermark; the store is the only writer,
// so the cache stays exact from then on.
func (s *Store) loadWatermarks(ctx context.Context) error {
	s.wm.Reset()
	rows, err := s.wconn.QueryContext(ctx,
		"SELECT venue, symbol, kind, parser_version, epoch, seq, idx FROM watermarks")
	if err != nil {
		return fmt.Errorf("duckdb: load watermarks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k sink.Key
		var kind string
		var p md.Provenance
		if err := rows.Scan(&k.Venue, &k.Symbol, &kind, &k.ParserVersion, &p.Epoch, &p.Seq,
			&p.Index); err != nil {
			return fmt.Errorf("duckdb: load watermarks: %w", err)
		}
		kk, ok := kindByName[kind]
		if !ok {
			return fmt.Errorf("duckdb: load watermarks: unknown kind %q", kind)
		}
		k.Kind = kk
		s.wm.Load(k, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("duckdb: load watermarks: %w", err)
	}
	s.wmOK = true
	return nil
}

var kindByName = map[string]md.Kind{
	md.KindTrade.String():      md.KindTrade,
	md.KindIntegrity.String():  md.KindIntegrity,
	md.KindBookUpdate.String(): md.KindBookUpdate,
	md.KindBookStatus.String(): md.KindBookStatus,
	md.KindBBO.String():        md.KindBBO,
}

// StoresKind reports whether Write stores events of kind k: trades, integrity events, book
// updates, book statuses and BBOs. See sink.KindStore.
func (s *Store) StoresKind(k md.Kind) bool {
	_, ok := kindByName[k.String()]
	return ok
}

// SchemaVersion returns the schema version (number of applied migrations).
func (s *Store) SchemaVersion() int { return s.version }

// Path returns the database file.
func (s *Store) Path() string { return s.cfg.Path }

// Offsets returns the stored next offsets per topic-partition, ordered by topic and
// partition (nil for a fresh store).
func (s *Store) Offsets(ctx context.Context) ([]transport.Offset, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT topic, "partition", next_offset FROM offsets ORDER BY topic, "partition"`)
	if err != nil {
		return nil, fmt.Errorf("duckdb: read offsets: %w", err)
	}
	defer rows.Close()
	var out []transport.Offset
	for rows.Next() {
		var o transport.Offset
		if err := rows.Scan(&o.Topic, &o.Partition, &o.Next); err != nil {
			return nil, fmt.Errorf("duckdb: read offsets: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: read offsets: %w", err)
	}
	return out, nil
}

// Close closes the store. It waits for a Write in progress. Further calls return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("duckdb: close: %w", err)
	}
	return nil
}

func isLockError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock")
}
