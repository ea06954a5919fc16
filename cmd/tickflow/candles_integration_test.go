//go:build integration

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// TestIntegrationCandlesCommand: the candle views of a store drift (every 1s and 1m state
// inserted twice, as a retried INSERT outside the sink does); `tickflow candles reconcile`
// rebuilds exactly the drifted buckets, after which the views count every trade once and a
// second reconcile finds nothing; `tickflow candles rebuild` leaves them right.
func TestIntegrationCandlesCommand(t *testing.T) {
	const n = 2500 // 1 ms apart from 2026-01-01T00:00:00Z: 3 seconds, 1 minute, 1 hour
	dsn := clickhouseQueryStore(t, n)
	addrDB := strings.TrimPrefix(dsn, "clickhouse://")
	addr, db, _ := strings.Cut(addrDB, "/")
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, Auth: ch.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	counted := func(iv string) uint64 {
		t.Helper()
		var c uint64
		if err := conn.QueryRow(ctx, "SELECT toUInt64(sum(trades)) FROM candles_"+iv+"_v").Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := conn.Exec(ctx, "INSERT INTO candles SELECT * FROM candles WHERE interval_s IN (1, 60)"); err != nil {
		t.Fatal(err)
	}
	for _, iv := range []string{"1s", "1m"} {
		if c := counted(iv); c != 2*n {
			t.Fatalf("candles_%s_v counts %d trades after the double insert, want %d", iv, c, 2*n)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{"candles"}, append(args, "--clickhouse-dsn", dsn,
			"--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T02:00:00Z")...)
		if code := mainErr(args, &out, &errb); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	out := run("reconcile")
	for _, want := range []string{"candles_1s [2026-01-01T00:00:00Z, 2026-01-01T02:00:00Z): 3 buckets compared, 3 rebuilt",
		"candles_1m [2026-01-01T00:00:00Z, 2026-01-01T02:00:00Z): 1 buckets compared, 1 rebuilt",
		"candles_1h [2026-01-01T00:00:00Z, 2026-01-01T02:00:00Z): 1 buckets compared, 0 rebuilt",
		"rebuilt binance BTC-USDT 2026-01-01T00:00:02Z"} {
		if !strings.Contains(out, want) {
			t.Fatalf("reconcile output lacks %q:\n%s", want, out)
		}
	}
	for _, iv := range []string{"1s", "1m", "1h"} {
		if c := counted(iv); c != n {
			t.Fatalf("candles_%s_v counts %d trades after reconcile, want %d", iv, c, n)
		}
	}
	if out := run("reconcile"); strings.Count(out, " 0 rebuilt") != 3 {
		t.Fatalf("second reconcile rebuilt something:\n%s", out)
	}
	if out := run("rebuild", "--interval", "1h"); !strings.Contains(out, "candles_1h [2026-01-01T00:00:00Z, 2026-01-01T02:00:00Z): rebuilt") {
		t.Fatalf("rebuild output:\n%s", out)
	}
	if c := counted("1h"); c != n {
		t.Fatalf("candles_1h_v counts %d trades after rebuild, want %d", c, n)
	}
}
