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
		{in: "trades:binance:BTC-USDT@20", wantErr: ErrChannelSyntax, errHas: "only book channels"},
		{in: "bbo:binance:BTC-USDT@20", wantErr: ErrChannelSyntax, errHas: "only book channels"},
		{in: "trades:binance:BTC-USDT?x", wantErr: ErrChannelSyntax, errHas: "options"},
		{in: "book:binance:BTC-USDT#x", wantErr: ErrChannelSyntax, errHas: "options"},
		{in: "book:binance:BTC-USDT", want: "book:binance:BTC-USDT"},
		{in: "book:Binance:btc-usdt@20", want: "book:binance:BTC-USDT@20"},
		{in: "book:*:*@1", want: "book:*:*@1"},
		{in: "book:binance:*@1000", want: "book:binance:*@1000"},
		{in: "book:binance:BTC-USDT@50", want: "book:binance:BTC-USDT@50"},
		{in: "bbo:*:ETH-USDT", want: "bbo:*:ETH-USDT"},
		{in: "book:binance:BTC-USDT@depth=20", wantErr: ErrChannelSyntax, errHas: "bad book depth"},
		{in: "book:binance:BTC-USDT@", wantErr: ErrChannelSyntax, errHas: "bad book depth"},
		{in: "book:binance:BTC-USDT@0", wantErr: ErrChannelSyntax, errHas: "bad book depth"},
		{in: "book:binance:BTC-USDT@020", wantErr: ErrChannelSyntax, errHas: "bad book depth"},
		{in: "book:binance:BTC-USDT@1001", wantErr: ErrChannelSyntax, errHas: "over the limit of 1000"},
		{in: "book:binance:BTC-USDT@99999", wantErr: ErrChannelSyntax, errHas: "bad book depth"},
		{in: "book:binance:BTC-USDT@-5", wantErr: ErrChannelSyntax, errHas: "bad book depth"},
		{in: "book:binance:BTC-USDT@20@30", wantErr: ErrChannelSyntax, errHas: "bad book depth"},
		{in: "book:binance@5:BTC-USDT", wantErr: ErrChannelSyntax, errHas: "at the end"},
		{in: "book@5:binance:BTC-USDT", wantErr: ErrChannelSyntax, errHas: "at the end"},
		{in: "book:binance:BTC-*@5", wantErr: ErrChannelSyntax, errHas: "must stand alone"},
		{in: "trades:" + strings.Repeat("a", 33) + ":X", wantErr: ErrChannelSyntax, errHas: "longer than 32"},
		{in: "trades:x:" + strings.Repeat("A", 65), wantErr: ErrChannelSyntax, errHas: "longer than 64"},
		{in: "tradez:binance:BTC-USDT", wantErr: ErrUnknownKind, errHas: "available kinds: trades, integrity, book, bbo"},
		{in: "candles:binance:BTC-USDT", wantErr: ErrUnknownKind, errHas: "not served by this gateway version yet"},
		{in: "book_status:binance:BTC-USDT", wantErr: ErrUnknownKind, errHas: "travel on book channels"},
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

// FuzzParseChannel checks the channel grammar, including the book depth option: it never
// panics, errors wrap the documented sentinels, accepted names are canonical (they differ
// from the input only in case and parse back to the same Channel), and a depth is present
// exactly when the name has an @ option, on book channels only, within 1..MaxBookDepth.
// Run: go test -fuzz FuzzParseChannel ./stream
func FuzzParseChannel(f *testing.F) {
	for _, s := range []string{"book:binance:BTC-USDT@20", "book:*:*@1000", "book:*:*@1001", "book:a:B@020",
		"book:a:B@", "book:a:B@0", "trades:a:B@5", "bbo:*:ETH-USDT", "book:a@1:B", "book:a:B@1@2",
		"book:Binance:btc-usdt@7", "book:a:B?depth=5", "integrity:*:*", "book:a:B@٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ch, err := ParseChannel(s)
		if err != nil {
			if !errors.Is(err, ErrChannelSyntax) && !errors.Is(err, ErrUnknownKind) {
				t.Fatalf("%q: error %v wraps neither sentinel", s, err)
			}
			return
		}
		if ch.Depth > MaxBookDepth || (ch.Depth != 0 && ch.Kind != KindBook) {
			t.Fatalf("%q: depth %d on %v", s, ch.Depth, ch.Kind)
		}
		if d := ch.BookDepth(); d < 1 || d > MaxBookDepth || (ch.Depth != 0 && d != int(ch.Depth)) {
			t.Fatalf("%q: BookDepth %d", s, d)
		}
		if strings.Contains(s, "@") != (ch.Depth != 0) {
			t.Fatalf("%q: @ in name but depth %d", s, ch.Depth)
		}
		if !strings.EqualFold(ch.String(), s) {
			t.Fatalf("%q canonicalizes to %q: more than case changed", s, ch.String())
		}
		again, err := ParseChannel(ch.String())
		if err != nil || again != ch {
			t.Fatalf("%q: canonical %q does not round-trip: %v %v", s, ch.String(), again, err)
		}
	})
}
