package sink

import (
	"testing"

	"github.com/tickflow/tickflow/md"
)

func derivHeader(seq uint64) md.Header {
	return md.Header{Venue: "binance", Symbol: "BTC-USDT-PERP", RecvTime: 1_767_225_600_000_000_000,
		Prov: md.Provenance{Epoch: 1, Seq: seq}, ParserVersion: 1}
}

// TestDecodeDerivKinds: funding, open interest and liquidations reach the batch for a store
// that declares them, headers are checked like every kind, and a store that does not
// declare them gets them refused as unsupported.
func TestDecodeDerivKinds(t *testing.T) {
	f := md.Funding{Header: derivHeader(1), Rate: md.Decimal{Mant: 1, Scale: 4}, FundingTime: 5}
	o := md.OpenInterest{Header: derivHeader(2), Qty: md.Decimal{Mant: 812, Scale: 1}}
	l := md.Liquidation{Header: derivHeader(3), Side: md.SideSell, Price: md.Decimal{Mant: 9},
		Qty: md.Decimal{Mant: 2}}
	bad := md.Liquidation{Header: derivHeader(4)}
	bad.Symbol = ""
	enc := md.AppendFunding(nil, &f)
	all := storedKinds(bookStore{newMemStore()})
	for _, tc := range []struct {
		name   string
		value  []byte
		kinds  kindSet
		reason string
		check  func(*Batch) bool
	}{
		{"funding", enc, all, "", func(b *Batch) bool { return len(b.Funding) == 1 && b.Funding[0] == f }},
		{"open interest", md.AppendOpenInterest(nil, &o), all, "",
			func(b *Batch) bool { return len(b.OpenInterest) == 1 && b.OpenInterest[0] == o }},
		{"liquidation", md.AppendLiquidation(nil, &l), all, "",
			func(b *Batch) bool { return len(b.Liquidations) == 1 && b.Liquidations[0] == l }},
		{"liquidation without symbol", md.AppendLiquidation(nil, &bad), all, ReasonInvalidHeader,
			func(b *Batch) bool { return b.Len() == 0 }},
		{"truncated funding", enc[:len(enc)-1], all, ReasonTruncated,
			func(b *Batch) bool { return b.Len() == 0 }},
		{"funding for a base store", enc, baseKinds, ReasonUnsupportedKind,
			func(b *Batch) bool { return b.Len() == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Batch
			reason, err := decodeInto(md.NewDecoder(), &b, tc.kinds, tc.value)
			if reason != tc.reason || (err == nil) != (tc.reason == "") {
				t.Fatalf("reason %q err %v, want %q", reason, err, tc.reason)
			}
			if !tc.check(&b) {
				t.Fatalf("batch: %+v", b)
			}
			b.Reset()
			if b.Len() != 0 {
				t.Fatalf("Reset left %d events", b.Len())
			}
		})
	}
}
