package binancesim

import "strconv"

// This file defines the book hash of Config.BookLog, so that a client can
// compare its local book with the exchange's truth at an update id.
//
// The hash is 64-bit FNV-1a over a canonical text of the top n levels of
// each side:
//
//	<bid price>:<bid qty>;... | <ask price>:<ask qty>;...
//
// written without spaces: bids best (highest) first, then the byte '|',
// then asks best (lowest) first; at most n levels per side, fewer if the
// side is shorter. Every number is in canonical decimal form: no sign, no
// exponent, leading zeros of the integer part removed (but at least one
// digit kept), trailing zeros of the fraction removed, and the '.' removed
// when no fraction digit remains. So "65000.01000000" is "65000.01",
// "0.00120000" is "0.0012", "100.00" is "100" and "007.50" is "7.5".
// Example, n=2: "65000.01:0.5;65000:1.25;|65000.02:3;65000.05:0.001;".

// DefaultBookHashDepth is the default Config.BookHashDepth.
const DefaultBookHashDepth = 20

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// HashTopN returns the book hash of Config.BookLog for a book whose bids
// are sorted best (highest price) first and asks best (lowest) first. Each
// level is {price, quantity} as decimal strings in any scale ("4.00000000"
// and "4" are the same price). Only the first n levels of each side are
// hashed. Compare it with a BookLog line "<SYMBOL> <u> <hash>" after
// applying every update up to u, formatted as 16 lower-case hex digits
// (fmt "%016x").
func HashTopN(bids, asks [][2]string, n int) uint64 {
	h := uint64(fnvOffset64)
	var buf [64]byte
	for i := 0; i < n && i < len(bids); i++ {
		h = fnvLevel(h, buf[:0], bids[i][0], bids[i][1])
	}
	h = fnvBytes(h, []byte{'|'})
	for i := 0; i < n && i < len(asks); i++ {
		h = fnvLevel(h, buf[:0], asks[i][0], asks[i][1])
	}
	return h
}

func fnvLevel(h uint64, buf []byte, price, qty string) uint64 {
	buf = AppendCanonicalDecimal(buf, price)
	buf = append(buf, ':')
	buf = AppendCanonicalDecimal(buf, qty)
	buf = append(buf, ';')
	return fnvBytes(h, buf)
}

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

// AppendCanonicalDecimal appends the canonical form of the non-negative
// decimal string s used by HashTopN: leading zeros of the integer part and
// trailing zeros of the fraction removed, at least one integer digit kept,
// no '.' without fraction digits. It does not validate s.
func AppendCanonicalDecimal(dst []byte, s string) []byte {
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if intPart == "" {
		intPart = "0"
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	dst = append(dst, intPart...)
	if frac != "" {
		dst = append(dst, '.')
		dst = append(dst, frac...)
	}
	return dst
}

// appendCanonicalFixed appends v * 10^-scale in canonical form; it is
// AppendCanonicalDecimal(appendFixed(v, scale, any out >= scale)).
func appendCanonicalFixed(dst []byte, v int64, scale int) []byte {
	p := pow10i[scale]
	dst = strconv.AppendInt(dst, v/p, 10)
	frac := v % p
	if frac == 0 {
		return dst
	}
	digits := scale
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	dst = append(dst, '.')
	for d := pow10i[digits-1]; d > 1 && frac < d; d /= 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, frac, 10)
}

// hashTop computes the book hash of the top n levels of sym's book using
// buf as scratch; it returns the hash and buf for reuse. Generator only.
func (sym *symbolState) hashTop(buf []byte, n int) (uint64, []byte) {
	b := &sym.book
	buf = buf[:0]
	for i := len(b.bids.lv) - 1; i >= 0 && i >= len(b.bids.lv)-n; i-- {
		buf = sym.appendCanonicalLevel(buf, b.bids.lv[i].key, b.bids.lv[i].qty)
	}
	buf = append(buf, '|')
	for i := len(b.asks.lv) - 1; i >= 0 && i >= len(b.asks.lv)-n; i-- {
		buf = sym.appendCanonicalLevel(buf, -b.asks.lv[i].key, b.asks.lv[i].qty)
	}
	return fnvBytes(fnvOffset64, buf), buf
}

func (sym *symbolState) appendCanonicalLevel(dst []byte, price, qty int64) []byte {
	dst = appendCanonicalFixed(dst, price, sym.tickDec)
	dst = append(dst, ':')
	dst = appendCanonicalFixed(dst, qty, sym.stepDec)
	return append(dst, ';')
}

// appendBookLogLine appends "<SYMBOL> <u> <hash as %016x>\n".
func (sym *symbolState) appendBookLogLine(dst []byte, u int64, h uint64) []byte {
	dst = append(dst, sym.inst.Symbol...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, u, 10)
	dst = append(dst, ' ')
	var hex [16]byte
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		hex[i] = digits[h&0xf]
		h >>= 4
	}
	dst = append(dst, hex[:]...)
	return append(dst, '\n')
}
