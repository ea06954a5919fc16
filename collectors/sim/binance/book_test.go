package binancesim

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// checkBook asserts the book invariants: both sides sorted, best last,
// positive sizes, prices in bounds, never crossed.
func checkBook(t *testing.T, sym *symbolState) {
	t.Helper()
	b := &sym.book
	for _, s := range []*bookSide{&b.bids, &b.asks} {
		for i, l := range s.lv {
			if l.qty <= 0 || l.qty > b.maxQty {
				t.Fatalf("%s ask=%v level %d: qty %d", sym.inst.Symbol, s.ask, i, l.qty)
			}
			if i > 0 && s.lv[i-1].key >= l.key {
				t.Fatalf("%s ask=%v not sorted at %d", sym.inst.Symbol, s.ask, i)
			}
			if p := s.priceAt(i); p < b.minPrice || p > b.maxPrice {
				t.Fatalf("%s ask=%v price %d out of bounds", sym.inst.Symbol, s.ask, p)
			}
		}
		if len(s.lv) > maxBookLevels {
			t.Fatalf("%s: %d levels", sym.inst.Symbol, len(s.lv))
		}
	}
	bid, okb := b.bids.bestPrice()
	ask, oka := b.asks.bestPrice()
	if okb && oka && bid >= ask {
		t.Fatalf("%s crossed: bid %d ask %d", sym.inst.Symbol, bid, ask)
	}
}

// TestBookModel drives books with the market for many trades: the
// invariants hold after every operation, every change is one update id,
// trades at the touch, sides keep hundreds to thousands of levels and the
// spread is usually tight.
func TestBookModel(t *testing.T) {
	syms := buildSymbols(24, 5, 1000)
	m := newMarket(syms, 5)
	for _, sym := range syms {
		checkBook(t, sym)
		n := len(sym.book.bids.lv) + len(sym.book.asks.lv)
		if n < 200 {
			t.Errorf("%s starts with %d levels", sym.inst.Symbol, n)
		}
	}
	var tight, samples int
	const trades = 50_000
	for i := range trades {
		idx, tr := m.next()
		sym := syms[idx]
		b := &sym.book
		before, dirty := b.lastID, len(b.dirty)
		changed := b.applyTrade(tr)
		// After the trade the taker's side of the touch is at the trade price or beyond.
		if tr.buyerMaker {
			if p, ok := b.bids.bestPrice(); ok && p > tr.priceTicks {
				t.Fatalf("sell at %d left bid %d", tr.priceTicks, p)
			}
		} else if p, ok := b.asks.bestPrice(); ok && p < tr.priceTicks {
			t.Fatalf("buy at %d left ask %d", tr.priceTicks, p)
		}
		for range b.opsAfterTrade(changed) {
			b.randomOp(tr.priceTicks)
		}
		if got := b.lastID - before; got != int64(len(b.dirty)-dirty) {
			t.Fatalf("%d update ids for %d changes", got, len(b.dirty)-dirty)
		}
		if i%97 == 0 {
			checkBook(t, sym)
			bid, _ := b.bids.bestPrice()
			ask, _ := b.asks.bestPrice()
			samples++
			if ask-bid <= 3 {
				tight++
			}
		}
		b.dirty = b.dirty[:0]
	}
	for _, sym := range syms {
		checkBook(t, sym)
		nb, na := len(sym.book.bids.lv), len(sym.book.asks.lv)
		t.Logf("%-12s levels bid %4d ask %4d target %4d top %+v", sym.inst.Symbol, nb, na, sym.book.target, sym.book.currentTop())
		if nb < 50 || na < 50 {
			t.Errorf("%s thin book: %d bids %d asks", sym.inst.Symbol, nb, na)
		}
	}
	t.Logf("spread <= 3 ticks in %d/%d samples", tight, samples)
	if tight < samples/2 {
		t.Errorf("spread wide too often: tight in %d/%d", tight, samples)
	}
}

// TestBookDeterministic: the same seed gives the same books after the
// same trades.
func TestBookDeterministic(t *testing.T) {
	run := func(seed int64) []string {
		syms := buildSymbols(4, seed, 1000)
		m := newMarket(syms, seed)
		for range 10_000 {
			idx, tr := m.next()
			b := &syms[idx].book
			for range b.opsAfterTrade(b.applyTrade(tr)) {
				b.randomOp(tr.priceTicks)
			}
		}
		var out []string
		for _, sym := range syms {
			h, _ := sym.hashTop(nil, 50)
			out = append(out, fmt.Sprintf("%s %d %x %d %d", sym.inst.Symbol, sym.book.lastID, h, len(sym.book.bids.lv), len(sym.book.asks.lv)))
		}
		return out
	}
	a, b, c := run(11), run(11), run(12)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different books:\n%v\n%v", a, b)
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same books")
	}
}

func TestBookSide(t *testing.T) {
	for _, ask := range []bool{false, true} {
		s := bookSide{ask: ask}
		ref := map[int64]int64{}
		prices := []int64{100, 90, 110, 95, 105, 100, 1, 1000, 99, 101}
		for i, p := range prices {
			s.set(p, int64(i+1))
			ref[p] = int64(i + 1)
		}
		s.set(95, 0)
		delete(ref, 95)
		s.set(12345, 0) // absent: no-op
		if len(s.lv) != len(ref) {
			t.Fatalf("ask=%v: %d levels, want %d", ask, len(s.lv), len(ref))
		}
		keys := make([]int64, 0, len(ref))
		for p := range ref {
			keys = append(keys, p)
			if got := s.qtyAt(p); got != ref[p] {
				t.Fatalf("ask=%v qtyAt(%d) = %d want %d", ask, p, got, ref[p])
			}
		}
		slices.Sort(keys)
		best, _ := s.bestPrice()
		if ask && best != keys[0] || !ask && best != keys[len(keys)-1] {
			t.Fatalf("ask=%v best %d of %v", ask, best, keys)
		}
	}
}
