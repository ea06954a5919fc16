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

func TestStageTimes(t *testing.T) {
	s, err := Open(context.Background(), Config{Path: t.TempDir() + "/x.db", CheckpointThreshold: os.Getenv("CP")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, symbols := 50000, 200
	batch := &sink.Batch{Trades: make([]md.Trade, n)}
	for i := range batch.Trades {
		batch.Trades[i] = mkTrade("binance", fmt.Sprintf("SYM%03d-USDT", i%symbols), uint64(i/symbols+1), uint64(i))
	}
	var last time.Time
	acc := map[string]time.Duration{}
	s.failpoint = func(st string) error {
		acc[st] += time.Since(last)
		last = time.Now()
		return nil
	}
	for it := 0; it < 40; it++ {
		last = time.Now()
		st := time.Now()
		if _, err := s.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		acc["commit"] += time.Since(last)
		acc["total"] += time.Since(st)
		fi, _ := os.Stat(s.cfg.Path + ".wal")
		fd, _ := os.Stat(s.cfg.Path)
		var wal int64
		if fi != nil {
			wal = fi.Size()
		}
		t.Logf("iter %d: %v wal %dMB db %dMB", it, time.Since(st), wal>>20, fd.Size()>>20)
		for i := range batch.Trades {
			batch.Trades[i].Prov.Seq += uint64(n/symbols + 1)
		}
	}
	t.Log(acc)
}
