package duckdb

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

// BenchmarkWriteTrades measures the DuckDB write path: watermark filtering, the appenders,
// the watermark and offset upserts and the commit, for batches of fresh trades spread over
// 200 instruments. rows/s is the number to watch.
//
// Compare runs with benchstat:
//
//	go test -run '^$' -bench BenchmarkWriteTrades -count 6 ./sink/duckdb/ > new.txt
//	benchstat old.txt new.txt
func BenchmarkWriteTrades(b *testing.B) {
	for _, batch := range []int{1000, 10000, 50000} {
		for _, ids := range []string{"numeric", "text"} {
			b.Run(fmt.Sprintf("batch=%d/ids=%s", batch, ids), func(b *testing.B) {
				benchWrite(b, batch, ids == "text")
			})
		}
	}
}

func benchWrite(b *testing.B, n int, textIDs bool) {
	s, err := Open(context.Background(), Config{Path: b.TempDir() + "/bench.duckdb",
		CheckpointThreshold: os.Getenv("TICKFLOW_BENCH_CHECKPOINT")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const symbols = 200
	names := make([]string, symbols)
	for i := range names {
		names[i] = fmt.Sprintf("SYM%03d-USDT", i)
	}
	batch := &sink.Batch{Trades: make([]md.Trade, n)}
	for i := range batch.Trades {
		tr := mkTrade("binance", names[i%symbols], uint64(i/symbols+1), uint64(i))
		if textIDs {
			id, err := md.TextID(fmt.Appendf(nil, "9b1deb4d-3b7d-4bad-9bdd-%012d", i))
			if err != nil {
				b.Fatal(err)
			}
			tr.ID = id
		}
		batch.Trades[i] = tr
	}
	perSymbol := uint64(n/symbols + 1)
	ctx := context.Background()
	rows := 0
	offset := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		offset += int64(n)
		batch.Offsets = append(batch.Offsets[:0],
			transport.Offset{Topic: transport.TopicTrades, Partition: 0, Next: offset})
		res, err := s.Write(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if res.Written.Trades != n {
			b.Fatalf("wrote %d of %d", res.Written.Trades, n)
		}
		rows += n
		for i := range batch.Trades {
			batch.Trades[i].Prov.Seq += perSymbol
			batch.Trades[i].RecvTime += 1_000_000
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
