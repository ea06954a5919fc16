package md

import (
	"strconv"
	"strings"
	"time"
)

// InstrumentKind is the contract type.
type InstrumentKind uint8

// Instrument kinds.
const (
	Spot      InstrumentKind = 1
	Perpetual InstrumentKind = 2
	Future    InstrumentKind = 3
	Option    InstrumentKind = 4
)

// String returns "spot", "perpetual", "future" or "option".
func (k InstrumentKind) String() string {
	switch k {
	case Spot:
		return "spot"
	case Perpetual:
		return "perpetual"
	case Future:
		return "future"
	case Option:
		return "option"
	}
	return "unknown"
}

// InstrumentStatus is whether the instrument trades.
type InstrumentStatus uint8

// Instrument statuses.
const (
	Listed   InstrumentStatus = 1
	Delisted InstrumentStatus = 2
)

// Instrument describes one tradable contract on one venue, as valid from ValidFrom. Tick and
// lot sizes change over time; each version is a new Instrument value (ADR 0004).
type Instrument struct {
	Venue     string // "binance"
	Native    string // venue symbol, "BTCUSDT"
	Symbol    string // unified symbol, "BTC-USDT"
	Kind      InstrumentKind
	Base      string
	Quote     string
	Settle    string // settlement currency; empty for spot
	Inverse   bool
	Expiry    int64 // Unix ns; 0 for spot and perpetuals
	Strike    string
	Call      bool
	TickSize  Decimal // price step; its scale is the price scale
	LotSize   Decimal // quantity step; its scale is the quantity scale
	Status    InstrumentStatus
	ValidFrom int64 // Unix ns
}

// PriceScale is the number of decimals prices of this instrument are parsed at.
func (in *Instrument) PriceScale() uint8 { return in.TickSize.Scale }

// QtyScale is the number of decimals quantities of this instrument are parsed at.
func (in *Instrument) QtyScale() uint8 { return in.LotSize.Scale }

var assetAliases = map[string]string{"XBT": "BTC", "XDG": "DOGE"}

// NormalizeAsset upper-cases a venue asset code, applies the alias table (XBT -> BTC) and
// removes '-' (the unified separator). Multiplier prefixes (1000SATS) are kept (ADR 0004).
func NormalizeAsset(a string) string {
	a = strings.ToUpper(strings.ReplaceAll(a, "-", ""))
	if u, ok := assetAliases[a]; ok {
		return u
	}
	return a
}

// UnifiedSymbol builds the unified symbol of an instrument per ADR 0004:
// BTC-USDT, BTC-USDT-PERP, BTC-USD-PERP-INV, BTC-USDT-20261225, BTC-USD-20261225-100000-C.
func UnifiedSymbol(in *Instrument) string {
	var b strings.Builder
	b.WriteString(NormalizeAsset(in.Base))
	b.WriteByte('-')
	b.WriteString(NormalizeAsset(in.Quote))
	switch in.Kind {
	case Perpetual:
		b.WriteString("-PERP")
	case Future, Option:
		b.WriteByte('-')
		b.WriteString(time.Unix(0, in.Expiry).UTC().Format("20060102"))
	}
	if in.Kind == Option {
		b.WriteByte('-')
		b.WriteString(strikeText(in.Strike))
		if in.Call {
			b.WriteString("-C")
		} else {
			b.WriteString("-P")
		}
	}
	if in.Inverse && in.Kind != Spot && in.Kind != Option {
		b.WriteString("-INV")
	}
	return b.String()
}

func strikeText(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return strings.ToUpper(s)
	}
	return strings.ReplaceAll(s, ".", "D")
}
