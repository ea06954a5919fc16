//go:build unix

package duckdb

import (
	"context"
	"fmt"
	"math/rand/v2"
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
// checkpoint_threshold ("16MB" for DuckDB's own; default DefaultCheckpointThreshold), TICKFLOW_BENCH_THREADS its threads.
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

// BenchmarkWriteBooks measures the write path of book updates: headers and levels, for
// batches of deltas (10 bids + 10 asks each) and of full snapshots (500 + 500), spread over
// 200 instruments. levels/s is the number to watch (levels/cpu-s on a shared machine);
// msgs/s counts book updates.
//
//	go test -run '^$' -bench BenchmarkWriteBooks -count 6 ./sink/duckdb/
func BenchmarkWriteBooks(b *testing.B) {
	for _, c := range []struct {
		name         string
		msgs, levels int // per batch, per side
	}{
		{"deltas/batch=1000", 1000, 10},
		{"deltas/batch=10000", 10000, 10},
		{"snapshots/batch=100", 100, 500},
	} {
		b.Run(c.name, func(b *testing.B) { benchWriteBooks(b, c.msgs, c.levels) })
	}
}

func benchWriteBooks(b *testing.B, n, perSide int) {
	s, err := Open(context.Background(), Config{Path: b.TempDir() + "/bench.duckdb",
		CheckpointThreshold: os.Getenv("TICKFLOW_BENCH_CHECKPOINT"), Threads: benchThreads()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const symbols = 200
	rng := rand.New(rand.NewPCG(1, 2))
	batch := &sink.Batch{Books: make([]md.BookUpdate, n)}
	levels := 0
	for i := range batch.Books {
		seq := uint64(i/symbols + 1)
		u := mkBook("binance", fmt.Sprintf("SYM%03d-USDT", i%symbols), seq, seq, perSide > 100, nil, nil)
		for j := range perSide {
			u.Bids = append(u.Bids, lvl(6500000-int64(j*10)-rng.Int64N(10), rng.Int64N(1e6)))
			u.Asks = append(u.Asks, lvl(6500010+int64(j*10)+rng.Int64N(10), rng.Int64N(1e6)))
		}
		levels += 2 * perSide
		batch.Books[i] = u
	}
	perSymbol := uint64(n/symbols + 1)
	ctx := context.Background()
	var msgs, written int
	offset := int64(0)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		offset += int64(n)
		batch.Offsets = append(batch.Offsets[:0],
			transport.Offset{Topic: transport.TopicBooks, Partition: 0, Next: offset})
		res, err := s.Write(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if res.Written.Books != n || res.Levels != levels {
			b.Fatalf("wrote %d of %d updates, %d of %d levels", res.Written.Books, n, res.Levels, levels)
		}
		msgs += n
		written += levels
		for i := range batch.Books {
			u := &batch.Books[i]
			u.Prov.Seq += perSymbol
			u.Seq += perSymbol
			u.PrevSeq += perSymbol
			u.RecvTime += 1_000_000
		}
	}
	cpu := (cpuTime() - cpu0).Seconds()
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "levels/s")
	b.ReportMetric(float64(written)/cpu, "levels/cpu-s")
}

// BenchmarkWriteBBO measures the write path of BBOs (200 instruments).
func BenchmarkWriteBBO(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s, err := Open(context.Background(), Config{Path: b.TempDir() + "/bench.duckdb",
				CheckpointThreshold: os.Getenv("TICKFLOW_BENCH_CHECKPOINT"), Threads: benchThreads()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const symbols = 200
			batch := &sink.Batch{BBOs: make([]md.BBO, n)}
			for i := range batch.BBOs {
				batch.BBOs[i] = mkBBO("binance", fmt.Sprintf("SYM%03d-USDT", i%symbols), uint64(i/symbols+1))
				batch.BBOs[i].BidPrice.Mant += int64(i % 97)
			}
			perSymbol := uint64(n/symbols + 1)
			rows := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				res, err := s.Write(context.Background(), batch)
				if err != nil || res.Written.BBOs != n {
					b.Fatalf("wrote %+v: %v", res, err)
				}
				rows += n
				for i := range batch.BBOs {
					batch.BBOs[i].Prov.Seq += perSymbol
					batch.BBOs[i].RecvTime += 1_000_000
				}
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(rows)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
		})
	}
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

// BenchmarkBookAt measures the book_at macro on a store of 200 instruments whose books
// have a 500+500-level snapshot every 50 messages and deltas of 10+10 levels between them
// (about 8M levels, 400k messages), rebuilding one book at 90% of the history, with and
// without a lookback window.
func BenchmarkBookAt(b *testing.B) {
	s, err := Open(context.Background(), Config{Path: b.TempDir() + "/bench.duckdb",
		Threads: benchThreads()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const symbols, batches, perBatch = 200, 40, 10000
	rng := rand.New(rand.NewPCG(1, 2))
	batch := &sink.Batch{}
	for k := range batches {
		batch.Books = batch.Books[:0]
		for i := range perBatch {
			n := k*perBatch + i
			seq := uint64(n/symbols + 1)
			perSide := 10
			if seq%50 == 1 {
				perSide = 500
			}
			u := mkBook("binance", fmt.Sprintf("SYM%03d-USDT", n%symbols), seq, seq, seq%50 == 1, nil, nil)
			u.RecvTime = baseTime + int64(n)*1000
			for j := range perSide {
				q := rng.Int64N(1e6)
				if rng.IntN(4) == 0 {
					q = 0
				}
				u.Bids = append(u.Bids, lvl(6500000-int64(j*10)-rng.Int64N(1000), q))
				u.Asks = append(u.Asks, lvl(6500010+int64(j*10)+rng.Int64N(1000), q))
			}
			batch.Books = append(batch.Books, u)
		}
		if _, err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d book levels stored", queryInt(b, s, "SELECT count(*) FROM book_levels"))
	if _, err := s.wconn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
		b.Fatal(err)
	}
	at := baseTime + int64(batches*perBatch*9/10)*1000
	for _, c := range []struct{ name, lookback string }{
		{"lookback=none", ""},
		{"lookback=5%", ", lookback := INTERVAL 20 MILLISECOND"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r, err := s.Query(context.Background(), "SELECT count(*) FROM book_at('binance', "+
					"'SYM007-USDT', make_timestamp_ns(?), 20"+c.lookback+")", at)
				if err != nil || r.Values[0][0] != int64(40) {
					b.Fatalf("book_at: %v %v", r, err)
				}
			}
		})
	}
}
