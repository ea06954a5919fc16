package binancesim

import (
	"encoding/json"
	"testing"
)

func TestAppendFixed(t *testing.T) {
	tests := []struct {
		v          int64
		scale, out int
		want       string
	}{
		{6500001, 2, 8, "65000.01000000"},
		{1, 2, 8, "0.01000000"},
		{1, 5, 8, "0.00001000"},
		{1234, 8, 8, "0.00001234"},
		{120, 5, 8, "0.00120000"},
		{100000000000, 0, 2, "100000000000.00"},
		{1, 0, 2, "1.00"},
		{0, 0, 2, "0.00"},
		{0, 3, 8, "0.00000000"},
		{7, 0, 0, "7"},
		{5, 1, 1, "0.5"},
		{123456789, 9, 8, "0.12345678"}, // truncates beyond out
		{1000, 3, 3, "1.000"},
	}
	for _, tt := range tests {
		if got := string(appendFixed(nil, tt.v, tt.scale, tt.out)); got != tt.want {
			t.Errorf("appendFixed(%d, %d, %d) = %q, want %q", tt.v, tt.scale, tt.out, got, tt.want)
		}
	}
}

func testSymbols(t *testing.T) []*symbolState {
	t.Helper()
	return buildSymbols(3, 1, 1000)
}

func TestTradeEventEncoding(t *testing.T) {
	syms := testSymbols(t)
	btc, pepe := syms[0], syms[1]
	tests := []struct {
		name string
		sym  *symbolState
		tr   trade
		want string
	}{
		{"btc", btc, trade{id: 12345, priceTicks: 6500001, qtySteps: 120, buyerMaker: true},
			`{"e":"trade","E":1672515782137,"s":"BTCUSDT","t":12345,"p":"65000.01000000","q":"0.00120000","T":1672515782136,"m":true,"M":true}`},
		{"pepe", pepe, trade{id: 7, priceTicks: 1234, qtySteps: 123456789012, buyerMaker: false},
			`{"e":"trade","E":1672515782137,"s":"PEPEUSDT","t":7,"p":"0.00001234","q":"123456789012.00","T":1672515782136,"m":false,"M":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.sym.appendTradeEvent(nil, tt.tr, 1672515782137, 1672515782136)
			if string(raw) != tt.want {
				t.Fatalf("raw:\n got %s\nwant %s", raw, tt.want)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if k := keys(m); k != "E,M,T,e,m,p,q,s,t" {
				t.Fatalf("keys %s", k)
			}
			comb, off := tt.sym.appendCombinedTradeEvent([]byte("junk"), tt.tr, 1672515782137, 1672515782136)
			comb = comb[4:]
			want := `{"stream":"` + tt.sym.lower + `@trade","data":` + tt.want + `}`
			if string(comb) != want {
				t.Fatalf("combined:\n got %s\nwant %s", comb, want)
			}
			if string(comb[off:len(comb)-1]) != tt.want {
				t.Fatalf("raw slice of combined = %s", comb[off:len(comb)-1])
			}
		})
	}
}

func TestRESTTradeEncoding(t *testing.T) {
	btc := testSymbols(t)[0]
	rec := histRec{priceTicks: 6500001, qtySteps: 120, timeBM: 1499865549590<<1 | 1}
	got := string(btc.appendRESTTrade(nil, 28457, rec))
	// 65000.01 * 0.0012 = 78.000012
	want := `{"id":28457,"price":"65000.01000000","qty":"0.00120000","quoteQty":"78.00001200","time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

func TestFrameHeader(t *testing.T) {
	tests := []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		if got := appendFrameHeader(nil, opText, tt.n); string(got) != string(tt.want) {
			t.Errorf("n=%d: got % x want % x", tt.n, got, tt.want)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	btc := testSymbols(t)[0]
	tr := trade{id: 3_000_000_000, priceTicks: 6500001, qtySteps: 120, buyerMaker: true}
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(1000, func() {
		b, _ := btc.appendCombinedTradeEvent(buf[:0], tr, 1672515782137, 1672515782136)
		b = btc.appendRESTTrade(b, tr.id, histRec{priceTicks: 1, qtySteps: 1})
		_ = btc.appendTradeLogLine(b, tr.id)
	})
	if allocs != 0 {
		t.Fatalf("encoding allocates %.1f times per trade", allocs)
	}
}
