package binance

import (
	"bytes"
	"testing"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
	"github.com/valyala/fastjson"
)

// generalTrade reads a trade event the general way (fastjson), as parseFrame's slow path does.
func generalTrade(frame []byte) (tradeFields, bool) {
	var p fastjson.Parser
	v, err := p.ParseBytes(frame)
	if err != nil {
		return tradeFields{}, false
	}
	if d := v.Get("data"); d != nil {
		v = d
	}
	if v.Type() != fastjson.TypeObject || string(v.GetStringBytes("e")) != "trade" {
		return tradeFields{}, false
	}
	tv := v.Get("t")
	if tv == nil {
		return tradeFields{}, false
	}
	id, err := tv.Uint64()
	if err != nil {
		return tradeFields{}, false
	}
	return tradeFields{sym: v.GetStringBytes("s"), price: v.GetStringBytes("p"), qty: v.GetStringBytes("q"), id: id,
		tradeTime: v.GetInt64("T"), eventTime: v.GetInt64("E"), buyerMaker: v.GetBool("m")}, true
}

func sameFields(a, b tradeFields) bool {
	return bytes.Equal(a.sym, b.sym) && bytes.Equal(a.price, b.price) && bytes.Equal(a.qty, b.qty) &&
		a.id == b.id && a.tradeTime == b.tradeTime && a.eventTime == b.eventTime && a.buyerMaker == b.buyerMaker
}

