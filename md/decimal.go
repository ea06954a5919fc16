package md

import (
	"errors"
	"math"
	"strconv"
)

// MaxScale is the largest number of decimal places a Decimal can carry.
const MaxScale = 18

// Errors returned by ParseDecimal. Callers send the frame to the dead-letter topic with
// the error text as the reason.
var (
	// ErrSyntax means the text is not a plain decimal number.
	ErrSyntax = errors.New("md: invalid decimal syntax")
	// ErrPrecision means the text has non-zero digits beyond the instrument's scale.
	ErrPrecision = errors.New("md: decimal has more precision than the instrument scale")
	// ErrRange means the value does not fit an int64 mantissa at the instrument's scale.
	ErrRange = errors.New("md: decimal out of range for int64 at the instrument scale")
)

// Decimal is an exact decimal value Mant x 10^-Scale. Values parsed for one instrument
// share its scale, so equal prices have equal mantissas ("0.001" == "0.00100000").
type Decimal struct {
	Mant  int64
	Scale uint8
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// ParseDecimal parses a plain decimal ("-12.3400", "5", "1e-8" is not accepted) at the given
// scale without rounding. It never allocates.
func ParseDecimal(s []byte, scale uint8) (Decimal, error) {
	if scale > MaxScale {
		return Decimal{}, ErrRange
	}
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		i++
	}
	var mant uint64
	digits, frac := 0, -1 // frac counts digits after '.', -1 before the point
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // math.MinInt64 fits
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if frac >= 0 {
				return Decimal{}, ErrSyntax
			}
			frac = 0
			continue
		}
		if c < '0' || c > '9' {
			return Decimal{}, ErrSyntax
		}
		digits++
		if frac >= 0 {
			if frac >= int(scale) {
				if c != '0' {
					return Decimal{}, ErrPrecision
				}
				continue
			}
			frac++
		}
		if mant > (limit-uint64(c-'0'))/10 {
			return Decimal{}, ErrRange
		}
		mant = mant*10 + uint64(c-'0')
	}
	if digits == 0 {
		return Decimal{}, ErrSyntax
	}
	if frac < 0 {
		frac = 0
	}
	for ; frac < int(scale); frac++ {
		if mant > limit/10 {
			return Decimal{}, ErrRange
		}
		mant *= 10
	}
	v := int64(mant)
	if neg {
		v = -v
	}
	return Decimal{Mant: v, Scale: scale}, nil
}

// ParseDecimalString is ParseDecimal for a string. It does not allocate.
func ParseDecimalString(s string, scale uint8) (Decimal, error) {
	return ParseDecimal(unsafeBytes(s), scale)
}

// MustDecimal parses s at scale and panics on error. For tests and constants only.
func MustDecimal(s string, scale uint8) Decimal {
	d, err := ParseDecimalString(s, scale)
	if err != nil {
		panic(err)
	}
	return d
}

// ScaleOf returns the number of decimal places of a tick or lot size such as "0.01000000"
// (2) or "1.00000000" (0). Trailing zeros do not count.
func ScaleOf(step string) (uint8, error) {
	dot := -1
	last := -1
	digits := false
	for i := 0; i < len(step); i++ {
		c := step[i]
		switch {
		case c == '.':
			if dot >= 0 {
				return 0, ErrSyntax
			}
			dot = i
		case c >= '0' && c <= '9':
			digits = true
			if dot >= 0 && c != '0' {
				last = i
			}
		default:
			return 0, ErrSyntax
		}
	}
	if !digits {
		return 0, ErrSyntax
	}
	if dot < 0 || last < 0 {
		return 0, nil
	}
	sc := last - dot
	if sc > MaxScale {
		return 0, ErrRange
	}
	return uint8(sc), nil
}

// Float64 returns the nearest float64, for analytics only.
func (d Decimal) Float64() float64 {
	if d.Scale <= 18 {
		return float64(d.Mant) / float64(pow10[d.Scale])
	}
	return float64(d.Mant) * math.Pow10(-int(d.Scale))
}

// IsZero reports whether the value is zero.
func (d Decimal) IsZero() bool { return d.Mant == 0 }

// Rescale returns d at a larger scale. It fails with ErrRange if the result does not fit and
// ErrPrecision if scale is smaller than d's and digits would be lost.
func (d Decimal) Rescale(scale uint8) (Decimal, error) {
	if scale > MaxScale || d.Scale > MaxScale {
		return Decimal{}, ErrRange
	}
	if scale == d.Scale {
		return d, nil
	}
	if scale < d.Scale {
		p := pow10[d.Scale-scale]
		if d.Mant%p != 0 {
			return Decimal{}, ErrPrecision
		}
		return Decimal{Mant: d.Mant / p, Scale: scale}, nil
	}
	p := pow10[scale-d.Scale]
	if d.Mant > math.MaxInt64/p || d.Mant < math.MinInt64/p {
		return Decimal{}, ErrRange
	}
	return Decimal{Mant: d.Mant * p, Scale: scale}, nil
}

// Cmp compares two decimals of any scales: -1, 0 or +1.
func (d Decimal) Cmp(o Decimal) int {
	if d.Scale != o.Scale {
		if d.Scale > MaxScale || o.Scale > MaxScale {
			return cmpFloat(d.Float64(), o.Float64())
		}
		// Rescale the one with fewer decimals. If that overflows, its magnitude exceeds
		// every value representable at the other scale, so its sign decides (exactly:
		// comparing float64s here could call unequal values equal).
		if d.Scale < o.Scale {
			x, err := d.Rescale(o.Scale)
			if err != nil {
				return sign(d.Mant)
			}
			d = x
		} else {
			x, err := o.Rescale(d.Scale)
			if err != nil {
				return -sign(o.Mant)
			}
			o = x
		}
	}
	switch {
	case d.Mant < o.Mant:
		return -1
	case d.Mant > o.Mant:
		return 1
	}
	return 0
}

func sign(m int64) int {
	switch {
	case m < 0:
		return -1
	case m > 0:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// AppendText appends the decimal as text with exactly Scale decimals ("65000.10").
func (d Decimal) AppendText(dst []byte) []byte {
	m := d.Mant
	if m < 0 {
		dst = append(dst, '-')
	}
	u := uint64(m)
	if m < 0 {
		u = uint64(-m)
	}
	if d.Scale == 0 {
		return strconv.AppendUint(dst, u, 10)
	}
	var buf [24]byte
	b := strconv.AppendUint(buf[:0], u, 10)
	sc := int(d.Scale)
	if len(b) <= sc {
		dst = append(dst, '0', '.')
		for i := len(b); i < sc; i++ {
			dst = append(dst, '0')
		}
		return append(dst, b...)
	}
	dst = append(dst, b[:len(b)-sc]...)
	dst = append(dst, '.')
	return append(dst, b[len(b)-sc:]...)
}

// String returns the decimal as text with exactly Scale decimals.
func (d Decimal) String() string { return string(d.AppendText(nil)) }
