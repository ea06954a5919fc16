package binancesim

import "testing"

// Compare encoder changes with:
//
//	go test -run '^$' -bench 'AppendTradeEvent|RESTTrade' -count 10 ./collectors/sim/binance/ > old.txt
//	(change, rerun into new.txt)
//	benchstat old.txt new.txt
func BenchmarkAppendTradeEvent(b *testing.B) {
	syms := buildSymbols(2, 1, 1000)
	for _, bc := range []struct {
		name string
		sym  *symbolState
		tr   trade
	}{
		{"symbol=BTCUSDT", syms[0], trade{id: 3_123_456_789, priceTicks: 6500001, qtySteps: 120, buyerMaker: true}},
		{"symbol=PEPEUSDT", syms[1], trade{id: 123_456_789, priceTicks: 1234, qtySteps: 98_765_432_100}},
	} {
		b.Run(bc.name+"/form=combined", func(b *testing.B) {
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = bc.sym.appendCombinedTradeEvent(buf[:0], bc.tr, 1672515782137, 1672515782136)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkAppendRESTTrade(b *testing.B) {
	btc := buildSymbols(2, 1, 1000)[0]
	rec := histRec{priceTicks: 6500001, qtySteps: 120, timeBM: 1499865549590 << 1}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = btc.appendRESTTrade(buf[:0], 28457, rec)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkProduce measures generation with two subscribed connections'
// queues (no sockets): market step, history, trade log and one shared
// encoding per trade.
func BenchmarkProduce(b *testing.B) {
	s, err := New(Config{Symbols: 200, Seed: 1, HistoryLimit: 10_000, TradeLog: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	conns := []*wsConn{{limit: 1 << 30, wakeC: make(chan struct{}, 1)}, {limit: 1 << 30, wakeC: make(chan struct{}, 1)}}
	for _, sym := range s.syms {
		for _, c := range conns {
			s.addSubLocked(streamRef{sym: sym, kind: kindTrade}, c)
		}
	}
	var g genScratch
	b.ReportAllocs()
	for b.Loop() {
		s.produce(&g, 100, 1672515782136)
		for _, c := range conns {
			c.q = c.q[:0]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/trade")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