func TestScanTrade(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame string
		ok    bool
	}{
		{"combined", `{"stream":"btcusdt@trade","data":{"e":"trade","E":1795307795468,"s":"BTCUSDT","t":2957950805,"p":"66941.88000000","q":"0.00217000","T":1795307795468,"m":true,"M":true}}`, true},
		{"raw", `{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"1.0","q":"2.0","T":2,"m":false,"M":true}`, true},
		{"whitespace", " { \"e\" : \"trade\" ,\n\"s\":\"BTCUSDT\",\t\"t\":5,\"p\":\"1\",\"q\":\"2\" } \r\n", true},
		{"old fields b a", `{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"1","q":"2","b":88,"a":50,"T":2,"m":true,"M":true,"x":null,"y":-1.5e-3}`, true},
		{"no T E m", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2"}`, true},
		{"depth", `{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}`, false},
		{"escaped symbol", `{"e":"trade","s":"BTC\u0055SDT","t":5,"p":"1","q":"2"}`, false},
		{"duplicate t", `{"e":"trade","s":"BTCUSDT","t":5,"t":6,"p":"1","q":"2"}`, false},
		{"t float", `{"e":"trade","s":"BTCUSDT","t":5.0,"p":"1","q":"2"}`, false},
		{"t negative", `{"e":"trade","s":"BTCUSDT","t":-5,"p":"1","q":"2"}`, false},
		{"t too long", `{"e":"trade","s":"BTCUSDT","t":1234567890123456789,"p":"1","q":"2"}`, false},
		{"T string", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2","T":"2"}`, false},
		{"m string", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2","m":"true"}`, false},
		{"price number", `{"e":"trade","s":"BTCUSDT","t":5,"p":1,"q":"2"}`, false},
		{"missing q", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1"}`, false},
		{"nested", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2","x":{}}`, false},
		{"trailing", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2"}x`, false},
		{"data key in raw", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2","data":1}`, false},
		{"combined extra key", `{"stream":"s","data":{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2"},"x":1}`, false},
		{"bad number", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2","x":01}`, false},
		{"truncated", `{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2"`, false},
		{"empty", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := scanTrade([]byte(tc.frame))
			if ok != tc.ok {
				t.Fatalf("scanTrade ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			g, gok := generalTrade([]byte(tc.frame))
			if !gok || !sameFields(f, g) {
				t.Fatalf("fast %+v, general %+v (ok %v)", f, g, gok)
			}
		})
	}
}

// FuzzScanTrade: whatever scanTrade accepts, the general path reads identically; and a
// parser using the fast path produces the same trades and errors as the general path.
func FuzzScanTrade(f *testing.F) {
	for _, s := range []string{
		`{"stream":"btcusdt@trade","data":{"e":"trade","E":1795307795468,"s":"BTCUSDT","t":2957950805,"p":"66941.88000000","q":"0.00217000","T":1795307795468,"m":true,"M":true}}`,
		`{"e":"trade","E":1,"s":"PEPEUSDT","t":5,"p":"0.00001288","q":"2.0","T":2,"m":false,"M":true}`,
		`{"e":"trade","s":"BTCUSDT","t":5,"p":"1","q":"2","x":-0.5e+7,"y":null,"z":"w"}`,
		`{"stream":"s","data":{"e":"trade","s":"UNKNOWN","t":0,"p":"-1","q":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	ei := exchangeInfoRecord(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		fast, ok := scanTrade(frame)
		if !ok {
			return
		}
		slow, sok := generalTrade(frame)
		if !sok || !sameFields(fast, slow) {
			t.Fatalf("fast %+v, general %+v (ok %v) for %q", fast, slow, sok, frame)
		}
		p := NewParser()
		var out collectors.Output
		if err := p.Parse(&ei, &out); err != nil {
			t.Fatal(err)
		}
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Epoch: 3, Seq: 9, RecvTime: 7, Frame: frame}
		var v fastjson.Parser
		val, err := v.ParseBytes(frame)
		if err != nil {
			t.Fatal(err)
		}
		if d := val.Get("data"); d != nil {
			val = d
		}
		want, werr := p.trade(val, &rec)
		out.Reset()
		gerr := p.Parse(&rec, &out)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("errors differ: general %v, fast %v", werr, gerr)
		}
		if werr == nil && (len(out.Trades) != 1 || out.Trades[0] != want) {
			t.Fatalf("trades differ: general %+v, fast %+v", want, out.Trades)
		}
	})
}

func TestScanBookTicker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame string
		ok    bool
	}{
		{"combined", `{"stream":"bnbusdt@bookTicker","data":{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}`, true},
		{"raw", `{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`, true},
		{"missing A", `{"u":1,"s":"BNBUSDT","b":"1","B":"1","a":"1"}`, false},
		{"number price", `{"u":1,"s":"BNBUSDT","b":1,"B":"1","a":"1","A":"1"}`, false},
		{"u string", `{"u":"1","s":"BNBUSDT","b":"1","B":"1","a":"1","A":"1"}`, false},
		{"reply", `{"result":null,"id":1}`, false},
		{"raw with id", `{"u":1,"s":"BNBUSDT","b":"1","B":"1","a":"1","A":"1","id":3}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, ok := scanEvent([]byte(tc.frame))
			if ok && ev.kind != eventBookTicker {
				t.Fatalf("kind %d", ev.kind)
			}
			if ok != tc.ok {
				t.Fatalf("scanEvent ok = %v, want %v", ok, tc.ok)
			}
		})
	}
	// A trade frame with the older numeric "b"/"a" order ids stays a trade.
	ev, ok := scanEvent([]byte(`{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"1","q":"2","b":88,"a":50,"T":2,"m":true}`))
	if !ok || ev.kind != eventTrade || ev.id != 5 {
		t.Fatalf("trade with b/a ids: ok=%v %+v", ok, ev)
	}
}

// FuzzScanBookTicker: a parser taking the fast path for a bookTicker frame produces the same
// BBO and error as the general path (fastjson).
func FuzzScanBookTicker(f *testing.F) {
	for _, s := range []string{
		`{"stream":"bnbusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}`,
		`{"u":1,"s":"PEPEUSDT","b":"0.00001288","B":"1","a":"-1","A":"x","z":null}`,
		`{"u":7,"s":"UNKNOWN","b":"1","B":"1","a":"1","A":"1"}`,
	} {
		f.Add([]byte(s))
	}
	ei := exchangeInfoRecord(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		ev, ok := scanEvent(frame)
		if !ok || ev.kind != eventBookTicker {
			return
		}
		p := NewParser()
		var out collectors.Output
		if err := p.Parse(&ei, &out); err != nil {
			t.Fatal(err)
		}
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Epoch: 3, Seq: 9, RecvTime: 7, Frame: frame}
		var v fastjson.Parser
		val, err := v.ParseBytes(frame)
		if err != nil {
			t.Fatalf("scanEvent accepted what fastjson rejects: %q: %v", frame, err)
		}
		top := val
		if d := val.Get("data"); d != nil {
			val = d
		}
		if string(val.GetStringBytes("e")) != "" || top.Exists("id") || top.Exists("result") || top.Exists("error") ||
			!(val.Exists("u") && val.Exists("b") && val.Exists("A")) {
			t.Fatalf("general path would not read %q as a bookTicker", frame)
		}
		var want collectors.Output
		werr := p.bookTicker(val, &rec, &want)
		out.Reset()
		gerr := p.Parse(&rec, &out)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("errors differ: general %v, fast %v", werr, gerr)
		}
		if werr == nil && (len(out.BBOs) != 1 || len(want.BBOs) != 1 || out.BBOs[0] != want.BBOs[0]) {
			t.Fatalf("BBOs differ: general %+v, fast %+v", want.BBOs, out.BBOs)
		}
	})
}
