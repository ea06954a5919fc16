//go:build integration

package clickhouse

// Integration tests against a real ClickHouse server, started by deploy/ci/clickhouse.sh
// start (or deploy/ci/services.sh up):
//
//	TICKFLOW_CLICKHOUSE=127.0.0.1:19000 go test -tags integration ./sink/clickhouse/
//
// Each test works in a database of its own (tickflow_it_<random>), dropped at the end.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

// serverAddr returns TICKFLOW_CLICKHOUSE, skipping the test when it is unset.
func serverAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("TICKFLOW_CLICKHOUSE")
	if addr == "" {
		t.Skip("TICKFLOW_CLICKHOUSE is not set: start a real server with " +
			"deploy/ci/clickhouse.sh start and set TICKFLOW_CLICKHOUSE=127.0.0.1:19000")
	}
	return addr
}

// testConfig returns the config of a fresh database, dropped when the test ends.
func testConfig(t testing.TB) Config {
	t.Helper()
	addr := serverAddr(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cfg := Config{Addr: addr, Database: "tickflow_it_" + hex.EncodeToString(rnd[:]),
		SettleTimeout: 20 * time.Second}
	t.Cleanup(func() {
		c, err := connect(cfg.withDefaults(), "")
		if err != nil {
			t.Logf("drop %s: %v", cfg.Database, err)
			return
		}
		defer c.Close()
		if err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
			t.Logf("drop %s: %v", cfg.Database, err)
		}
	})
	return cfg
}

func openCfg(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.Database, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

const baseTime = int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z

func mkTrade(venue, symbol string, seq uint64, id uint64) md.Trade {
	return md.Trade{
		Header: md.Header{
			Venue: venue, Symbol: symbol,
			ExchTime: baseTime + int64(seq)*1000, SendTime: baseTime + int64(seq)*1000 + 5,
			RecvTime: baseTime + int64(seq)*1000 + 100, ClockOffset: -7,
			Prov:          md.Provenance{Epoch: 1, Seq: seq, Index: 0},
			ParserVersion: 1,
		},
		ID:    md.NumericID(id),
		Price: md.Decimal{Mant: 6500012 + int64(seq), Scale: 2},
		Qty:   md.Decimal{Mant: 1500, Scale: 5},
		Side:  md.SideBuy,
	}
}

func mkIntegrity(venue, symbol string, typ md.IntegrityType, seq uint64) md.Integrity {
	return md.Integrity{
		Header: md.Header{
			Venue: venue, Symbol: symbol,
			RecvTime:      baseTime + int64(seq)*1000 + 100,
			Prov:          md.Provenance{Epoch: 1, Seq: seq},
			ParserVersion: 1,
		},
		Type:   typ,
		Stream: md.KindTrade,
	}
}

func write(t testing.TB, s *Store, b *sink.Batch) sink.WriteResult {
	t.Helper()
	res, err := s.Write(context.Background(), b)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	return res
}

func queryInt(t testing.TB, s *Store, q string, args ...any) int64 {
	t.Helper()
	var n uint64
	if err := s.conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return int64(n)
}

// queryStrings returns the rows of q with every column converted to text by the server.
func queryStrings(t testing.TB, c driver.Conn, q string, args ...any) [][]string {
	t.Helper()
	rows, err := c.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	n := len(rows.Columns())
	var out [][]string
	for rows.Next() {
		vals := make([]string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: scan: %v", q, err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func offsets(pairs ...any) []transport.Offset {
	var out []transport.Offset
	for i := 0; i+2 < len(pairs)+1; i += 3 {
		out = append(out, transport.Offset{Topic: pairs[i].(string), Partition: pairs[i+1].(int),
			Next: int64(pairs[i+2].(int))})
	}
	return out
}
