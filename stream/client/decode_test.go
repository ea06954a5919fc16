package client

import (
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/stream/internal/jsonscan"
)

const tradeFrame = `{"type":"trade","channel":"trades:binance:BTC-USDT","seq":1842,"venue":"binance","symbol":"BTC-USDT",` +
	`"id":"3748812345","price":"65000.01","qty":"0.00120000","side":"buy","exch_time":1719000000123000000,` +
	`"send_time":1719000000123400000,"recv_time":1719000000125012345,"source":"live","future_field":{"x":[1]}}`

func TestDecodeTradeFrame(t *testing.T) {
	var (
		s jsonscan.Scanner
		f frame
		m Message
	)
	in := md.NewInterner(0)
	if err := decodeFrame(&s, []byte(tradeFrame), &f); err != nil {
		t.Fatal(err)
	}
	if err := f.trade(&m.Trade, in); err != nil {
		t.Fatal(err)
	}
	want := md.Trade{
		Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", ExchTime: 1719000000123000000,
			SendTime: 1719000000123400000, RecvTime: 1719000000125012345},
		ID: md.NumericID(3748812345), Price: md.Decimal{Mant: 6500001, Scale: 2},
		Qty: md.Decimal{Mant: 120000, Scale: 8}, Side: md.SideBuy,
	}
	if m.Trade != want || f.seq != 1842 || string(f.channel) != "trades:binance:BTC-USDT" {
		t.Fatalf("got %+v seq %d", m.Trade, f.seq)
	}
}

// TestDecodeAllocs locks in that turning a trade frame into a Message allocates nothing
// once venue, symbol and channel names are interned.
func TestDecodeAllocs(t *testing.T) {
	var (
		s jsonscan.Scanner
		f frame
	)
	in := md.NewInterner(0)
	data := []byte(tradeFrame)
	run := func() {
		if err := decodeFrame(&s, data, &f); err != nil {
			t.Fatal(err)
		}
		m := Message{Type: TypeTrade, Channel: in.Bytes(f.channel), Seq: f.seq}
		if err := f.trade(&m.Trade, in); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Fatalf("decode allocates %v times per frame", n)
	}
}

func BenchmarkDecodeTrade(b *testing.B) {
	var (
		s jsonscan.Scanner
		f frame
		m Message
	)
	in := md.NewInterner(0)
	data := []byte(tradeFrame)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeFrame(&s, data, &f); err != nil {
			b.Fatal(err)
		}
		if err := f.trade(&m.Trade, in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{opts: Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}.withDefaults()}
	for _, tc := range []struct {
		attempt int
		lo, hi  time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second},
		{50, 500 * time.Millisecond, time.Second},
	} {
		for range 100 {
			if d := c.backoff(tc.attempt); d < tc.lo || d > tc.hi {
				t.Fatalf("attempt %d: %v outside [%v, %v]", tc.attempt, d, tc.lo, tc.hi)
			}
		}
	}
}
