package md

import (
	"errors"
	"math"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		scale uint8
		mant  int64
		err   error
	}{
		// canonicalization: one level, one mantissa
		{"0.001", 3, 1, nil},
		{"0.00100000", 3, 1, nil},
		{"0.001", 8, 100000, nil},
		{"65000.01", 2, 6500001, nil},
		{"65000.01000000", 2, 6500001, nil},
		{"65000.1", 2, 6500010, nil},
		{"65000", 2, 6500000, nil},
		{"65000.", 2, 6500000, nil},
		{".5", 1, 5, nil},
		{"0", 0, 0, nil},
		{"0.0", 0, 0, nil},
		{"000123.4500", 2, 12345, nil},
		{"0.00001234", 8, 1234, nil},
		{"123456789012.5", 2, 12345678901250, nil},
		// signs
		{"-12.3400", 2, -1234, nil},
		{"+12.34", 2, 1234, nil},
		{"-0", 2, 0, nil},
		{"-0.00", 2, 0, nil},
		{"-", 2, 0, ErrSyntax},
		{"+", 2, 0, ErrSyntax},
		{"--1", 2, 0, ErrSyntax},
		{"+-1", 2, 0, ErrSyntax},
		{"1-", 2, 0, ErrSyntax},
		// precision: non-zero digits beyond the scale are never rounded away
		{"0.001", 2, 0, ErrPrecision},
		{"1.5", 0, 0, ErrPrecision},
		{"0.0000000000000000001", 18, 0, ErrPrecision},
		{"1.10", 1, 11, nil},
		{"1.100000000000000000000000000000", 1, 11, nil}, // zeros beyond the scale are fine
		{"1.000000000000000000000000000001", 1, 0, ErrPrecision},
		// range at the int64 limits
		{"9223372036854775807", 0, math.MaxInt64, nil},
		{"9223372036854775808", 0, 0, ErrRange},
		{"-9223372036854775807", 0, -math.MaxInt64, nil},
		{"-9223372036854775808", 0, math.MinInt64, nil},
		{"-9223372036854775809", 0, 0, ErrRange},
		{"92233720368547758.07", 2, math.MaxInt64, nil},
		{"92233720368547758.08", 2, 0, ErrRange},
		{"-92233720368547758.08", 2, math.MinInt64, nil},
		{"-92233720368547758.09", 2, 0, ErrRange},
		{"92233720368547758", 2, 9223372036854775800, nil},
		{"92233720368547759", 2, 0, ErrRange}, // overflows while padding to the scale
		{"9.223372036854775807", 18, math.MaxInt64, nil},
		{"9.223372036854775808", 18, 0, ErrRange},
		{"10", 18, 0, ErrRange},
		{"99999999999999999999999", 0, 0, ErrRange},
		{"1", MaxScale + 1, 0, ErrRange},
		{"1", 255, 0, ErrRange},
		// syntax
		{"", 2, 0, ErrSyntax},
		{".", 2, 0, ErrSyntax},
		{"-.", 2, 0, ErrSyntax},
		{"1.2.3", 2, 0, ErrSyntax},
		{"1..2", 2, 0, ErrSyntax},
		{"1e5", 2, 0, ErrSyntax},
		{"1e-8", 8, 0, ErrSyntax},
		{"1E5", 2, 0, ErrSyntax},
		{" 1", 2, 0, ErrSyntax},
		{"1 ", 2, 0, ErrSyntax},
		{"1,5", 2, 0, ErrSyntax},
		{"0x10", 2, 0, ErrSyntax},
		{"NaN", 2, 0, ErrSyntax},
		{"Inf", 2, 0, ErrSyntax},
		{"١", 2, 0, ErrSyntax}, // non-ASCII digit
		{"\"1\"", 2, 0, ErrSyntax},
	}
	for _, tt := range tests {
		d, err := ParseDecimal([]byte(tt.in), tt.scale)
		if !errors.Is(err, tt.err) || (tt.err != nil) != (err != nil) {
			t.Errorf("ParseDecimal(%q, %d) error = %v, want %v", tt.in, tt.scale, err, tt.err)
			continue
		}
		if err != nil {
			if d != (Decimal{}) {
				t.Errorf("ParseDecimal(%q, %d) = %+v on error, want zero", tt.in, tt.scale, d)
			}
			continue
		}
		if want := (Decimal{Mant: tt.mant, Scale: tt.scale}); d != want {
			t.Errorf("ParseDecimal(%q, %d) = %+v, want %+v", tt.in, tt.scale, d, want)
		}
		if d2, err := ParseDecimalString(tt.in, tt.scale); d2 != d || err != nil {
			t.Errorf("ParseDecimalString(%q, %d) = %+v, %v; ParseDecimal gave %+v",
				tt.in, tt.scale, d2, err, d)
		}
	}
}

