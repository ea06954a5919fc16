package clickhouse

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

func TestStoresKind(t *testing.T) {
	var s Store
	for k := md.Kind(0); k < 12; k++ {
		want := k == md.KindTrade || k == md.KindIntegrity || k == md.KindBookUpdate ||
			k == md.KindBookStatus || k == md.KindBBO || k == md.KindFunding ||
			k == md.KindOpenInterest || k == md.KindLiquidation
		if got := s.StoresKind(k); got != want {
			t.Errorf("StoresKind(%s) = %v, want %v", k, got, want)
		}
	}
	if s.StoresKind(kindBookSnapshot) {
		t.Error("the internal book_snapshot key is not a stream kind")
	}
	if kindByName["book_snapshot"] != kindBookSnapshot {
		t.Error("watermarks of book_snapshots are not read back")
	}
}

func dec(m int64, s uint8) md.Decimal { return md.Decimal{Mant: m, Scale: s} }

// TestBookArrays: a message's levels go to one price and one quantity scale (the largest),
// exactly; snapshots are cut to the limit; a level that cannot be rescaled is an error that
// says what to do.
func TestBookArrays(t *testing.T) {
	b := &sink.Batch{Books: []md.BookUpdate{
		{Bids: []md.Level{{Price: dec(101, 1), Qty: dec(5, 0)}, {Price: dec(1005, 2), Qty: dec(25, 1)}},
			Asks: []md.Level{{Price: dec(102, 1), Qty: dec(1, 3)}}},
		{Asks: []md.Level{{Price: dec(7, 0), Qty: dec(1, 0)}, {Price: dec(8, 0), Qty: dec(2, 0)},
			{Price: dec(9, 0), Qty: dec(3, 0)}}},
		{},
	}}
	rows := []admitted{{i: 0}, {i: 1}, {i: 2}}
	arr, ps, qs, err := bookArrays(b, rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"price scales", ps, []uint8{2, 0, 0}},
		{"qty scales", qs, []uint8{3, 0, 0}},
		{"bid prices", arr[0], [][]int64{{1010, 1005}, {}, {}}},
		{"bid qtys", arr[1], [][]int64{{5000, 2500}, {}, {}}},
		{"ask prices", arr[2], [][]int64{{1020}, {7, 8}, {}}},
		{"ask qtys", arr[3], [][]int64{{1}, {1, 2}, {}}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	// Appending to one message's slice must not overwrite the next message's levels.
	_ = append(arr[2][0], 99)
	if arr[2][1][0] != 7 {
		t.Error("message arrays share capacity")
	}
	over := &sink.Batch{Books: []md.BookUpdate{{Header: md.Header{Venue: "v", Symbol: "s"},
		Bids: []md.Level{{Price: dec(math.MaxInt64/10, 0), Qty: dec(1, 0)}, {Price: dec(1, 18), Qty: dec(1, 0)}}}}}
	if _, _, _, err := bookArrays(over, []admitted{{i: 0}}, 0); err == nil ||
		!strings.Contains(err.Error(), "re-normalize") || !errors.Is(err, md.ErrRange) {
		t.Fatalf("overflowing rescale: %v", err)
	}
}

func TestAlignRange(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		iv               CandleInterval
		from, to         string
		wantFrom, wantTo string
		err              bool
	}{
		{Candles1m, "2026-01-01T00:00:30Z", "2026-01-01T00:02:00Z", "2026-01-01T00:00:00Z", "2026-01-01T00:02:00Z", false},
		{Candles1m, "2026-01-01T00:00:00Z", "2026-01-01T00:02:00.5Z", "2026-01-01T00:00:00Z", "2026-01-01T00:03:00Z", false},
		{Candles1h, "2026-01-01T05:59:59Z", "2026-01-01T06:00:01Z", "2026-01-01T05:00:00Z", "2026-01-01T07:00:00Z", false},
		{Candles1s, "2026-01-01T00:00:00.2Z", "2026-01-01T00:00:00.3Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", false},
		{Candles1m, "2026-01-01T00:05:00Z", "2026-01-01T00:05:00Z", "", "", true},
		{"5m", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "", "", true},
	} {
		f, to, err := alignRange(tc.iv, at(tc.from), at(tc.to))
		if (err != nil) != tc.err {
			t.Errorf("%s [%s, %s): err %v", tc.iv, tc.from, tc.to, err)
			continue
		}
		if !tc.err && (!f.Equal(at(tc.wantFrom)) || !to.Equal(at(tc.wantTo))) {
			t.Errorf("%s [%s, %s): got [%s, %s)", tc.iv, tc.from, tc.to, f, to)
		}
	}
}

// TestKindColumnsAndSQL: every INSERT column list ends with the header columns of the
// dialect, and the candle SQL uses the dialect's time columns.
func TestKindColumnsAndSQL(t *testing.T) {
	for _, d := range []Dialect{DialectLegacy, DialectModern} {
		hdr := strings.Join(headerColumns(d), ",")
		for name, cols := range map[string][]string{"book_updates": bookUpdateColumns(d),
			"book_snapshots": bookSnapshotColumns(d), "book_status": bookStatusColumns(d),
			"bbo": bboColumns(d), "funding": fundingColumns(d),
			"open_interest": openInterestColumns(d), "liquidations": liquidationColumns(d)} {
			if !strings.HasSuffix(strings.Join(cols, ","), hdr) || cols[0] != "venue" || cols[1] != "symbol" {
				t.Errorf("%s %s columns %v", d, name, cols)
			}
		}
		q := rebuildCandlesSQL(d, Candles1m, true, true)
		wantTime := map[Dialect]string{DialectLegacy: "ifNull(exch_ns, recv_ns)",
			DialectModern: "toUnixTimestamp64Nano(ifNull(exch_time, recv_time))"}[d]
		if !strings.Contains(q, wantTime) || !strings.Contains(q, "toStartOfMinute(") ||
			strings.Count(q, "?") != 5 {
			t.Errorf("%s rebuild SQL:\n%s", d, q)
		}
		if n := strings.Count(bookLevelsSQL(d, 10), "?"); n != 15 || !strings.Contains(bookLevelsSQL(d, 10), "LIMIT 10 BY side") {
			t.Errorf("%s book levels SQL has %d parameters", d, n)
		}
		if strings.Contains(bookLevelsSQL(d, 0), "LIMIT") {
			t.Errorf("%s book levels SQL limits depth 0", d)
		}
	}
}

func TestSnapshotLevelsConfig(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{0, true}, {1, true}, {10_000, true}, {-1, false}, {10_001, false}} {
		if err := (Config{SnapshotLevels: tc.n}).Validate(); (err == nil) != tc.ok {
			t.Errorf("SnapshotLevels %d: %v", tc.n, err)
		}
	}
	if got := (Config{}).withDefaults().SnapshotLevels; got != DefaultSnapshotLevels {
		t.Errorf("default %d", got)
	}
	c, err := ParseDSN("clickhouse://127.0.0.1:9000/db?snapshot_levels=50")
	if err != nil || c.SnapshotLevels != 50 {
		t.Errorf("dsn: %+v %v", c, err)
	}
	if _, err := ParseDSN("clickhouse://127.0.0.1:9000/db?snapshot_levels=x"); err == nil {
		t.Error("bad snapshot_levels accepted")
	}
}
