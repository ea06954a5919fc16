package duckdb

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTest opens a fresh store in a temporary directory, closed at test end.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "tickflow.duckdb"))
}

func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
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
	var n int64
	if err := s.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func offsets(pairs ...any) []transport.Offset {
	var out []transport.Offset
	for i := 0; i+2 < len(pairs)+1; i += 3 {
		out = append(out, transport.Offset{Topic: pairs[i].(string), Partition: pairs[i+1].(int),
			Next: int64(pairs[i+2].(int))})
	}
	return out
}
