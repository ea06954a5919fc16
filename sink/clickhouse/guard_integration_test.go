//go:build integration

package clickhouse

import (
	"context"
	"errors"
	"testing"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// TestIntegrationWriteGuardAndReload: the consumer-group guard (ADR 0009) is checked inside
// every INSERT, so a writer fenced half-way leaves exactly a prefix of its batch and no
// offsets; a second store on the same database (another group member) that takes the
// partitions over re-derives its watermarks with Reload and stores the rest exactly once.
func TestIntegrationWriteGuardAndReload(t *testing.T) {
	cfg := testConfig(t)
	a := openCfg(t, cfg)
	b := openCfg(t, cfg) // opened before a writes: its cached watermarks are empty
	const topic = "tickflow.md.trades"

	batch := func(from, to uint64, withIntegrity bool) *sink.Batch {
		var bt sink.Batch
		if withIntegrity {
			bt.Integrity = append(bt.Integrity, mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, from))
		}
		for s := from; s <= to; s++ {
			bt.Trades = append(bt.Trades, mkTrade("binance", "BTC-USDT", s, s))
		}
		bt.Offsets = offsets(topic, 0, int(to))
		return &bt
	}
	write(t, a, batch(1, 10, false))

	// The guard passes until the integrity row has landed, then refuses: the trades' INSERT
	// (which follows the integrity INSERT) is refused while the server holds it open.
	errLost := errors.New("lease expired")
	ctx := sink.WithGuard(context.Background(), func() error {
		if queryInt(t, a, "SELECT count() FROM integrity") > 0 {
			return errLost
		}
		return nil
	})
	_, err := a.Write(ctx, batch(11, 20, true))
	if !errors.Is(err, sink.ErrFenced) || !errors.Is(err, errLost) {
		t.Fatalf("fenced write: %v, want ErrFenced wrapping the guard's error", err)
	}
	if n := queryInt(t, a, "SELECT count() FROM trades"); n != 10 {
		t.Fatalf("trades after the fenced write: %d, want the 10 of the first batch", n)
	}
	if n := queryInt(t, a, "SELECT count() FROM integrity"); n != 1 {
		t.Fatalf("integrity rows: %d, want 1 (its INSERT passed the guard)", n)
	}
	offs, err := a.Offsets(context.Background())
	if err != nil || len(offs) != 1 || offs[0].Next != 10 {
		t.Fatalf("offsets after the fenced write: %v, %v; want p0 at 10", offs, err)
	}

	// A guard refusing at once stores nothing.
	_, err = a.Write(sink.WithGuard(context.Background(), func() error { return errLost }), batch(11, 20, false))
	if !errors.Is(err, sink.ErrFenced) {
		t.Fatalf("refused write: %v", err)
	}

	// b takes the partition over: reload, then the stream from the stored offset (10) — and,
	// as after any crash between rows and offsets, rows it re-reads are skipped.
	if err := b.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := write(t, b, batch(1, 20, false))
	if res.Written.Trades != 10 || res.Duplicates.Trades != 10 {
		t.Fatalf("after Reload: written %d, duplicates %d; want 10 and 10", res.Written.Trades, res.Duplicates.Trades)
	}
	if n, d := queryInt(t, b, "SELECT count() FROM trades"), queryInt(t, b, "SELECT uniqExact(seq) FROM trades"); n != 20 || d != 20 {
		t.Fatalf("trades: %d rows, %d distinct; want 20 and 20", n, d)
	}
}
