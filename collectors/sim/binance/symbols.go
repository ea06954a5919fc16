package binancesim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
)

// Instrument describes one simulated spot symbol as the simulator serves it.
// TickSize and StepSize are the exact strings of the PRICE_FILTER and
// LOT_SIZE filters in /api/v3/exchangeInfo.
type Instrument struct {
	// Symbol is the upper-case symbol, e.g. "BTCUSDT".
	Symbol string
	// Base is the base asset, e.g. "BTC".
	Base string
	// Quote is the quote asset, always "USDT".
	Quote string
	// TickSize is the price increment as served, e.g. "0.01000000".
	TickSize string
	// StepSize is the quantity increment as served, e.g. "0.00001000".
	StepSize string
	// BasePrecision is baseAssetPrecision: the number of decimals of every
	// quantity string ("q", "qty", stepSize).
	BasePrecision int
	// QuotePrecision is quoteAssetPrecision: the number of decimals of
	// every price and quote-quantity string ("p", "price", "quoteQty").
	QuotePrecision int
}

// quotePrecision is the precision of USDT on Binance spot.
const quotePrecision = 8

// knownSymbol is a hand-written instrument template close to the real one.
type knownSymbol struct {
	base      string
	price     float64 // typical price
	tickDec   int     // tickSize = 10^-tickDec
	stepDec   int     // stepSize = 10^-stepDec
	basePrec  int     // baseAssetPrecision
	medianQty float64 // median trade size in base units
	weight    float64 // share of trading activity
}

// knownSymbols are used in order; beyond them synthetic SYM%04dUSDT names.
// The second one is a meme coin: 8-decimal price, integer sizes around 1e11.
var knownSymbols = []knownSymbol{
	{"BTC", 65000, 2, 5, 8, 0.004, 10},
	{"PEPE", 0.00001234, 8, 0, 2, 5e10, 4},
	{"ETH", 3500, 2, 4, 8, 0.05, 7},
	{"SOL", 150, 2, 3, 8, 1.5, 5},
	{"BNB", 600, 2, 3, 8, 0.3, 3},
	{"XRP", 0.52, 4, 0, 8, 400, 3},
	{"DOGE", 0.15, 5, 0, 8, 2500, 3},
	{"ADA", 0.45, 4, 1, 8, 500, 2},
	{"TRX", 0.12, 4, 1, 8, 1500, 1.5},
	{"LINK", 15, 2, 2, 8, 20, 1.5},
	{"AVAX", 35, 2, 2, 8, 8, 1.5},
	{"SHIB", 0.00002345, 8, 0, 2, 3e7, 1.5},
	{"LTC", 80, 2, 3, 8, 2, 1},
	{"DOT", 7, 3, 2, 8, 40, 1},
	{"NEAR", 5, 3, 1, 8, 60, 1},
	{"SUI", 1.2, 4, 1, 8, 300, 1},
}

// symbolState is one symbol: its static instrument, the generator-owned
// market state, the order book (book.go), the trade history and the live
// subscriber lists.
type symbolState struct {
	inst  Instrument
	index int
	lower string // lower-case symbol for stream names

	tickDec, stepDec int
	medianQty        float64 // in steps
	minTicks         int64   // random-walk bounds, in ticks
	maxTicks         int64
	maxSteps         int64
	moveTicks        float64 // typical size of a price move in ticks
	weight           float64 // share of trading activity

	// Generator-owned (only the generation goroutine touches these).
	priceTicks int64
	nextID     int64

	// streamPrefix[kind] is `{"stream":"<lower>@<suffix>","data":` for
	// combined streams.
	streamPrefix [numServedKinds][]byte

	book book // written by the generator only; REST copies under book.mu

	hist history

	// subs[kind] is a copy-on-write list of connections subscribed to
	// that stream kind of this symbol; the generator loads it lock-free.
	subs [numServedKinds]atomic.Pointer[[]*wsConn]
}

// buildSymbols creates n deterministic symbols from seed.
func buildSymbols(n int, seed int64, historyLimit int) []*symbolState {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ee0_5eed_b1a0_ce01))
	out := make([]*symbolState, n)
	for i := range n {
		var k knownSymbol
		var name string
		if i < len(knownSymbols) {
			k = knownSymbols[i]
			name = k.base
		} else {
			k = syntheticSymbol(rng)
			name = fmt.Sprintf("SYM%04d", i)
		}
		// Jitter the start price by up to +-5% so seeds differ visibly.
		start := k.price * (1 + 0.1*(rng.Float64()-0.5))
		ticks := int64(math.Round(start * pow10f(k.tickDec)))
		ticks = max(ticks, 100)
		steps := k.medianQty * pow10f(k.stepDec)
		st := &symbolState{
			inst: Instrument{
				Symbol:         name + "USDT",
				Base:           name,
				Quote:          "USDT",
				TickSize:       string(appendFixed(nil, 1, k.tickDec, quotePrecision)),
				StepSize:       string(appendFixed(nil, 1, k.stepDec, k.basePrec)),
				BasePrecision:  k.basePrec,
				QuotePrecision: quotePrecision,
			},
			index:      i,
			weight:     k.weight,
			tickDec:    k.tickDec,
			stepDec:    k.stepDec,
			medianQty:  max(steps, 1),
			priceTicks: ticks,
			minTicks:   max(ticks/4, 10),
			maxTicks:   ticks * 4,
			// A move is ~1.5 bp of price, at least one tick.
			moveTicks: max(float64(ticks)*1.5e-4, 1),
			nextID:    1_000_000 + rng.Int64N(3_000_000_000),
		}
		// Bound sizes so that price*qty (both integers) stays far below
		// 2^63: quoteQty is computed exactly in integers.
		st.maxSteps = min(int64(st.medianQty*1000)+1, math.MaxInt64/4/st.maxTicks)
		st.lower = strings.ToLower(st.inst.Symbol)
		for k, sfx := range kindSuffix {
			st.streamPrefix[k] = []byte(`{"stream":"` + st.lower + "@" + sfx + `","data":`)
		}
		st.hist.init(historyLimit)
		st.initBook(seed)
		out[i] = st
	}
	return out
}

// syntheticSymbol draws a symbol with a random price scale between 1e-5
// and 1e4, ticks giving 4-6 significant digits and sizes worth ~100 USDT.
func syntheticSymbol(rng *rand.Rand) knownSymbol {
	e := rng.IntN(10) - 5 // price ~ 10^e
	price := (1 + 9*rng.Float64()) * pow10f(e)
	tickDec := min(max(4-e, 2), 8)
	stepDec := min(max(e+1, 0), quotePrecision-tickDec)
	basePrec := 8
	if stepDec == 0 && e <= -4 {
		basePrec = 2 // meme-coin style quantities: "123456.00"
	}
	return knownSymbol{
		price:     price,
		tickDec:   tickDec,
		stepDec:   stepDec,
		basePrec:  basePrec,
		medianQty: 100 / price * (0.2 + rng.Float64()),
		weight:    0.1 + rng.Float64()*0.9,
	}
}

func pow10f(n int) float64 { return math.Pow10(n) }
