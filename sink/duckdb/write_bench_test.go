//go:build unix

package duckdb

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

// BenchmarkWriteTrades measures the DuckDB write path: watermark filtering, the appenders,
// the watermark and offset upserts and the commit, for batches of fresh trades spread over
// 200 instruments. rows/s is the number to watch; rows/cpu-s (rows per CPU-second of the
// process) is steadier on a shared machine. TICKFLOW_BENCH_CHECKPOINT sets DuckDB's
// checkpoint_threshold ("64MB"; default DuckDB's 16MB), TICKFLOW_BENCH_THREADS its threads.
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
		CheckpointThreshold: os.Getenv("TICKFLOW_BENCH_CHECKPOINT"), Threads: benchThreads()})
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
	cpu0 := cpuTime()
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
	// Rows per CPU-second of the whole process (DuckDB's threads included): the rate on an
	// otherwise idle core, robust against noisy neighbours on a shared machine.
	b.ReportMetric(float64(rows)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
}

func benchThreads() int {
	n, _ := strconv.Atoi(os.Getenv("TICKFLOW_BENCH_THREADS"))
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
