package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/sink/clickhouse"
)

func TestParseCandlesArgs(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	dsn := "--clickhouse-dsn=clickhouse://127.0.0.1:9000/md"
	o, err := parseCandlesArgs([]string{"reconcile", dsn}, now, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.action != "reconcile" || len(o.intervals) != 3 || !o.to.Equal(now.Add(-5*time.Minute)) ||
		!o.from.Equal(o.to.Add(-24*time.Hour)) {
		t.Fatalf("defaults: %+v", o)
	}
	o, err = parseCandlesArgs([]string{"rebuild", dsn, "--interval", "1m", "--from", "2026-01-01T00:00:00Z",
		"--to", "2026-01-02T00:00:00+01:00", "--venue", "binance", "--symbol", "BTC-USDT"}, now, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.intervals) != 1 || o.intervals[0] != clickhouse.Candles1m || o.venue != "binance" ||
		!o.to.Equal(time.Date(2026, 1, 1, 23, 0, 0, 0, time.UTC)) {
		t.Fatalf("rebuild: %+v", o)
	}
	o, err = parseCandlesArgs([]string{"reconcile", dsn, "--from", "1767225600000000000"}, now, io.Discard)
	if err != nil || !o.from.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("--from in Unix ns: %+v, %v", o, err)
	}
	if _, err := parseCandlesArgs([]string{"reconcile", dsn, "--to", "soon"}, now, io.Discard); err == nil ||
		strings.Contains(err.Error(), "is not before") {
		t.Fatalf("a bad --to is reported alone: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "say reconcile or rebuild"},
		{[]string{"vacuum", dsn}, `unknown action "vacuum"`},
		{[]string{"reconcile"}, "--clickhouse-dsn is required"},
		{[]string{"reconcile", dsn, "--interval", "5m"}, `--interval "5m"`},
		{[]string{"reconcile", dsn, "--from", "yesterday"}, `--from "yesterday"`},
		{[]string{"reconcile", dsn, "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"}, "is not before"},
		{[]string{"rebuild", dsn, "--venue", "binance"}, "--venue and --symbol go together"},
		{[]string{"reconcile", dsn, "--venue", "binance", "--symbol", "X"}, "apply to rebuild"},
		{[]string{"reconcile", dsn, "extra"}, "unexpected arguments"},
	} {
		_, err := parseCandlesArgs(tc.args, now, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
