package binancesim

import "strconv"

// Encoders for the order-book messages. Like encode.go they append to dst
// and return it, never retain dst, and allocate nothing when dst has room
// (BenchmarkAppendDepthEvent, TestDepthEncodeAllocs).

// maxLevelBytes bounds one encoded level `["<price>","<qty>"],`: both
// numbers are at most 19 integer digits, '.', 8 decimals.
const maxLevelBytes = 2*(19+1+8) + 8

// appendLevel appends ["<price>","<qty>"] as Binance prints them: prices
// with quote precision, quantities with base precision.
func (s *symbolState) appendLevel(dst []byte, price, qty int64) []byte {
	dst = append(dst, `["`...)
	dst = appendFixed(dst, price, s.tickDec, s.inst.QuotePrecision)
	dst = append(dst, `","`...)
	dst = appendFixed(dst, qty, s.stepDec, s.inst.BasePrecision)
	return append(dst, `"]`...)
}

// appendDepthEvent appends the raw <symbol>@depth payload for the update
// ids first..last:
//
//	{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}
//
// changed holds the changed levels as price<<1|side, sorted ascending and
// without repeats; each is printed with its current (absolute) size in the
// book, "0" for a removed level. Bids come best first, then asks best
// first. The generation goroutine calls it at the end of the interval, so
// the book holds exactly the state at update id last.
func (s *symbolState) appendDepthEvent(dst []byte, eventMs, first, last int64, changed []int64) []byte {
	dst = append(dst, `{"e":"depthUpdate","E":`...)
	dst = strconv.AppendInt(dst, eventMs, 10)
	dst = append(dst, `,"s":"`...)
	dst = append(dst, s.inst.Symbol...)
	dst = append(dst, `","U":`...)
	dst = strconv.AppendInt(dst, first, 10)
	dst = append(dst, `,"u":`...)
	dst = strconv.AppendInt(dst, last, 10)
	dst = append(dst, `,"b":[`...)
	sep := false
	for i := len(changed) - 1; i >= 0; i-- {
		if k := changed[i]; k&1 == sideBid {
			if sep {
				dst = append(dst, ',')
			}
			sep = true
			dst = s.appendLevel(dst, k>>1, s.book.bids.qtyAt(k>>1))
		}
	}
	dst = append(dst, `],"a":[`...)
	sep = false
	for _, k := range changed {
		if k&1 == sideAsk {
			if sep {
				dst = append(dst, ',')
			}
			sep = true
			dst = s.appendLevel(dst, k>>1, s.book.asks.qtyAt(k>>1))
		}
	}
	return append(dst, "]}"...)
}

// appendBookTicker appends the raw <symbol>@bookTicker payload:
//
//	{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}
func (s *symbolState) appendBookTicker(dst []byte, u int64, t topOfBook) []byte {
	qp, bp := s.inst.QuotePrecision, s.inst.BasePrecision
	dst = append(dst, `{"u":`...)
	dst = strconv.AppendInt(dst, u, 10)
	dst = append(dst, `,"s":"`...)
	dst = append(dst, s.inst.Symbol...)
	dst = append(dst, `","b":"`...)
	dst = appendFixed(dst, t.bidPrice, s.tickDec, qp)
	dst = append(dst, `","B":"`...)
	dst = appendFixed(dst, t.bidQty, s.stepDec, bp)
	dst = append(dst, `","a":"`...)
	dst = appendFixed(dst, t.askPrice, s.tickDec, qp)
	dst = append(dst, `","A":"`...)
	dst = appendFixed(dst, t.askQty, s.stepDec, bp)
	return append(dst, `"}`...)
}

// appendTopLevels appends the partial book depth payload
//
//	{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}
//
// for the top n levels of the live book (generator only).
func (s *symbolState) appendTopLevels(dst []byte, n int) []byte {
	b := &s.book
	dst = append(dst, `{"lastUpdateId":`...)
	dst = strconv.AppendInt(dst, b.lastID, 10)
	dst = append(dst, `,"bids":[`...)
	for i := len(b.bids.lv) - 1; i >= 0 && i >= len(b.bids.lv)-n; i-- {
		if i != len(b.bids.lv)-1 {
			dst = append(dst, ',')
		}
		dst = s.appendLevel(dst, b.bids.lv[i].key, b.bids.lv[i].qty)
	}
	dst = append(dst, `],"asks":[`...)
	for i := len(b.asks.lv) - 1; i >= 0 && i >= len(b.asks.lv)-n; i-- {
		if i != len(b.asks.lv)-1 {
			dst = append(dst, ',')
		}
		dst = s.appendLevel(dst, -b.asks.lv[i].key, b.asks.lv[i].qty)
	}
	return append(dst, "]}"...)
}

// appendRESTDepth appends the GET /api/v3/depth body for snap:
//
//	{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}
func (s *symbolState) appendRESTDepth(dst []byte, snap *depthSnap, limit int) []byte {
	dst = append(dst, `{"lastUpdateId":`...)
	dst = strconv.AppendInt(dst, snap.lastID, 10)
	dst = append(dst, `,"bids":[`...)
	for i, l := range snap.bids[:min(limit, len(snap.bids))] {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = s.appendLevel(dst, l.key, l.qty)
	}
	dst = append(dst, `],"asks":[`...)
	for i, l := range snap.asks[:min(limit, len(snap.asks))] {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = s.appendLevel(dst, l.key, l.qty)
	}
	return append(dst, "]}"...)
}
