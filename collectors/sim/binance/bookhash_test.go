package binancesim

import (
	"encoding/json"
	"hash/fnv"
	"testing"
)

func TestCanonicalDecimal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"65000.01000000", "65000.01"},
		{"0.00120000", "0.0012"},
		{"0.00001234", "0.00001234"},
		{"100.00", "100"},
		{"100", "100"},
		{"100.", "100"},
		{"007.50", "7.5"},
		{"0.00000000", "0"},
		{"0", "0"},
		{"000", "0"},
		{".5", "0.5"},
		{"1.10", "1.1"},
		{"10.01", "10.01"},
		{"123456789012.00", "123456789012"},
	}
	for _, tt := range tests {
		if got := string(AppendCanonicalDecimal([]byte("x"), tt.in)); got != "x"+tt.want {
			t.Errorf("AppendCanonicalDecimal(%q) = %q, want %q", tt.in, got[1:], tt.want)
		}
	}
	fixed := []struct {
		v     int64
		scale int
		want  string
	}{
		{6500001, 2, "65000.01"},
		{6500000, 2, "65000"},
		{120, 5, "0.0012"},
		{1234, 8, "0.00001234"},
		{100000000000, 0, "100000000000"},
		{10, 1, "1"},
		{1001, 3, "1.001"},
		{1, 8, "0.00000001"},
		{0, 3, "0"},
	}
	for _, tt := range fixed {
		if got := string(appendCanonicalFixed(nil, tt.v, tt.scale)); got != tt.want {
			t.Errorf("appendCanonicalFixed(%d, %d) = %q, want %q", tt.v, tt.scale, got, tt.want)
		}
		// Same as canonicalising the wire form at any precision.
		for out := tt.scale; out <= 8; out++ {
			wire := string(appendFixed(nil, tt.v, tt.scale, out))
			if got := string(AppendCanonicalDecimal(nil, wire)); got != tt.want {
				t.Errorf("canonical(%q) = %q, want %q", wire, got, tt.want)
			}
		}
	}
}

func fnvString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func TestHashTopN(t *testing.T) {
	bids := [][2]string{{"65000.01000000", "0.50000000"}, {"65000.00000000", "1.25000000"}, {"64999.99000000", "3.00000000"}}
	asks := [][2]string{{"65000.02", "3"}, {"65000.05000000", "0.00100000"}}
	tests := []struct {
		n    int
		want string
	}{
		{0, "|"},
		{1, "65000.01:0.5;|65000.02:3;"},
		{2, "65000.01:0.5;65000:1.25;|65000.02:3;65000.05:0.001;"},
		{3, "65000.01:0.5;65000:1.25;64999.99:3;|65000.02:3;65000.05:0.001;"},
		{20, "65000.01:0.5;65000:1.25;64999.99:3;|65000.02:3;65000.05:0.001;"},
	}
	for _, tt := range tests {
		if got, want := HashTopN(bids, asks, tt.n), fnvString(tt.want); got != want {
			t.Errorf("n=%d: %016x, want FNV-1a(%q) = %016x", tt.n, got, tt.want, want)
		}
	}
	if HashTopN(nil, nil, 20) != fnvString("|") {
		t.Error("empty book")
	}
	// A side boundary matters: the same levels on the other side differ.
	if HashTopN(bids[:1], nil, 5) == HashTopN(nil, bids[:1], 5) {
		t.Error("bid and ask hash alike")
	}
}

// TestHashTopMatchesWire: the exchange's hash (from integers) equals
// HashTopN over the levels as the wire prints them.
func TestHashTopMatchesWire(t *testing.T) {
	for _, sym := range buildSymbols(30, 3, 1000) {
		for _, n := range []int{1, 5, 20, 200} {
			got, _ := sym.hashTop(nil, n)
			var p wireSnapshot
			if err := json.Unmarshal(sym.appendTopLevels(nil, n), &p); err != nil {
				t.Fatal(err)
			}
			if want := HashTopN(p.Bids, p.Asks, n); got != want {
				t.Fatalf("%s n=%d: %016x vs %016x", sym.inst.Symbol, n, got, want)
			}
		}
	}
}

func TestBookLogLine(t *testing.T) {
	btc := testSymbols(t)[0]
	if got := string(btc.appendBookLogLine(nil, 160, 0x00ab_cdef_0123_4567)); got != "BTCUSDT 160 00abcdef01234567\n" {
		t.Fatalf("line %q", got)
	}
}
