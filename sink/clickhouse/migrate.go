package clickhouse

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/legacy/*.sql migrations/modern/*.sql
var migrationFS embed.FS

// migration is one numbered schema change of one dialect, embedded from
// migrations/<dialect>/NNNN_name.sql.
type migration struct {
	version    int
	name       string
	statements []string
	checksum   string
}

// loadMigrations returns the embedded migrations of a dialect in version order. Versions must
// be 1..n without holes, and both dialects must have the same versions and names.
func loadMigrations(d Dialect) ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/"+string(d)+"/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("clickhouse: migration file %s: want NNNN_name.sql", f)
		}
		body, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		ms = append(ms, migration{version: v, name: name, statements: splitStatements(string(body)),
			checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("clickhouse: %s migrations: version %d missing", d, i+1)
		}
	}
	return ms, nil
}

var stmtEnd = regexp.MustCompile(`;[ \t]*(?:\n|$)`)

// splitStatements splits a migration into statements: lines starting with "--" are dropped,
// and a statement ends with ';' at the end of a line (ClickHouse runs one statement per
// query).
func splitStatements(body string) []string {
	var kept []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			continue
		}
		kept = append(kept, l)
	}
	var out []string
	for _, s := range stmtEnd.Split(strings.Join(kept, "\n"), -1) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    UInt32,
    name       String,
    dialect    String,
    checksum   String,
    applied_ns Int64
) ENGINE = ReplacingMergeTree
ORDER BY version`

type appliedMigration struct {
	version  int
	name     string
	dialect  Dialect
	checksum string
}

func appliedMigrations(ctx context.Context, conn driver.Conn) ([]appliedMigration, error) {
	rows, err := conn.Query(ctx, `SELECT version, any(name), any(dialect), any(checksum)
		FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []appliedMigration
	for rows.Next() {
		var a appliedMigration
		var v uint32
		var d string
		if err := rows.Scan(&v, &a.name, &d, &a.checksum); err != nil {
			return nil, err
		}
		a.version, a.dialect = int(v), Dialect(d)
		out = append(out, a)
	}
	return out, rows.Err()
}

// migrate brings the database's schema up to date in dialect want (the dialect of a new
// database; an existing one keeps its own, which migrate returns). ClickHouse has no
// transactional DDL: every statement is idempotent (IF NOT EXISTS), a migration is recorded
// after all its statements ran, and one interrupted half-way runs again whole at the next
// Open. limit > 0 stops after migration limit (tests of upgrades).
func migrate(ctx context.Context, conn driver.Conn, want Dialect, server serverVersion, limit int, log *slog.Logger) (Dialect, int, error) {
	if err := conn.Exec(ctx, schemaMigrationsDDL); err != nil {
		return "", 0, fmt.Errorf("clickhouse: create schema_migrations: %w", err)
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return "", 0, fmt.Errorf("clickhouse: read schema_migrations: %w", err)
	}
	d := want
	if len(applied) > 0 {
		d = applied[0].dialect
		if d != DialectLegacy && d != DialectModern {
			return "", 0, fmt.Errorf("%w: schema_migrations names dialect %q", ErrSchema, d)
		}
		if d == DialectModern && !server.atLeast(modernMin) {
			return "", 0, fmt.Errorf("%w: the database uses the modern dialect, which server %s "+
				"cannot run (needs %s or later)", ErrSchema, server, modernMin)
		}
	}
	ms, err := loadMigrations(d)
	if err != nil {
		return "", 0, err
	}
	if len(applied) > len(ms) {
		return "", 0, fmt.Errorf("%w: database is at schema version %d, this build knows %d",
			ErrSchema, len(applied), len(ms))
	}
	for i, a := range applied {
		m := ms[i]
		if a.version != m.version || a.dialect != d || a.checksum != m.checksum {
			return "", 0, fmt.Errorf("%w: applied migration %d (%s, %s) differs from the embedded "+
				"%04d_%s.sql of this build (never edit a released migration)", ErrSchema,
				a.version, a.name, a.dialect, m.version, m.name)
		}
	}
	if limit > 0 && limit < len(ms) {
		ms = ms[:max(limit, len(applied))]
	}
	for _, m := range ms[len(applied):] {
		for _, st := range m.statements {
			if err := conn.Exec(ctx, st); err != nil {
				return "", 0, fmt.Errorf("clickhouse: migration %04d_%s (%s): %w\n%s", m.version,
					m.name, d, err, st)
			}
		}
		if post := postMigration[m.version]; post != nil {
			if err := post(ctx, conn, d, log); err != nil {
				return "", 0, fmt.Errorf("clickhouse: migration %04d_%s (%s): %w", m.version, m.name, d, err)
			}
		}
		// INSERT ... VALUES through Exec never returns on 18.16 (the server waits for a data
		// block after the inline values): every INSERT goes through a batch.
		if err := insertRow(ctx, conn, `INSERT INTO schema_migrations
			(version, name, dialect, checksum, applied_ns)`,
			uint32(m.version), m.name, string(d), m.checksum, time.Now().UnixNano()); err != nil {
			return "", 0, fmt.Errorf("clickhouse: record migration %d: %w", m.version, err)
		}
	}
	return d, len(ms), nil
}

// postMigration holds what runs after a migration's statements and before it is recorded
// (so an interrupted run repeats both): data moves the SQL files cannot express.
var postMigration = map[int]func(ctx context.Context, conn driver.Conn, d Dialect, log *slog.Logger) error{
	3: rebuildAllCandles, // 0003 created the candles table anew
}

// serverVersion is a ClickHouse version as major.minor.patch.
type serverVersion struct {
	major, minor, patch int
	text                string
}

// modernMin is the first server version the modern dialect runs on (an LTS release with
// parameterized views; DateTime64, LowCardinality, codecs and TTL are older).
var modernMin = serverVersion{23, 8, 0, "23.8"}

func (v serverVersion) String() string { return v.text }

func (v serverVersion) atLeast(o serverVersion) bool {
	if v.major != o.major {
		return v.major > o.major
	}
	if v.minor != o.minor {
		return v.minor > o.minor
	}
	return v.patch >= o.patch
}

// parseServerVersion parses version()'s text ("18.16.1", "24.8.4.13").
func parseServerVersion(s string) (serverVersion, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return serverVersion{}, fmt.Errorf("clickhouse: unrecognized server version %q", s)
	}
	var n [3]int
	for i := 0; i < 3 && i < len(parts); i++ {
		v, err := strconv.Atoi(parts[i])
		if err != nil {
			return serverVersion{}, fmt.Errorf("clickhouse: unrecognized server version %q", s)
		}
		n[i] = v
	}
	return serverVersion{n[0], n[1], n[2], strings.TrimSpace(s)}, nil
}

// dialectFor returns the dialect of a new database on server v.
func dialectFor(v serverVersion, forced Dialect) (Dialect, error) {
	switch forced {
	case DialectLegacy:
		return DialectLegacy, nil
	case DialectModern:
		if !v.atLeast(modernMin) {
			return "", fmt.Errorf("%w: dialect modern needs ClickHouse %s or later, server is %s",
				ErrSchema, modernMin, v)
		}
		return DialectModern, nil
	}
	if v.atLeast(modernMin) {
		return DialectModern, nil
	}
	return DialectLegacy, nil
}

// insertRow inserts one row through a batch.
func insertRow(ctx context.Context, conn driver.Conn, query string, vals ...any) error {
	b, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	if err := b.Append(vals...); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}
