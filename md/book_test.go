package md

import (
	"reflect"
	"testing"
)

func bookFixture(levels int) *BookUpdate {
	u := &BookUpdate{Header: Header{Venue: "binance", Symbol: "BTC-USDT", ExchTime: 1700000000123000000,
		RecvTime: 1700000000124000000, Prov: Provenance{Epoch: 1795308466488993973, Seq: 42, Index: 0}, ParserVersion: 1},
		Snapshot: levels > 3, Seq: 1001, PrevSeq: 1000, FirstID: 157, LastID: 160, Depth: 1000}
	for i := 0; i < levels; i++ {
		u.Bids = append(u.Bids, Level{Price: Decimal{Mant: 6500000 - int64(i), Scale: 2}, Qty: Decimal{Mant: int64(100 + i), Scale: 5}})
		u.Asks = append(u.Asks, Level{Price: Decimal{Mant: 6500001 + int64(i), Scale: 2}, Qty: Decimal{Mant: int64(i), Scale: 5}})
	}
	return u
}

func TestBookRoundTrip(t *testing.T) {
	dec := NewDecoder()
	for _, n := range []int{0, 1, 3, 200, 1000} {
		in := bookFixture(n)
		b := AppendBookUpdate(nil, in)
		var out BookUpdate
		if err := dec.DecodeBookUpdate(&out, b); err != nil {
			t.Fatalf("levels=%d: %v", n, err)
		}
		if n == 0 {
			out.Bids, out.Asks = nil, nil
		}
		if !reflect.DeepEqual(in, &out) {
			t.Fatalf("levels=%d: round trip differs:\n in %+v\nout %+v", n, in.Header, out.Header)
		}
		for cut := 0; cut < len(b); cut += 1 + len(b)/200 {
			if err := dec.DecodeBookUpdate(&out, b[:cut]); err == nil {
				t.Fatalf("levels=%d: truncated at %d/%d decoded without error", n, cut, len(b))
			}
		}
	}
	bbo := &BBO{Header: Header{Venue: "binance", Symbol: "ETH-USDT", RecvTime: 5}, BidPrice: MustDecimal("1.5", 2),
		BidQty: MustDecimal("3", 1), AskPrice: MustDecimal("1.51", 2), AskQty: MustDecimal("0.5", 1), UpdateID: 400900217}
	var bb BBO
	if err := dec.DecodeBBO(&bb, AppendBBO(nil, bbo)); err != nil || bb != *bbo {
		t.Fatalf("bbo round trip: %v %+v", err, bb)
	}
	st := &BookStatus{Header: Header{Venue: "binance", Symbol: "ETH-USDT", RecvTime: 5}, State: BookInvalid,
		Reason: IntegrityGap, Seq: 77}
	var ss BookStatus
	if err := dec.DecodeBookStatus(&ss, AppendBookStatus(nil, st)); err != nil || ss != *st {
		t.Fatalf("status round trip: %v %+v", err, ss)
	}
	if k, _ := PeekKind(AppendBookStatus(nil, st)); k != KindBookStatus {
		t.Fatalf("kind = %v", k)
	}
}

func TestBookCodecAllocs(t *testing.T) {
	in := bookFixture(1000)
	dec := NewDecoder()
	buf := AppendBookUpdate(nil, in)
	var out BookUpdate
	_ = dec.DecodeBookUpdate(&out, buf)
	if n := testing.AllocsPerRun(100, func() { buf = AppendBookUpdate(buf[:0], in) }); n != 0 {
		t.Errorf("AppendBookUpdate allocs = %v, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = dec.DecodeBookUpdate(&out, buf) }); n != 0 {
		t.Errorf("DecodeBookUpdate allocs = %v, want 0", n)
	}
}
