package stream

import (
	"strconv"

	"github.com/tickflow/tickflow/md"
)

// Encoders of book and BBO frames (schemas in docs/streaming.md). Like encode.go they
// allocate nothing when dst has room.

// appendLevel appends ["<price>","<qty>"]; a deleted level's quantity is exactly "0".
func appendLevel(dst []byte, px, qty int64, pxScale, qtyScale uint8) []byte {
	dst = append(dst, `["`...)
	dst = md.Decimal{Mant: px, Scale: pxScale}.AppendText(dst)
	if qty == 0 {
		return append(dst, `","0"]`...)
	}
	dst = append(dst, `","`...)
	dst = md.Decimal{Mant: qty, Scale: qtyScale}.AppendText(dst)
	return append(dst, `"]`...)
}

// appendSide appends the top n levels of s as a JSON array.
func appendSide(dst []byte, s *bookSide, n int, pxScale, qtyScale uint8) []byte {
	dst = append(dst, '[')
	n = min(n, len(s.px))
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendLevel(dst, s.px[i], s.qty[i], pxScale, qtyScale)
	}
	return append(dst, ']')
}

// appendLvls appends ls as a JSON array of levels.
func appendLvls(dst []byte, ls []lvl, pxScale, qtyScale uint8) []byte {
	dst = append(dst, '[')
	for i := range ls {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendLevel(dst, ls[i].px, ls[i].qty, pxScale, qtyScale)
	}
	return append(dst, ']')
}

func appendIDField(dst []byte, key string, id uint64) []byte {
	dst = append(dst, key...)
	dst = strconv.AppendUint(dst, id, 10)
	return append(dst, '"')
}

// appendBookSnapshot appends the book_snapshot frame of class c: the top c.depth levels
// of its book, at the book's seq.
func appendBookSnapshot(dst []byte, c *bookClass) []byte {
	b := c.book
	dst = append(dst, c.snapHead...)
	dst = strconv.AppendUint(dst, b.seq, 10)
	dst = append(dst, b.mid...)
	dst = append(dst, `,"depth":`...)
	dst = strconv.AppendInt(dst, int64(c.depth), 10)
	dst = append(dst, `,"known_depth":`...)
	dst = strconv.AppendUint(dst, uint64(b.knownDepth), 10)
	if b.lastID != 0 {
		dst = appendIDField(dst, `,"last_id":"`, b.lastID)
	}
	dst = append(dst, `,"bids":`...)
	dst = appendSide(dst, &b.bids, c.depth, b.pxScale, b.qtyScale)
	dst = append(dst, `,"asks":`...)
	dst = appendSide(dst, &b.asks, c.depth, b.pxScale, b.qtyScale)
	dst = appendTimes(dst, &b.hdr)
	return append(dst, '}')
}

// appendBookDelta appends the book_delta frame of class c for update u.
func appendBookDelta(dst []byte, c *bookClass, u *md.BookUpdate, prev uint64, bids, asks []lvl) []byte {
	b := c.book
	dst = append(dst, c.deltaHead...)
	dst = strconv.AppendUint(dst, u.Seq, 10)
	dst = append(dst, `,"prev_seq":`...)
	dst = strconv.AppendUint(dst, prev, 10)
	dst = append(dst, b.mid...)
	if u.FirstID != 0 {
		dst = appendIDField(dst, `,"first_id":"`, u.FirstID)
	}
	if u.LastID != 0 {
		dst = appendIDField(dst, `,"last_id":"`, u.LastID)
	}
	dst = append(dst, `,"bids":`...)
	dst = appendLvls(dst, bids, b.pxScale, b.qtyScale)
	dst = append(dst, `,"asks":`...)
	dst = appendLvls(dst, asks, b.pxScale, b.qtyScale)
	dst = appendTimes(dst, &u.Header)
	return append(dst, '}')
}

// appendBookStatus appends a book_status frame of class c.
func appendBookStatus(dst []byte, c *bookClass, seq uint64, valid bool, reason string, h *md.Header) []byte {
	dst = append(dst, c.statusHead...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, c.book.mid...)
	if valid {
		dst = append(dst, `,"state":"valid"`...)
	} else {
		dst = append(dst, `,"state":"invalid","reason":`...)
		dst = appendJSONString(dst, reason)
	}
	dst = appendTimes(dst, h)
	return append(dst, '}')
}

// appendBBO appends the bbo frame of q on channel cs with sequence seq.
func appendBBO(dst []byte, cs *chanState, seq uint64, q *md.BBO) []byte {
	dst = append(dst, cs.head...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, cs.mid...)
	dst = append(dst, `,"bid_price":"`...)
	dst = q.BidPrice.AppendText(dst)
	dst = append(dst, `","bid_qty":"`...)
	dst = q.BidQty.AppendText(dst)
	dst = append(dst, `","ask_price":"`...)
	dst = q.AskPrice.AppendText(dst)
	dst = append(dst, `","ask_qty":"`...)
	dst = q.AskQty.AppendText(dst)
	dst = append(dst, '"')
	dst = appendIDField(dst, `,"update_id":"`, q.UpdateID)
	dst = appendTimes(dst, &q.Header)
	return append(dst, '}')
}
