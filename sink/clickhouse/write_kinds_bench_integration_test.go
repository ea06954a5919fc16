//go:build integration

package clickhouse

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// BenchmarkIntegrationWriteKinds measures rows per second of the tables beyond trades into a
// real ClickHouse server, one Write per batch over 10 instruments (book updates: deltas of
// 10+10 levels, every 100th a 500+500-level snapshot, which also goes to book_snapshots).
// Compare runs with benchstat:
//
//	TICKFLOW_CLICKHOUSE=127.0.0.1:19000 go test -tags integration -run '^$' \
//	    -bench IntegrationWriteKinds -benchtime 20x -count 6 ./sink/clickhouse/ | tee new.txt
//	benchstat old.txt new.txt
func BenchmarkIntegrationWriteKinds(b *testing.B) {
	symbols := []string{"BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "DOGE-USDT",
		"ADA-USDT", "BNB-USDT", "TRX-USDT", "LINK-USDT", "AVAX-USDT"}
	levels := func(n int, base int64, step int64) []md.Level {
		out := make([]md.Level, n)
		for i := range out {
			out[i] = lv(base+int64(i)*step, int64(1+i))
		}
		return out
	}
	mk := map[string]func(n int) *sink.Batch{
		"book": func(n int) *sink.Batch {
			bt := &sink.Batch{Books: make([]md.BookUpdate, n)}
			for i := range bt.Books {
				u := md.BookUpdate{Header: mkHeader("binance", symbols[i%10], uint64(i+1),
					baseTime+int64(i)*1000), Seq: uint64(i/10 + 1), Depth: 500}
				if i/10%100 == 0 {
					u.Snapshot = true
					u.Bids, u.Asks = levels(500, 100_000, -1), levels(500, 100_001, 1)
				} else {
					u.Bids, u.Asks = levels(10, 100_000, -1), levels(10, 100_001, 1)
				}
				bt.Books[i] = u
			}
			return bt
		},
		"bbo": func(n int) *sink.Batch {
			bt := &sink.Batch{BBOs: make([]md.BBO, n)}
			for i := range bt.BBOs {
				bt.BBOs[i] = md.BBO{Header: mkHeader("binance", symbols[i%10], uint64(i+1),
					baseTime+int64(i)*1000), BidPrice: md.Decimal{Mant: 100_000, Scale: 2},
					BidQty: md.Decimal{Mant: 5, Scale: 3}, AskPrice: md.Decimal{Mant: 100_001, Scale: 2},
					AskQty: md.Decimal{Mant: 7, Scale: 3}, UpdateID: uint64(i + 1)}
			}
			return bt
		},
		"derivs": func(n int) *sink.Batch { // a third each of funding, open interest, liquidations
			bt := &sink.Batch{}
			for i := range n {
				h := mkHeader("binance", symbols[i%10]+"-PERP", uint64(i+1), baseTime+int64(i)*1000)
				switch i % 3 {
				case 0:
					bt.Funding = append(bt.Funding, md.Funding{Header: h,
						Rate: md.Decimal{Mant: 100, Scale: 8}, MarkPrice: md.Decimal{Mant: 9_700_012, Scale: 2},
						IndexPrice: md.Decimal{Mant: 9_699_055, Scale: 2}, FundingTime: h.RecvTime})
				case 1:
					bt.OpenInterest = append(bt.OpenInterest, md.OpenInterest{Header: h,
						Qty: md.Decimal{Mant: 81_234_567, Scale: 3}})
				default:
					bt.Liquidations = append(bt.Liquidations, md.Liquidation{Header: h,
						Side: md.SideSell, Price: md.Decimal{Mant: 9_650_010, Scale: 2},
						Qty: md.Decimal{Mant: 250, Scale: 3}})
				}
			}
			return bt
		},
	}
	for _, kind := range []string{"book", "bbo", "derivs"} {
		for _, n := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("kind=%s/rows=%d", kind, n), func(b *testing.B) {
				s := openCfg(b, testConfig(b))
				batch := mk[kind](n)
				var headers []*md.Header
				for i := range batch.Books {
					headers = append(headers, &batch.Books[i].Header)
				}
				for i := range batch.BBOs {
					headers = append(headers, &batch.BBOs[i].Header)
				}
				for i := range batch.Funding {
					headers = append(headers, &batch.Funding[i].Header)
				}
				for i := range batch.OpenInterest {
					headers = append(headers, &batch.OpenInterest[i].Header)
				}
				for i := range batch.Liquidations {
					headers = append(headers, &batch.Liquidations[i].Header)
				}
				ctx := context.Background()
				b.ReportAllocs()
				epoch := uint64(0)
				cpu0 := processCPU()
				for b.Loop() {
					epoch++ // every batch is above the watermarks of the last
					for _, h := range headers {
						h.Prov.Epoch = epoch
					}
					res, err := s.Write(ctx, batch)
					if err != nil {
						b.Fatal(err)
					}
					if res.Written.Total() != n {
						b.Fatalf("wrote %d of %d", res.Written.Total(), n)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				// The client's CPU (encoding and sending), which the load of a shared machine
				// disturbs less than the wall-clock rates.
				b.ReportMetric(float64(processCPU()-cpu0)/float64(n)/float64(b.N), "client-cpu-ns/row")
				if lv := batch.Levels(); lv > 0 {
					b.ReportMetric(float64(lv)*float64(b.N)/b.Elapsed().Seconds(), "levels/s")
				}
			})
		}
	}
}

