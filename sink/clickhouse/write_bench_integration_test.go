//go:build integration

package clickhouse

import (
	"context"
	"fmt"
	"testing"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// BenchmarkIntegrationWrite measures trades per second into a real ClickHouse server (one
// Write per batch), the schema as migrated (with the candle views), with one trade
// INSERT per Write (par=1) and with Config.InsertParallelism 2 (par=2: two INSERTs at once
// for batches of at least 50,000 rows). client-cpu-ns/row is this process's CPU, less
// disturbed by a busy machine than the wall-clock rate. Compare runs with benchstat:
//
//	TICKFLOW_CLICKHOUSE=127.0.0.1:19000 go test -tags integration -run '^$' \
//	    -bench IntegrationWrite -benchtime 20x -count 6 ./sink/clickhouse/ | tee new.txt
//	benchstat old.txt new.txt
func BenchmarkIntegrationWrite(b *testing.B) {
	for _, v := range []struct{ n, par int }{{10_000, 1}, {100_000, 1}, {100_000, 2}, {200_000, 2}} {
		n := v.n
		b.Run(fmt.Sprintf("rows=%d/par=%d", n, v.par), func(b *testing.B) {
			cfg := testConfig(b)
			cfg.InsertParallelism = v.par
			s := openCfg(b, cfg)
			symbols := []string{"BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "DOGE-USDT",
				"ADA-USDT", "BNB-USDT", "TRX-USDT", "LINK-USDT", "AVAX-USDT"}
			batch := &sink.Batch{Trades: make([]md.Trade, n)}
			for i := range batch.Trades {
				batch.Trades[i] = mkTrade("binance", symbols[i%len(symbols)], uint64(i+1), uint64(i+1))
			}
			ctx := context.Background()
			b.ReportAllocs()
			epoch := uint64(0)
			cpu0 := processCPU()
			for b.Loop() {
				epoch++ // every batch is above the watermarks of the last
				for i := range batch.Trades {
					batch.Trades[i].Prov.Epoch = epoch
				}
				res, err := s.Write(ctx, batch)
				if err != nil {
					b.Fatal(err)
				}
				if res.Written.Trades != n {
					b.Fatalf("wrote %d of %d", res.Written.Trades, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(n)/float64(b.N), "client-cpu-ns/row")
		})
	}
}
