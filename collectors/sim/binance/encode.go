package binancesim

import (
	"strconv"
)

// This file holds the hot-path encoders. They append to dst and return it
// (dst is appended to, never retained) and allocate nothing when dst has
// room, which BenchmarkAppendTradeEvent and TestEncodeAllocs lock in.

var pow10i = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// appendFixed appends v * 10^-scale as a decimal with exactly out
// fractional digits, e.g. appendFixed(dst, 6500001, 2, 8) appends
// "65000.01000000". Digits beyond out are truncated (callers keep
// scale <= out). v must be non-negative. It writes the digits backwards
// into a stack buffer, two at a time: numbers are most of every frame.
func appendFixed(dst []byte, v int64, scale, out int) []byte {
	if scale > out {
		v /= pow10i[scale-out]
		scale = out
	}
	var buf [48]byte // 19 integer digits, '.', at most 18 fraction digits
	i := len(buf)
	for range out - scale {
		i--
		buf[i] = '0'
	}
	u := uint64(v)
	if out > 0 {
		for range scale {
			i--
			buf[i] = byte('0' + u%10)
			u /= 10
		}
		i--
		buf[i] = '.'
	}
	for u >= 100 {
		q := u / 100
		r := (u - q*100) * 2
		i -= 2
		buf[i], buf[i+1] = digitPairs[r], digitPairs[r+1]
		u = q
	}
	if u >= 10 {
		i -= 2
		buf[i], buf[i+1] = digitPairs[u*2], digitPairs[u*2+1]
	} else {
		i--
		buf[i] = byte('0' + u)
	}
	return append(dst, buf[i:]...)
}

const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// appendPrice appends t's price as Binance prints it: quote precision.
func (s *symbolState) appendPrice(dst []byte, t trade) []byte {
	return appendFixed(dst, t.priceTicks, s.tickDec, s.inst.QuotePrecision)
}

// appendQty appends t's quantity with base precision.
func (s *symbolState) appendQty(dst []byte, t trade) []byte {
	return appendFixed(dst, t.qtySteps, s.stepDec, s.inst.BasePrecision)
}

// appendQuoteQty appends price*qty, exact, with quote precision.
func (s *symbolState) appendQuoteQty(dst []byte, t trade) []byte {
	return appendFixed(dst, t.priceTicks*t.qtySteps, s.tickDec+s.stepDec, s.inst.QuotePrecision)
}

// appendTradeEvent appends the raw <symbol>@trade payload:
//
//	{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.00100000","q":"100.00000000","T":1672515782136,"m":true,"M":true}
func (s *symbolState) appendTradeEvent(dst []byte, t trade, eventMs, tradeMs int64) []byte {
	dst = append(dst, `{"e":"trade","E":`...)
	dst = strconv.AppendInt(dst, eventMs, 10)
	dst = append(dst, `,"s":"`...)
	dst = append(dst, s.inst.Symbol...)
	dst = append(dst, `","t":`...)
	dst = strconv.AppendInt(dst, t.id, 10)
	dst = append(dst, `,"p":"`...)
	dst = s.appendPrice(dst, t)
	dst = append(dst, `","q":"`...)
	dst = s.appendQty(dst, t)
	dst = append(dst, `","T":`...)
	dst = strconv.AppendInt(dst, tradeMs, 10)
	dst = append(dst, `,"m":`...)
	dst = appendBool(dst, t.buyerMaker)
	return append(dst, `,"M":true}`...)
}

// appendCombinedTradeEvent appends {"stream":"<sym>@trade","data":<raw>}
// and returns dst and the offset in the appended bytes where the raw
// payload starts. The raw payload is frame[rawOff:len(frame)-1].
func (s *symbolState) appendCombinedTradeEvent(dst []byte, t trade, eventMs, tradeMs int64) ([]byte, int) {
	start := len(dst)
	dst = append(dst, s.streamPrefix[kindTrade]...)
	rawOff := len(dst) - start
	dst = s.appendTradeEvent(dst, t, eventMs, tradeMs)
	return append(dst, '}'), rawOff
}

// appendRESTTrade appends one trade object of /api/v3/trades:
//
//	{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.00001200","time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}
func (s *symbolState) appendRESTTrade(dst []byte, id int64, r histRec) []byte {
	t := trade{id: id, priceTicks: r.priceTicks, qtySteps: r.qtySteps}
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, id, 10)
	dst = append(dst, `,"price":"`...)
	dst = s.appendPrice(dst, t)
	dst = append(dst, `","qty":"`...)
	dst = s.appendQty(dst, t)
	dst = append(dst, `","quoteQty":"`...)
	dst = s.appendQuoteQty(dst, t)
	dst = append(dst, `","time":`...)
	dst = strconv.AppendInt(dst, r.timeBM>>1, 10)
	dst = append(dst, `,"isBuyerMaker":`...)
	dst = appendBool(dst, r.timeBM&1 == 1)
	return append(dst, `,"isBestMatch":true}`...)
}

// appendTradeLogLine appends "<SYMBOL> <id>\n".
func (s *symbolState) appendTradeLogLine(dst []byte, id int64) []byte {
	dst = append(dst, s.inst.Symbol...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, id, 10)
	return append(dst, '\n')
}

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// appendFrameHeader appends an unmasked, unfragmented server frame header
// for a payload of n bytes.
func appendFrameHeader(dst []byte, opcode byte, n int) []byte {
	dst = append(dst, 0x80|opcode)
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	default:
		return append(dst, 127,
			byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendClosePayload appends a close frame payload: code then reason,
// the reason clipped so the payload fits a control frame (125 bytes).
func appendClosePayload(dst []byte, code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	dst = append(dst, byte(code>>8), byte(code))
	return append(dst, reason...)
}
