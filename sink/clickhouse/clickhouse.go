package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

var _ sink.Store = (*Store)(nil)

// Store is the ClickHouse store: one database holding trades, integrity events, coverage and
// consumed offsets (see SCHEMA.md), written exactly once without transactions (see the
// package doc).
//
// Write must be called by one goroutine at a time (it is serialized anyway); Offsets,
// ServerVersion, Dialect, SchemaVersion and Close are safe for concurrent use. One Store
// (one process) writes a database at a time.
type Store struct {
	cfg     Config
	conn    driver.Conn
	server  serverVersion
	dialect Dialect
	version int
	// qidBase prefixes the query id of every INSERT of this database (any process), so that
	// an interrupted one can be found in system.processes.
	qidBase string
	qidInst string // qidBase + this Store's random id

	mu         sync.Mutex // guards everything below; held for a whole Write
	closed     bool
	wm         sink.Watermarks
	wmOK       bool   // wm (and the versions) are derived from the stored rows
	offVersion uint64 // highest version in offsets
	covVersion uint64 // highest version in coverage
	qseq       uint64
	w          writeState
	laneRows   int // fewest trade rows per parallel INSERT (laneRows; tests lower it)

	// failpoint, when set (tests), is called after each INSERT of a Write with the table's
	// name; an error it returns aborts the Write there, as if the INSERT's acknowledgement
	// had been lost.
	failpoint func(table string) error
}

// Open connects to the server, creates the database if missing, applies pending migrations
// of the database's dialect (for a new database: chosen by server version, see Dialect), and
// derives the watermarks from the stored rows (after waiting for any interrupted INSERT of
// this database to finish on the server).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := createDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	conn, err := connect(cfg, cfg.Database)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, conn: conn, qidBase: "tickflow-sink/" + cfg.Database + "/", laneRows: laneRows}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	s.qidInst = s.qidBase + hex.EncodeToString(rnd[:]) + "/"
	if err := s.init(ctx); err != nil {
		return nil, errors.Join(err, conn.Close())
	}
	return s, nil
}

func connect(cfg Config, database string) (driver.Conn, error) {
	conn, err := ch.Open(&ch.Options{
		Addr: []string{cfg.Addr},
		Auth: ch.Auth{Database: database, Username: cfg.Username, Password: cfg.Password},
		// The default of 30s would hide a dead server behind a long wait.
		DialTimeout: cfg.DialTimeout,
		DialContext: cfg.dial,
		// Bounds every read from the server (clickhouse-go's default is 5 minutes).
		ReadTimeout:  cfg.InsertTimeout,
		MaxOpenConns: max(4, cfg.InsertParallelism+2), // parallel trade INSERTs, a reader
		MaxIdleConns: max(2, cfg.InsertParallelism),
		ClientInfo: ch.ClientInfo{Products: []struct{ Name, Version string }{
			{Name: "tickflow-sink", Version: "1"}}},
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: connect %s: %w", cfg.Addr, err)
	}
	return conn, nil
}

// createDatabase connects without a database (the server refuses a session whose default
// database does not exist) and creates cfg.Database.
func createDatabase(ctx context.Context, cfg Config) error {
	conn, err := connect(cfg, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+cfg.Database); err != nil {
		return fmt.Errorf("clickhouse: create database %s on %s: %w", cfg.Database, cfg.Addr, err)
	}
	return nil
}

func (s *Store) init(ctx context.Context) error {
	var text string
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&text); err != nil {
		return fmt.Errorf("clickhouse: server version: %w", err)
	}
	v, err := parseServerVersion(text)
	if err != nil {
		return err
	}
	s.server = v
	want, err := dialectFor(v, s.cfg.Dialect)
	if err != nil {
		return err
	}
	if s.dialect, s.version, err = migrate(ctx, s.conn, want, v, s.cfg.schemaLimit, s.cfg.Logger); err != nil {
		return err
	}
	s.w.init(s.dialect)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadState(ctx); err != nil {
		return err
	}
	s.cfg.Logger.Info("clickhouse store open", "addr", s.cfg.Addr, "database", s.cfg.Database,
		"server", s.server.text, "dialect", string(s.dialect), "schema_version", s.version,
		"watermarks", s.wm.Len())
	return nil
}

// ServerVersion returns the server's version text ("18.16.1").
func (s *Store) ServerVersion() string { return s.server.text }

// Dialect returns the DDL dialect of the database.
func (s *Store) Dialect() Dialect { return s.dialect }

// SchemaVersion returns the schema version (number of applied migrations).
func (s *Store) SchemaVersion() int { return s.version }

// Database returns the database name.
func (s *Store) Database() string { return s.cfg.Database }

// Offsets returns the stored next offsets per topic-partition, ordered by topic and
// partition (nil for a fresh store): per partition the row of the highest version.
func (s *Store) Offsets(ctx context.Context) ([]transport.Offset, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	rows, err := s.conn.Query(ctx, `SELECT topic, partition, argMax(next_offset, version)
		FROM offsets GROUP BY topic, partition ORDER BY topic, partition`)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read offsets: %w", err)
	}
	defer rows.Close()
	var out []transport.Offset
	for rows.Next() {
		var o transport.Offset
		var p int32
		if err := rows.Scan(&o.Topic, &p, &o.Next); err != nil {
			return nil, fmt.Errorf("clickhouse: read offsets: %w", err)
		}
		o.Partition = int(p)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read offsets: %w", err)
	}
	return out, nil
}

// Close closes the store's connections. It waits for a Write in progress. Further calls
// return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("clickhouse: close: %w", err)
	}
	return nil
}
