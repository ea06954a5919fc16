package md

import (
	"testing"
	"time"
)

func expiry(y int, m time.Month, d, hour int) int64 {
	return time.Date(y, m, d, hour, 0, 0, 0, time.UTC).UnixNano()
}

// TestUnifiedSymbol covers every row and edge case of ADR 0004.
func TestUnifiedSymbol(t *testing.T) {
	dec25 := expiry(2026, time.December, 25, 8) // Deribit/Binance expire at 08:00 UTC
	tests := []struct {
		name string
		in   Instrument
		want string
	}{
		{"spot", Instrument{Kind: Spot, Base: "BTC", Quote: "USDT"}, "BTC-USDT"},
		{"spot lower-case venue codes", Instrument{Kind: Spot, Base: "btc", Quote: "usdt"},
			"BTC-USDT"},
		{"spot inverse flag ignored", Instrument{Kind: Spot, Base: "BTC", Quote: "USD",
			Inverse: true}, "BTC-USD"},
		{"linear perpetual", Instrument{Kind: Perpetual, Base: "BTC", Quote: "USDT",
			Settle: "USDT"}, "BTC-USDT-PERP"},
		{"inverse perpetual", Instrument{Kind: Perpetual, Base: "BTC", Quote: "USD",
			Settle: "BTC", Inverse: true}, "BTC-USD-PERP-INV"},
		{"dated future", Instrument{Kind: Future, Base: "BTC", Quote: "USDT", Expiry: dec25},
			"BTC-USDT-20261225"},
		{"dated future expiry date is UTC", Instrument{Kind: Future, Base: "BTC",
			Quote: "USDT", Expiry: expiry(2026, time.December, 25, 23)}, "BTC-USDT-20261225"},
		{"inverse dated future", Instrument{Kind: Future, Base: "BTC", Quote: "USD",
			Expiry: dec25, Inverse: true}, "BTC-USD-20261225-INV"},
		{"option call, integer strike", Instrument{Kind: Option, Base: "BTC", Quote: "USD",
			Expiry: dec25, Strike: "100000", Call: true}, "BTC-USD-20261225-100000-C"},
		{"option put, integer strike with zero decimals", Instrument{Kind: Option,
			Base: "BTC", Quote: "USD", Expiry: dec25, Strike: "100000.000"},
			"BTC-USD-20261225-100000-P"},
		{"option integer strike keeps its own zeros", Instrument{Kind: Option, Base: "ETH",
			Quote: "USD", Expiry: dec25, Strike: "3000", Call: true},
			"ETH-USD-20261225-3000-C"},
		{"option fractional strike", Instrument{Kind: Option, Base: "XRP", Quote: "USDC",
			Expiry: dec25, Strike: "0.50", Call: true}, "XRP-USDC-20261225-0D5-C"},
		{"option fractional strike above 1", Instrument{Kind: Option, Base: "SOL",
			Quote: "USDC", Expiry: dec25, Strike: "182.5"}, "SOL-USDC-20261225-182D5-P"},
		{"inverse option has no INV suffix", Instrument{Kind: Option, Base: "BTC",
			Quote: "USD", Expiry: dec25, Strike: "100000", Call: true, Inverse: true},
			"BTC-USD-20261225-100000-C"},
		{"XBT alias", Instrument{Kind: Perpetual, Base: "XBT", Quote: "USD", Inverse: true},
			"BTC-USD-PERP-INV"},
		{"xbt alias lower case", Instrument{Kind: Spot, Base: "xbt", Quote: "EUR"},
			"BTC-EUR"},
		{"XDG alias", Instrument{Kind: Spot, Base: "XDG", Quote: "USD"}, "DOGE-USD"},
		{"1000SATS prefix kept", Instrument{Kind: Spot, Base: "1000SATS", Quote: "USDT"},
			"1000SATS-USDT"},
		{"1000PEPE perp prefix kept", Instrument{Kind: Perpetual, Base: "1000PEPE",
			Quote: "USDT"}, "1000PEPE-USDT-PERP"},
		{"'-' removed from asset", Instrument{Kind: Spot, Base: "USD-C", Quote: "EU-R"},
			"USDC-EUR"},
		{"stablecoins not merged", Instrument{Kind: Spot, Base: "USDC", Quote: "USDT"},
			"USDC-USDT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnifiedSymbol(&tt.in); got != tt.want {
				t.Errorf("UnifiedSymbol = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNormalizeAsset(t *testing.T) {
	for in, want := range map[string]string{
		"btc": "BTC", "XBT": "BTC", "xdg": "DOGE", "1000sats": "1000SATS", "USDT": "USDT",
		"USD-C": "USDC", "X-BT": "BTC", "": "",
	} {
		if got := NormalizeAsset(in); got != want {
			t.Errorf("NormalizeAsset(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInstrumentScales(t *testing.T) {
	in := Instrument{TickSize: MustDecimal("0.01", 2), LotSize: MustDecimal("0.00001", 5)}
	if in.PriceScale() != 2 || in.QtyScale() != 5 {
		t.Errorf("scales = %d, %d", in.PriceScale(), in.QtyScale())
	}
	for k, want := range map[InstrumentKind]string{Spot: "spot", Perpetual: "perpetual",
		Future: "future", Option: "option", 0: "unknown", 9: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("InstrumentKind(%d) = %q, want %q", k, got, want)
		}
	}
}
