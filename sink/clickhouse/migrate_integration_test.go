//go:build integration

package clickhouse

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestIntegrationMigrationsApplyAndReopen(t *testing.T) {
	cfg := testConfig(t)
	s := openCfg(t, cfg)
	t.Logf("server %s, dialect %s", s.ServerVersion(), s.Dialect())
	ms, err := loadMigrations(DialectLegacy)
	if err != nil {
		t.Fatal(err)
	}
	if s.SchemaVersion() != len(ms) {
		t.Fatalf("schema version %d, want %d", s.SchemaVersion(), len(ms))
	}
	v, _ := parseServerVersion(s.ServerVersion())
	want := DialectLegacy
	if v.atLeast(modernMin) {
		want = DialectModern
	}
	if s.Dialect() != want {
		t.Fatalf("dialect %s on %s, want %s", s.Dialect(), s.ServerVersion(), want)
	}
	got := queryStrings(t, s.conn, `SELECT name FROM system.tables WHERE database = ? ORDER BY name`,
		cfg.Database)
	var names []string
	for _, r := range got {
		names = append(names, r[0])
	}
	for _, n := range []string{"bbo", "book_snapshots", "book_updates", "coverage", "coverage_gaps",
		"coverage_v", "funding", "instruments", "instruments_v", "integrity", "integrity_v",
		"liquidations", "offsets", "offsets_v", "open_interest", "schema_migrations", "trades",
		"trades_v", "watermarks", "book_status", "book_levels", "book_updates_v", "book_status_v",
		"book_snapshots_v", "bbo_v", "funding_v", "open_interest_v", "liquidations_v",
		"candles", "candles_feed", "candles_feed_mv", "candles_mv", "candles_1s_v", "candles_1m_v", "candles_1h_v"} {
		if !strings.Contains(","+strings.Join(names, ",")+",", ","+n+",") {
			t.Errorf("table %s missing; have %v", n, names)
		}
	}
	// Every table of the store is a MergeTree partitioned by day where it holds events.
	for _, r := range queryStrings(t, s.conn, `SELECT name, partition_key FROM system.tables
		WHERE database = ? AND engine = 'MergeTree'`, cfg.Database) {
		if !strings.Contains(r[1], "toYYYYMMDD") {
			t.Errorf("table %s partition key %q, want by day", r[0], r[1])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening applies nothing and keeps one record per migration.
	s2 := openCfg(t, cfg)
	if s2.SchemaVersion() != len(ms) || s2.Dialect() != want {
		t.Fatalf("reopen: version %d dialect %s", s2.SchemaVersion(), s2.Dialect())
	}
	if n := queryInt(t, s2, "SELECT count() FROM schema_migrations FINAL"); n != int64(len(ms)) {
		t.Fatalf("schema_migrations rows %d, want %d", n, len(ms))
	}

	// A database created with the other dialect's checksum is refused.
	if err := insertRow(context.Background(), s2.conn, `INSERT INTO schema_migrations
		(version, name, dialect, checksum, applied_ns)`, uint32(len(ms)+1), "future", string(want), "x",
		int64(0)); err != nil {
		t.Fatal(err)
	}
	_ = s2.Close()
	if _, err := Open(context.Background(), cfg); !errors.Is(err, ErrSchema) {
		t.Fatalf("open with a newer schema: %v, want ErrSchema", err)
	}
}

func TestIntegrationModernDialectRefusedOnOldServer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Dialect = DialectModern
	s, err := Open(context.Background(), cfg)
	if err == nil {
		defer s.Close()
		if v, _ := parseServerVersion(s.ServerVersion()); !v.atLeast(modernMin) {
			t.Fatalf("modern dialect accepted on %s", s.ServerVersion())
		}
		return
	}
	if !errors.Is(err, ErrSchema) {
		t.Fatalf("open: %v, want ErrSchema", err)
	}
}
