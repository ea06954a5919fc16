package sink

import (
	"testing"

	"github.com/tickflow/tickflow/md"
)

func hdr(venue, symbol string, epoch, seq uint64, idx uint32) *md.Header {
	return &md.Header{Venue: venue, Symbol: symbol, ParserVersion: 1,
		Prov: md.Provenance{Epoch: epoch, Seq: seq, Index: idx}}
}

func TestWatermarks(t *testing.T) {
	var w Watermarks
	w.Load(Key{"binance", "BTC-USDT", md.KindTrade, 1}, md.Provenance{Epoch: 1, Seq: 10})
	steps := []struct {
		h    *md.Header
		kind md.Kind
		want bool
	}{
		{hdr("binance", "BTC-USDT", 1, 10, 0), md.KindTrade, false}, // == stored
		{hdr("binance", "BTC-USDT", 1, 9, 5), md.KindTrade, false},  // below
		{hdr("binance", "BTC-USDT", 1, 10, 1), md.KindTrade, true},  // index above
		{hdr("binance", "BTC-USDT", 1, 10, 1), md.KindTrade, false}, // repeat in batch
		{hdr("binance", "BTC-USDT", 1, 11, 0), md.KindIntegrity, true},
		{hdr("binance", "ETH-USDT", 1, 1, 0), md.KindTrade, true},
		{hdr("binance", "BTC-USDT", 2, 1, 0), md.KindTrade, true}, // new epoch
		{hdr("binance", "BTC-USDT", 0, 0, 0), md.KindBBO, false},  // zero provenance
	}
	for i, s := range steps {
		if _, got := w.Admit(s.kind, s.h); got != s.want {
			t.Fatalf("step %d: admit %v, want %v", i, got, s.want)
		}
	}
	if n := len(w.Dirty()); n != 3 {
		t.Fatalf("%d dirty marks, want 3", n)
	}
	w.Rollback()
	if p, _ := w.Get(Key{"binance", "BTC-USDT", md.KindTrade, 1}); p != (md.Provenance{Epoch: 1, Seq: 10}) {
		t.Fatalf("rollback changed the stored mark: %+v", p)
	}
	if _, ok := w.Admit(md.KindTrade, hdr("binance", "BTC-USDT", 1, 10, 1)); !ok {
		t.Fatal("after rollback the event is not admitted again")
	}
	w.Commit()
	if p, _ := w.Get(Key{"binance", "BTC-USDT", md.KindTrade, 1}); p != (md.Provenance{Epoch: 1, Seq: 10, Index: 1}) {
		t.Fatalf("commit: %+v", p)
	}
	if len(w.Dirty()) != 0 {
		t.Fatal("dirty after commit")
	}
}

func TestWatermarksAdmitDoesNotAllocate(t *testing.T) {
	var w Watermarks
	h := hdr("binance", "BTC-USDT", 1, 1, 0)
	w.Admit(md.KindTrade, h)
	allocs := testing.AllocsPerRun(1000, func() {
		h.Prov.Seq++
		w.Admit(md.KindTrade, h)
	})
	if allocs != 0 {
		t.Fatalf("Admit allocates %v times", allocs)
	}
}
