package binancesim

import (
	"fmt"
	"testing"
)

// Compare order-book changes with:
//
//	go test -run '^$' -bench 'DepthEvent|BookTicker|BookUpdate|HashTop|PublishDepth' -count 10 ./collectors/sim/binance/ > old.txt
//	(change, rerun into new.txt)
//	benchstat old.txt new.txt
func BenchmarkAppendDepthEvent(b *testing.B) {
	syms := buildSymbols(2, 1, 1000)
	for _, sym := range syms {
		for _, levels := range []int{20, 200} {
			changed := make([]int64, 0, 2*levels)
			for i := range levels {
				changed = append(changed, sym.book.bids.priceAt(len(sym.book.bids.lv)-1-i)<<1|sideBid,
					sym.book.asks.priceAt(len(sym.book.asks.lv)-1-i)<<1|sideAsk,
					(sym.book.bids.priceAt(len(sym.book.bids.lv)-1)-int64(levels+i))<<1|sideBid) // removed
			}
			changed = sortUnique(changed)
			b.Run(fmt.Sprintf("symbol=%s/levels=%d", sym.inst.Symbol, len(changed)), func(b *testing.B) {
				buf := make([]byte, 0, 1<<20)
				b.ReportAllocs()
				for b.Loop() {
					buf = sym.appendDepthEvent(buf[:0], 1672515782136, 157, 160, changed)
				}
				b.SetBytes(int64(len(buf)))
			})
		}
	}
}

func BenchmarkAppendBookTicker(b *testing.B) {
	btc := buildSymbols(2, 1, 1000)[0]
	buf := make([]byte, 0, 512)
	top := btc.book.currentTop()
	b.ReportAllocs()
	for b.Loop() {
		buf = btc.appendBookTicker(buf[:0], 400900217, top)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkHashTop(b *testing.B) {
	btc := buildSymbols(2, 1, 1000)[0]
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		_, buf = btc.hashTop(buf, DefaultBookHashDepth)
	}
}

// BenchmarkBookUpdate measures one trade's effect on its book plus the
// order flow after it (locks included, no subscribers): the per-trade
// book cost of the generator. ns/update is per update id.
func BenchmarkBookUpdate(b *testing.B) {
	s, err := New(Config{Symbols: 200, Seed: 1, HistoryLimit: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	var g genScratch
	var updates int64
	b.ReportAllocs()
	for b.Loop() {
		idx, t := s.market.next()
		sym := s.syms[idx]
		before := sym.book.lastID
		s.bookTrade(&g, sym, t)
		updates += sym.book.lastID - before
		if len(sym.book.dirty) > 1<<16 {
			sym.book.dirty = sym.book.dirty[:0]
		}
	}
	b.ReportMetric(float64(updates)/float64(b.N), "updates/trade")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(updates), "ns/update")
}

// BenchmarkProduceWithBooks is the generator's whole job at 200 symbols
// with one connection's queue (no socket) subscribed to trade, bookTicker
// and depth@100ms of every symbol: 10000 trades then a 100 ms boundary,
// as at 100k trades/s.
func BenchmarkProduceWithBooks(b *testing.B) {
	s, err := New(Config{Symbols: 200, Seed: 1, HistoryLimit: 10_000, BookLog: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	c := &wsConn{limit: 1 << 30, wakeC: make(chan struct{}, 1)}
	for _, sym := range s.syms {
		for _, kind := range []int{kindTrade, kindBookTicker, kindDepth100} {
			s.addSubLocked(streamRef{sym: sym, kind: kind}, c)
		}
	}
	var g genScratch
	var frames int
	b.ReportAllocs()
	for b.Loop() {
		s.produce(&g, 10_000, 1672515782136)
		s.publishDepth(&g, 1672515782136, false)
		frames += len(c.q)
		c.q = c.q[:0]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10_000), "ns/trade")
	b.ReportMetric(float64(frames)/float64(b.N*10_000), "frames/trade")
}
