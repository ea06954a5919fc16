package stream

import (
	"errors"
	"strings"
	"testing"
)

func TestParseChannel(t *testing.T) {
	tests := []struct {
		in      string
		want    string // canonical form; "" when an error is expected
		wantErr error
		errHas  string
	}{
		{in: "trades:binance:BTC-USDT", want: "trades:binance:BTC-USDT"},
		{in: "trades:*:*", want: "trades:*:*"},
		{in: "trades:binance:*", want: "trades:binance:*"},
		{in: "trades:*:BTC-USDT", want: "trades:*:BTC-USDT"},
		{in: "integrity:okx:ETH-USDT-PERP", want: "integrity:okx:ETH-USDT-PERP"},
		{in: "trades:Binance:btc-usdt", want: "trades:binance:BTC-USDT"},
		{in: "trades:deribit:BTC-USD-20261225-0D5-C", want: "trades:deribit:BTC-USD-20261225-0D5-C"},
		{in: "trades:binance:1000SATS-USDT", want: "trades:binance:1000SATS-USDT"},
		{in: "trades:bin_ance:A.B", want: "trades:bin_ance:A.B"},
		{in: "trades", wantErr: ErrChannelSyntax, errHas: "no ':'"},
		{in: "trades:binance", wantErr: ErrChannelSyntax, errHas: "two parts"},
		{in: "trades:binance:BTC-USDT:x", wantErr: ErrChannelSyntax, errHas: "more than three"},
		{in: "trades::BTC-USDT", wantErr: ErrChannelSyntax, errHas: "empty venue"},
		{in: "trades:binance:", wantErr: ErrChannelSyntax, errHas: "empty symbol"},
		{in: "trades:binance:BTC-*", wantErr: ErrChannelSyntax, errHas: "must stand alone"},
		{in: "trades:bin*:BTC", wantErr: ErrChannelSyntax, errHas: "must stand alone"},
		{in: "trades:binance:BTC USDT", wantErr: ErrChannelSyntax, errHas: "character"},
		{in: "trades:bin.ance:BTC", wantErr: ErrChannelSyntax, errHas: "character '.'"},
		{in: "trades:binance:BTC-USDT@depth=20", wantErr: ErrChannelSyntax, errHas: "options"},
		{in: "trades:" + strings.Repeat("a", 33) + ":X", wantErr: ErrChannelSyntax, errHas: "longer than 32"},
		{in: "trades:x:" + strings.Repeat("A", 65), wantErr: ErrChannelSyntax, errHas: "longer than 64"},
		{in: "tradez:binance:BTC-USDT", wantErr: ErrUnknownKind, errHas: "available kinds: trades, integrity"},
		{in: "book:binance:BTC-USDT", wantErr: ErrUnknownKind, errHas: "not served by this gateway version yet"},
		{in: "Trades:binance:BTC-USDT", wantErr: ErrUnknownKind, errHas: `use "trades"`},
		{in: "*:binance:BTC-USDT", wantErr: ErrUnknownKind},
		{in: "", wantErr: ErrChannelSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ch, err := ParseChannel(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err %q does not mention %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ch.String(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			again, err := ParseChannel(ch.String())
			if err != nil || again != ch {
				t.Fatalf("canonical form does not round-trip: %v %v", again, err)
			}
		})
	}
}

func TestChannelMatches(t *testing.T) {
	type ev struct {
		kind          ChannelKind
		venue, symbol string
	}
	btcBin := ev{KindTrades, "binance", "BTC-USDT"}
	btcOKX := ev{KindTrades, "okx", "BTC-USDT"}
	ethBin := ev{KindTrades, "binance", "ETH-USDT"}
	integ := ev{KindIntegrity, "binance", "BTC-USDT"}
	tests := []struct {
		pattern string
		match   []ev
		miss    []ev
	}{
		{"trades:binance:BTC-USDT", []ev{btcBin}, []ev{btcOKX, ethBin, integ}},
		{"trades:*:*", []ev{btcBin, btcOKX, ethBin}, []ev{integ}},
		{"trades:binance:*", []ev{btcBin, ethBin}, []ev{btcOKX, integ}},
		{"trades:*:BTC-USDT", []ev{btcBin, btcOKX}, []ev{ethBin, integ}},
		{"integrity:*:*", []ev{integ}, []ev{btcBin, btcOKX, ethBin}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := ParseChannel(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.match {
				if !p.Matches(e.kind, e.venue, e.symbol) {
					t.Errorf("%v does not match %v", p, e)
				}
			}
			for _, e := range tt.miss {
				if p.Matches(e.kind, e.venue, e.symbol) {
					t.Errorf("%v matches %v", p, e)
				}
			}
			// The index patterns of a concrete channel agree with Matches.
			for _, e := range append(tt.match, tt.miss...) {
				cs := newChanState(newIndex(), Channel{Kind: e.kind, Venue: e.venue, Symbol: e.symbol})
				inPats := false
				for _, q := range cs.pats {
					inPats = inPats || q == p
				}
				if inPats != p.Matches(e.kind, e.venue, e.symbol) {
					t.Errorf("index patterns of %v disagree with Matches for %v", e, p)
				}
			}
		})
	}
}
