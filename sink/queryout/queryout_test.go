package queryout

import (
	"math"
	"math/big"
	"testing"
	"time"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
		ok   bool
	}{
		{nil, "", true},
		{"a,b", "a,b", true},
		{true, "true", true},
		{int64(-7), "-7", true},
		{uint64(18446744073709551615), "18446744073709551615", true},
		{int8(-8), "-8", true},
		{uint16(65535), "65535", true},
		{int32(-32), "-32", true},
		{uint32(4294967295), "4294967295", true},
		{0.1, "0.1", true},
		{float32(0.1), "0.1", true},
		{time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600)), "2026-01-02T02:04:05.0000006Z", true},
		{new(big.Int).Lsh(big.NewInt(1), 100), "1267650600228229401496703205376", true},
		{(*big.Int)(nil), "", true},
		{[]int{1}, "", false},
	} {
		got, ok := Text(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Text(%#v) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestJSONFloat(t *testing.T) {
	if JSONFloat(math.NaN()) != "NaN" || JSONFloat(math.Inf(1)) != "Infinity" || JSONFloat(math.Inf(-1)) != "-Infinity" || JSONFloat(1.5) != 1.5 {
		t.Fatal("JSONFloat")
	}
}
