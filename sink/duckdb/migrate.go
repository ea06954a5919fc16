package duckdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema change, embedded from migrations/NNNN_name.sql.
type migration struct {
	version  int
	name     string
	sql      string
	checksum string
}

// migrations returns the embedded migrations in version order. Versions must be 1..n without
// holes.
func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("duckdb: migration file %s: want NNNN_name.sql", f)
		}
		body, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		ms = append(ms, migration{version: v, name: name, sql: string(body),
			checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("duckdb: migrations: version %d missing", i+1)
		}
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER   PRIMARY KEY,
    name       VARCHAR   NOT NULL,
    checksum   VARCHAR   NOT NULL,
    applied_at TIMESTAMP NOT NULL
)`

// migrate applies the migrations the database lacks, in order, in one transaction, and
// verifies that those already applied are the ones embedded (same checksum). It returns the
// schema version.
func migrate(ctx context.Context, conn *sql.Conn) (int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	return applyMigrations(ctx, conn, ms)
}

func applyMigrations(ctx context.Context, conn *sql.Conn, ms []migration) (version int, err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return 0, fmt.Errorf("duckdb: migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			err = errors.Join(err, rerr)
		}
	}()
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return 0, fmt.Errorf("duckdb: migrate: create schema_migrations: %w", err)
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return 0, err
	}
	if err := checkApplied(applied, ms); err != nil {
		return 0, err
	}
	for _, m := range ms[len(applied):] {
		if _, err := conn.ExecContext(ctx, m.sql); err != nil {
			return 0, fmt.Errorf("duckdb: migrate: apply %04d_%s: %w", m.version, m.name, err)
		}
		if _, err := conn.ExecContext(ctx,
			"INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
			m.version, m.name, m.checksum, time.Now().UTC()); err != nil {
			return 0, fmt.Errorf("duckdb: migrate: record %04d_%s: %w", m.version, m.name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return 0, fmt.Errorf("duckdb: migrate: commit: %w", err)
	}
	return len(ms), nil
}

// checkApplied verifies that the applied migrations are a prefix of the embedded ones.
func checkApplied(applied, ms []migration) error {
	if len(applied) > len(ms) {
		return fmt.Errorf("duckdb: store schema version %d is newer than this binary's (%d): "+
			"upgrade tickflow", len(applied), len(ms))
	}
	for i, a := range applied {
		m := ms[i]
		if a.version != m.version || a.checksum != m.checksum {
			return fmt.Errorf("duckdb: applied migration %04d_%s differs from the embedded "+
				"%04d_%s (checksum %.12s vs %.12s): migrations must never be edited once released",
				a.version, a.name, m.version, m.name, a.checksum, m.checksum)
		}
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func appliedMigrations(ctx context.Context, q querier) ([]migration, error) {
	rows, err := q.QueryContext(ctx,
		"SELECT version, name, checksum FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("duckdb: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []migration
	for rows.Next() {
		var m migration
		if err := rows.Scan(&m.version, &m.name, &m.checksum); err != nil {
			return nil, fmt.Errorf("duckdb: read schema_migrations: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: read schema_migrations: %w", err)
	}
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("duckdb: schema_migrations: version %d missing", i+1)
		}
	}
	return out, nil
}
