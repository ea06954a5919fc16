package binancesim

import (
	"math"
	"math/rand/v2"
	"sort"
)

// trade is one generated trade. Prices and quantities are integers on the
// symbol's tick and step grids: price = priceTicks * 10^-tickDec,
// qty = qtySteps * 10^-stepDec.
type trade struct {
	id         int64
	priceTicks int64
	qtySteps   int64
	buyerMaker bool // true: the buyer was the maker, the taker sold
}

// market is the deterministic trade model: one random stream decides which
// symbol trades next and what the trade looks like, so the sequence of
// (symbol, id, price, qty, side) depends only on the seed and the symbol
// count, never on pacing. It is owned by the generation goroutine.
type market struct {
	rng  *rand.Rand
	syms []*symbolState
	cum  []float64 // cumulative activity weights
}

func newMarket(syms []*symbolState, seed int64) *market {
	m := &market{
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x7ade_7ade_0000_0001)),
		syms: syms,
		cum:  make([]float64, len(syms)),
	}
	var total float64
	for i, s := range syms {
		total += s.weight
		m.cum[i] = total
	}
	return m
}

// next generates the next trade and returns the index of its symbol.
func (m *market) next() (int, trade) {
	r := m.rng.Float64() * m.cum[len(m.cum)-1]
	idx := sort.Search(len(m.cum), func(i int) bool { return m.cum[i] > r })
	if idx == len(m.cum) {
		idx--
	}
	s := m.syms[idx]

	t := trade{buyerMaker: m.rng.Uint64()&1 == 1}
	// About 40% of trades move the price, in the taker's direction.
	if m.rng.Float64() < 0.4 {
		step := 1 + int64(m.rng.ExpFloat64()*s.moveTicks)
		if t.buyerMaker {
			step = -step
		}
		p := s.priceTicks + step
		if p < s.minTicks || p > s.maxTicks {
			p = s.priceTicks - step // reflect at the bounds
		}
		s.priceTicks = p
	}
	t.priceTicks = s.priceTicks

	q := int64(s.medianQty * math.Exp(1.1*m.rng.NormFloat64()))
	t.qtySteps = min(max(q, 1), s.maxSteps)

	t.id = s.nextID
	s.nextID++
	return idx, t
}
