package duckdb

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// Variant: VARIANT=nowm skips watermark upsert; noidx: no PK on watermarks
func TestExp2(t *testing.T) {
	s, err := Open(context.Background(), Config{Path: t.TempDir() + "/x.db", CheckpointThreshold: "1GB"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, symbols := 50000, 200
	batch := &sink.Batch{Trades: make([]md.Trade, n)}
	for i := range batch.Trades {
		batch.Trades[i] = mkTrade("binance", fmt.Sprintf("SYM%03d-USDT", i%symbols), uint64(i/symbols+1), uint64(i))
	}
	for it := 0; it < 30; it++ {
		st := time.Now()
		if _, err := s.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		w := time.Since(st)
		var cp time.Duration
		if it%3 == 2 {
			c := time.Now()
			if _, err := s.wconn.ExecContext(context.Background(), os.Getenv("CPSQL")); err != nil {
				t.Fatal(err)
			}
			cp = time.Since(c)
		}
		t.Logf("iter %d write %v checkpoint %v", it, w.Round(time.Millisecond), cp.Round(time.Millisecond))
		for i := range batch.Trades {
			batch.Trades[i].Prov.Seq += uint64(n/symbols + 1)
		}
	}
}
