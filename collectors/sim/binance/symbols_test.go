package binancesim

import (
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"testing"
)

func TestInstruments(t *testing.T) {
	s, err := New(Config{Symbols: 40, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	in := s.Instruments()
	if len(in) != 40 {
		t.Fatalf("%d instruments", len(in))
	}
	want := []Instrument{
		{"BTCUSDT", "BTC", "USDT", "0.01000000", "0.00001000", 8, 8},
		{"PEPEUSDT", "PEPE", "USDT", "0.00000001", "1.00", 2, 8},
		{"ETHUSDT", "ETH", "USDT", "0.01000000", "0.00010000", 8, 8},
		{"SOLUSDT", "SOL", "USDT", "0.01000000", "0.00100000", 8, 8},
		{"BNBUSDT", "BNB", "USDT", "0.01000000", "0.00100000", 8, 8},
		{"XRPUSDT", "XRP", "USDT", "0.00010000", "1.00000000", 8, 8},
		{"DOGEUSDT", "DOGE", "USDT", "0.00001000", "1.00000000", 8, 8},
	}
	if !reflect.DeepEqual(in[:len(want)], want) {
		t.Fatalf("instruments:\n got %+v\nwant %+v", in[:len(want)], want)
	}
	if in[20].Symbol != "SYM0020USDT" || in[20].Base != "SYM0020" {
		t.Fatalf("synthetic name %+v", in[20])
	}
	dec := regexp.MustCompile(`^\d+\.\d+$`)
	scales := map[string]bool{}
	for i, x := range in {
		sym := s.syms[i]
		if !dec.MatchString(x.TickSize) || !dec.MatchString(x.StepSize) {
			t.Errorf("%s: tick %q step %q", x.Symbol, x.TickSize, x.StepSize)
		}
		if sym.tickDec+sym.stepDec > quotePrecision || sym.stepDec > x.BasePrecision {
			t.Errorf("%s: tickDec %d stepDec %d basePrec %d: quoteQty would not be exact",
				x.Symbol, sym.tickDec, sym.stepDec, x.BasePrecision)
		}
		// The price*qty bound keeps quoteQty exact in int64.
		p := new(big.Int).Mul(big.NewInt(sym.maxTicks), big.NewInt(sym.maxSteps))
		if !p.IsInt64() {
			t.Errorf("%s: maxTicks*maxSteps overflows", x.Symbol)
		}
		scales[fmt.Sprint(sym.tickDec)] = true
	}
	if len(scales) < 4 {
		t.Errorf("synthetic symbols have too few price scales: %v", scales)
	}
}

func TestDeterministicMarket(t *testing.T) {
	gen := func(seed int64) []string {
		syms := buildSymbols(20, seed, 1000)
		m := newMarket(syms, seed)
		out := make([]string, 0, 5000)
		for range 5000 {
			idx, tr := m.next()
			out = append(out, fmt.Sprintf("%s %d %d %d %v", syms[idx].inst.Symbol, tr.id, tr.priceTicks, tr.qtySteps, tr.buyerMaker))
		}
		return out
	}
	a, b, c := gen(42), gen(42), gen(43)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different trades")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same trades")
	}
}

func TestMarketModel(t *testing.T) {
	syms := buildSymbols(20, 1, 1000)
	m := newMarket(syms, 1)
	next := map[int]int64{}
	counts := make([]int, len(syms))
	var sells int
	const n = 200_000
	for range n {
		idx, tr := m.next()
		s := syms[idx]
		if want, ok := next[idx]; ok && tr.id != want {
			t.Fatalf("%s: id %d, want %d", s.inst.Symbol, tr.id, want)
		}
		next[idx] = tr.id + 1
		if tr.priceTicks < s.minTicks || tr.priceTicks > s.maxTicks {
			t.Fatalf("%s: price %d out of [%d, %d]", s.inst.Symbol, tr.priceTicks, s.minTicks, s.maxTicks)
		}
		if tr.qtySteps < 1 || tr.qtySteps > s.maxSteps {
			t.Fatalf("%s: qty %d out of range", s.inst.Symbol, tr.qtySteps)
		}
		if tr.buyerMaker {
			sells++
		}
		counts[idx]++
	}
	for i, c := range counts {
		if c == 0 {
			t.Errorf("%s never traded", syms[i].inst.Symbol)
		}
	}
	if counts[0] < counts[19] {
		t.Errorf("BTCUSDT (%d) trades less than a synthetic symbol (%d)", counts[0], counts[19])
	}
	if sells < n*45/100 || sells > n*55/100 {
		t.Errorf("buyer-maker share %d/%d", sells, n)
	}
	// Typical sizes: BTC around 0.004, PEPE around 5e10.
	if med := syms[1].medianQty; med < 1e10 || med > 1e11 {
		t.Errorf("PEPE median qty %g", med)
	}
}

func TestHistoryRing(t *testing.T) {
	var h history
	h.init(5)
	if _, _, ok := h.bounds(); ok {
		t.Fatal("empty history has bounds")
	}
	for id := int64(100); id < 108; id++ {
		h.add(trade{id: id, priceTicks: id * 10, qtySteps: 1}, id)
	}
	first, last, _ := h.bounds()
	if first != 103 || last != 107 {
		t.Fatalf("bounds %d..%d", first, last)
	}
	tests := []struct {
		from      int64
		limit     int
		wantFirst int64
		wantN     int
	}{
		{-1, 2, 106, 2},  // most recent
		{-1, 10, 103, 5}, // all
		{103, 3, 103, 3},
		{105, 10, 105, 3},
		{50, 2, 103, 2}, // older than kept: starts at the oldest kept
		{108, 5, 108, 0},
	}
	for _, tt := range tests {
		recs, f := h.copyRange(nil, tt.from, tt.limit)
		if len(recs) != tt.wantN || (tt.wantN > 0 && f != tt.wantFirst) {
			t.Errorf("copyRange(%d,%d) = first %d n %d, want %d n %d", tt.from, tt.limit, f, len(recs), tt.wantFirst, tt.wantN)
			continue
		}
		for i, r := range recs {
			if r.priceTicks != (f+int64(i))*10 || r.timeBM>>1 != f+int64(i) {
				t.Errorf("copyRange(%d,%d)[%d] = %+v", tt.from, tt.limit, i, r)
			}
		}
	}
}
