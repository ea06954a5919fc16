package stream

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tickflow/tickflow/md"
)

func testTrade(venue, symbol string, id uint64, price, qty string) *md.Trade {
	return &md.Trade{
		Header: md.Header{
			Venue: venue, Symbol: symbol,
			ExchTime: 1_719_000_000_000_000_000 + int64(id),
			RecvTime: 1_719_000_000_001_000_000 + int64(id),
			Source:   md.SourceLive,
		},
		ID:    md.NumericID(id),
		Price: md.MustDecimal(price, 2),
		Qty:   md.MustDecimal(qty, 8),
		Side:  md.SideBuy,
	}
}

func TestAppendTradeGolden(t *testing.T) {
	cs := newChanState(newIndex(), Channel{Kind: KindTrades, Venue: "binance", Symbol: "BTC-USDT"})
	tr := testTrade("binance", "BTC-USDT", 12345, "65000.01", "0.0012")
	got := string(appendTrade(nil, cs, 7, tr))
	want := `{"type":"trade","channel":"trades:binance:BTC-USDT","seq":7,"venue":"binance","symbol":"BTC-USDT",` +
		`"id":"12345","price":"65000.01","qty":"0.00120000","side":"buy",` +
		`"exch_time":1719000000000012345,"recv_time":1719000000001012345,"source":"live"}`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}

	tr.SendTime = 1_719_000_000_000_500_000
	tr.ClockOffset = -1500
	tr.Side = md.SideSell
	tr.Source = md.SourceBackfill
	tr.ID, _ = md.TextID([]byte(`a"b\c`))
	tr.Price = md.MustDecimal("-0.5", 3)
	got = string(appendTrade(nil, cs, 8, tr))
	want = `{"type":"trade","channel":"trades:binance:BTC-USDT","seq":8,"venue":"binance","symbol":"BTC-USDT",` +
		`"id":"a\"b\\c","price":"-0.500","qty":"0.00120000","side":"sell",` +
		`"exch_time":1719000000000012345,"send_time":1719000000000500000,"recv_time":1719000000001012345,` +
		`"clock_offset":-1500,"source":"backfill"}`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAppendIntegrityGolden(t *testing.T) {
	cs := newChanState(newIndex(), Channel{Kind: KindIntegrity, Venue: "binance", Symbol: "BTC-USDT"})
	e := &md.Integrity{
		Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", RecvTime: 30},
		Type:   md.IntegrityGap, Stream: md.KindTrade, From: 10, To: 20, FirstID: 100, LastID: 120, Count: 21,
	}
	got := string(appendIntegrity(nil, cs, 1, e))
	want := `{"type":"integrity","channel":"integrity:binance:BTC-USDT","seq":1,"venue":"binance","symbol":"BTC-USDT",` +
		`"event":"gap","stream":"trades","from":10,"to":20,"first_id":"100","last_id":"120","count":21,` +
		`"exch_time":0,"recv_time":30,"source":"live"}`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	e.Type, e.FirstID, e.LastID, e.Count = md.IntegrityDisconnect, 0, 0, 0
	got = string(appendIntegrity(nil, cs, 2, e))
	if !strings.Contains(got, `"event":"disconnect","stream":"trades","from":10,"to":20,"exch_time":0`) {
		t.Fatalf("optional ids not omitted: %s", got)
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "nl\n\r\t", "\x00\x1f", "ünï", "\xff\xfe",
		"a\xc3", "日本", "\u2028"} {
		enc := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, enc, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want && utf8.ValidString(s) {
			t.Fatalf("%q round-trips to %q", s, back)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	cs := newChanState(newIndex(), Channel{Kind: KindTrades, Venue: "binance", Symbol: "BTC-USDT"})
	tr := testTrade("binance", "BTC-USDT", 12345, "65000.01", "0.0012")
	ie := &md.Integrity{Header: tr.Header, Type: md.IntegrityGap, Stream: md.KindTrade, FirstID: 1}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(1000, func() {
		buf = appendTrade(buf[:0], cs, 1, tr)
		buf = appendIntegrity(buf[:0], cs, 1, ie)
	}); n != 0 {
		t.Fatalf("encode allocates %v times per event", n)
	}
}