// BenchmarkIntegrationCandleViews measures what the candle views cost the trade
// INSERTs: the same batches with the views (views=on, the schema as migrated) and after
// dropping them (views=off), at 10,000- and 100,000-row batches; client-cpu-ns/row as in
// BenchmarkIntegrationWrite.
func BenchmarkIntegrationCandleViews(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, views := range []string{"on", "off"} {
			b.Run(fmt.Sprintf("views=%s/rows=%d", views, n), func(b *testing.B) {
				s := openCfg(b, testConfig(b))
				if views == "off" {
					if err := s.conn.Exec(context.Background(), "DROP TABLE "+CandleFeedView); err != nil {
						b.Fatal(err)
					}
				}
				batch := &sink.Batch{Trades: make([]md.Trade, n)}
				for i := range batch.Trades {
					batch.Trades[i] = mkTrade("binance", fmt.Sprint("S", i%10), uint64(i+1), uint64(i+1))
				}
				epoch := uint64(0)
				cpu0 := processCPU()
				for b.Loop() {
					epoch++
					for i := range batch.Trades {
						batch.Trades[i].Prov.Epoch = epoch
					}
					if _, err := s.Write(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(processCPU()-cpu0)/float64(n)/float64(b.N), "client-cpu-ns/row")
			})
		}
	}
}

// BenchmarkIntegrationBookAt measures rebuilding one book (top 10 levels per side) on a
// store of 200,000 book messages of 10 instruments (20,000 each, a 500+500-level snapshot
// every 100 messages), with no lookback and with one that holds a single snapshot.
func BenchmarkIntegrationBookAt(b *testing.B) {
	s := openCfg(b, testConfig(b))
	symbols := []string{"BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "DOGE-USDT",
		"ADA-USDT", "BNB-USDT", "TRX-USDT", "LINK-USDT", "AVAX-USDT"}
	const perSymbol = 20_000
	ctx := context.Background()
	var last int64
	for chunk := range 4 {
		batch := &sink.Batch{}
		for i := chunk * perSymbol / 4; i < (chunk+1)*perSymbol/4; i++ {
			for k, sym := range symbols {
				recv := baseTime + int64(i)*1_000_000 + int64(k)
				u := md.BookUpdate{Header: mkHeader("binance", sym, uint64(i+1), recv),
					Seq: uint64(i + 1), PrevSeq: uint64(i), Depth: 500}
				if i%100 == 0 {
					u.Snapshot = true
					for j := range int64(500) {
						u.Bids = append(u.Bids, lv(100_000-j, 1+j%7))
						u.Asks = append(u.Asks, lv(100_001+j, 1+j%5))
					}
				} else {
					u.Bids = []md.Level{lv(100_000-int64(i%40), int64(i%3))}
					u.Asks = []md.Level{lv(100_001+int64(i%40), int64(i%4))}
				}
				batch.Books = append(batch.Books, u)
				last = recv
			}
		}
		if _, err := s.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	for _, lookback := range []time.Duration{0, 150 * time.Millisecond} {
		b.Run("lookback="+lookback.String(), func(b *testing.B) {
			for b.Loop() {
				bk, err := s.BookAtWithin(ctx, "binance", "BTC-USDT", last, 10, lookback)
				if err != nil || bk == nil || len(bk.Bids) != 10 {
					b.Fatalf("%+v %v", bk, err)
				}
			}
		})
	}
}

// processCPU returns the CPU time (user + system) the process has used, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
