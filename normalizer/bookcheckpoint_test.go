package normalizer

import (
	"testing"

	"github.com/tickflow/tickflow/md"
)

func TestBookCheckpointRoundTrip(t *testing.T) {
	h := newBookHarness(t)
	h.feed(t, delta(100, 104, []md.Level{lv(101, 1)}, nil))
	h.feed(t, snapshot(101, []md.Level{lv(100, 5), lv(99, 1)}, []md.Level{lv(110, 1), lv(111, 2)}))
	h.feed(t, delta(105, 105, nil, []md.Level{lv(109, 3)}), delta(106, 106, []md.Level{lv(99, 0)}, nil))
	b := h.n.st.Books["BTC-USDT"]
	b.bufferCopy(delta(200, 201, []md.Level{lv(98, 1)}, nil)) // buffered deltas survive too
	var scratch md.BookUpdate
	val, err := encodeBookCheckpoint(nil, "binance", b, 7, &scratch)
	if err != nil {
		t.Fatal(err)
	}
	gen, got, err := decodeBookCheckpoint(val, md.NewDecoder())
	if err != nil || gen != 7 {
		t.Fatalf("decode: gen %d, %v", gen, err)
	}
	if got.Live != b.Live || got.LastID != b.LastID || got.Seq != b.Seq || got.PxScale != b.PxScale ||
		got.SnapDepth != b.SnapDepth || len(got.Buf) != 1 || got.Buf[0].LastID != 201 {
		t.Fatalf("state differs: got %+v want %+v", got, b)
	}
	if !sameTop(&got.Bids, &b.Bids, 1000) || !sameTop(&got.Asks, &b.Asks, 1000) ||
		len(got.Bids.Px) != len(b.Bids.Px) || len(got.Asks.Px) != len(b.Asks.Px) || !got.Bids.Bid {
		t.Fatalf("levels differ: bids %v/%v asks %v/%v", got.Bids.Px, b.Bids.Px, got.Asks.Px, b.Asks.Px)
	}
	// Truncated records are refused, never half-restored.
	for _, cut := range []int{0, 1, 3, len(val) / 2, len(val) - 1} {
		if _, _, err := decodeBookCheckpoint(val[:cut], md.NewDecoder()); err == nil {
			t.Fatalf("truncated record (%d of %d bytes) decoded", cut, len(val))
		}
	}
	if string(bookCheckpointKey("binance", "BTC-USDT", 1)) != "binance/BTC-USDT#1" {
		t.Fatal("key format changed")
	}
}