func TestMustDecimal(t *testing.T) {
	if d := MustDecimal("1.25", 2); d != (Decimal{125, 2}) {
		t.Errorf("MustDecimal = %+v", d)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustDecimal of bad input did not panic")
		}
	}()
	MustDecimal("1.255", 2)
}

func TestScaleOf(t *testing.T) {
	tests := []struct {
		in    string
		scale uint8
		err   error
	}{
		{"0.01000000", 2, nil},
		{"0.01", 2, nil},
		{"1.00000000", 0, nil},
		{"1", 0, nil},
		{"10", 0, nil},
		{"0.00000001", 8, nil},
		{"0.00000500", 6, nil},
		{"0.5", 1, nil},
		{".001", 3, nil},
		{"5.", 0, nil},
		{"0.000000000000000001", 18, nil},
		{"0.0000000000000000001", 0, ErrRange},
		{"", 0, ErrSyntax},
		{".", 0, ErrSyntax},
		{"0.0.1", 0, ErrSyntax},
		{"1e-8", 0, ErrSyntax},
		{"-0.01", 0, ErrSyntax},
		{" 0.01", 0, ErrSyntax},
	}
	for _, tt := range tests {
		sc, err := ScaleOf(tt.in)
		if !errors.Is(err, tt.err) || (tt.err != nil) != (err != nil) {
			t.Errorf("ScaleOf(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if sc != tt.scale {
			t.Errorf("ScaleOf(%q) = %d, want %d", tt.in, sc, tt.scale)
		}
	}
}

func TestRescale(t *testing.T) {
	tests := []struct {
		in    Decimal
		scale uint8
		want  Decimal
		err   error
	}{
		{Decimal{125, 2}, 2, Decimal{125, 2}, nil},
		{Decimal{125, 2}, 8, Decimal{125000000, 8}, nil},
		{Decimal{-125, 2}, 8, Decimal{-125000000, 8}, nil},
		{Decimal{125000000, 8}, 2, Decimal{125, 2}, nil},
		{Decimal{125000001, 8}, 2, Decimal{}, ErrPrecision},
		{Decimal{-125000001, 8}, 2, Decimal{}, ErrPrecision},
		{Decimal{0, 0}, 18, Decimal{0, 18}, nil},
		{Decimal{math.MaxInt64 / 10, 0}, 1, Decimal{math.MaxInt64 / 10 * 10, 1}, nil},
		{Decimal{math.MaxInt64/10 + 1, 0}, 1, Decimal{}, ErrRange},
		{Decimal{math.MinInt64 / 10, 0}, 1, Decimal{math.MinInt64 / 10 * 10, 1}, nil},
		{Decimal{math.MinInt64/10 - 1, 0}, 1, Decimal{}, ErrRange},
		{Decimal{math.MinInt64, 18}, 0, Decimal{}, ErrPrecision},
		{Decimal{-9_000_000_000_000_000_000, 18}, 0, Decimal{-9, 0}, nil},
		{Decimal{1, 0}, 19, Decimal{}, ErrRange},
		{Decimal{1, 40}, 0, Decimal{}, ErrRange}, // invalid scale: an error, not a panic
	}
	for _, tt := range tests {
		got, err := tt.in.Rescale(tt.scale)
		if !errors.Is(err, tt.err) || (tt.err != nil) != (err != nil) {
			t.Errorf("%+v.Rescale(%d) error = %v, want %v", tt.in, tt.scale, err, tt.err)
			continue
		}
		if got != tt.want {
			t.Errorf("%+v.Rescale(%d) = %+v, want %+v", tt.in, tt.scale, got, tt.want)
		}
	}
}

func TestCmp(t *testing.T) {
	tests := []struct {
		a, b Decimal
		want int
	}{
		{Decimal{1, 3}, Decimal{100000, 8}, 0}, // 0.001 == 0.00100000
		{Decimal{6500001, 2}, Decimal{65000010, 3}, 0},
		{Decimal{6500001, 2}, Decimal{65000011, 3}, -1},
		{Decimal{6500001, 2}, Decimal{65000009, 3}, 1},
		{Decimal{-1, 0}, Decimal{1, 18}, -1},
		{Decimal{0, 0}, Decimal{0, 18}, 0},
		{Decimal{0, 5}, Decimal{-1, 18}, 1},
		{Decimal{5, 1}, Decimal{5, 1}, 0},
		{Decimal{4, 1}, Decimal{5, 1}, -1},
		// Rescaling overflows: decided exactly, not through float64 (which would call the
		// first pair equal: both round to 922337203685477632).
		{Decimal{922337203685477581, 0}, Decimal{math.MaxInt64, 1}, 1},
		{Decimal{math.MaxInt64, 1}, Decimal{922337203685477581, 0}, -1},
		{Decimal{-922337203685477581, 0}, Decimal{math.MinInt64, 1}, -1},
		{Decimal{math.MinInt64, 1}, Decimal{-922337203685477581, 0}, 1},
		{Decimal{math.MaxInt64, 0}, Decimal{math.MaxInt64, 18}, 1},
		{Decimal{math.MinInt64, 0}, Decimal{math.MaxInt64, 18}, -1},
		{Decimal{math.MaxInt64, 18}, Decimal{math.MinInt64, 0}, 1},
		// Invalid scales fall back to float64 rather than panicking.
		{Decimal{1, 40}, Decimal{1, 0}, -1},
		{Decimal{1, 0}, Decimal{1, 40}, 1},
	}
	for _, tt := range tests {
		if got := tt.a.Cmp(tt.b); got != tt.want {
			t.Errorf("%+v.Cmp(%+v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Cmp(tt.a); got != -tt.want {
			t.Errorf("%+v.Cmp(%+v) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct {
		d    Decimal
		want string
	}{
		{Decimal{6500001, 2}, "65000.01"},
		{Decimal{6500010, 2}, "65000.10"},
		{Decimal{-1234, 2}, "-12.34"},
		{Decimal{1, 3}, "0.001"},
		{Decimal{-1, 3}, "-0.001"},
		{Decimal{100, 2}, "1.00"},
		{Decimal{0, 0}, "0"},
		{Decimal{0, 2}, "0.00"},
		{Decimal{1234, 8}, "0.00001234"},
		{Decimal{12345678901250, 2}, "123456789012.50"},
		{Decimal{5, 0}, "5"},
		{Decimal{-5, 0}, "-5"},
		{Decimal{math.MaxInt64, 0}, "9223372036854775807"},
		{Decimal{math.MinInt64, 0}, "-9223372036854775808"},
		{Decimal{math.MaxInt64, 18}, "9.223372036854775807"},
		{Decimal{math.MinInt64, 18}, "-9.223372036854775808"},
		{Decimal{math.MinInt64, 19}, "-0.9223372036854775808"},
		{Decimal{1, 18}, "0.000000000000000001"},
	}
	for _, tt := range tests {
		if got := string(tt.d.AppendText([]byte("x="))); got != "x="+tt.want {
			t.Errorf("%+v.AppendText = %q, want %q", tt.d, got, "x="+tt.want)
		}
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.d, got, tt.want)
		}
		if tt.d.Scale > MaxScale {
			continue
		}
		back, err := ParseDecimalString(tt.want, tt.d.Scale)
		if err != nil || back != tt.d {
			t.Errorf("ParseDecimal(%q) = %+v, %v; want %+v", tt.want, back, err, tt.d)
		}
	}
}

func TestDecimalFloat64(t *testing.T) {
	tests := []struct {
		d    Decimal
		want float64
	}{
		{Decimal{6500001, 2}, 65000.01},
		{Decimal{-15, 1}, -1.5},
		{Decimal{1234, 8}, 0.00001234},
		{Decimal{0, 0}, 0},
		{Decimal{1, 20}, 1e-20},
	}
	for _, tt := range tests {
		if got := tt.d.Float64(); got != tt.want {
			t.Errorf("%+v.Float64() = %v, want %v", tt.d, got, tt.want)
		}
	}
	if !(Decimal{0, 5}).IsZero() || (Decimal{1, 5}).IsZero() {
		t.Error("IsZero")
	}
}
