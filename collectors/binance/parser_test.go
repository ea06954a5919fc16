package binance

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/collectors"
	binancesim "github.com/tickflow/tickflow/collectors/sim/binance"
	"github.com/tickflow/tickflow/md"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// parseSafe runs Parse and turns a panic into a test failure and an error.
func parseSafe(t testing.TB, p *Parser, rec *md.RawRecord, out *collectors.Output) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Parse panicked on %s %q: %v", rec.Type, rec.Frame, r)
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return p.Parse(rec, out)
}

// TestGolden parses every testdata/<case>.jsonl with one fresh parser and compares what it
// made of each record with testdata/<case>.golden. Rewrite with:
//
//	go test ./collectors/binance/ -run TestGolden -update
func TestGolden(t *testing.T) {
	for _, path := range testdataCases(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		t.Run(name, func(t *testing.T) {
			p := NewParser()
			var out collectors.Output
			var b strings.Builder
			for _, lr := range loadJSONL(t, path) {
				out.Reset()
				err := parseSafe(t, p, &lr.Rec, &out)
				formatRecord(&b, lr.Line, &lr.Rec, &out, err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("output differs from %s (rerun with -update and review the diff):\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first differing lines.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(wl), len(gl)) && n < 10; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, w, g)
			n++
		}
	}
	return b.String()
}

// TestGoldenInvariants checks properties of the golden inputs that the golden text only shows:
// the malformed case yields an error for every record but the two valid ones, and the stream
// case has none.
func TestGoldenInvariants(t *testing.T) {
	for _, tc := range []struct {
		file     string
		okLines  int // records that must parse without error
		errLines int
	}{
		{"malformed.jsonl", 2, -1},
		{"stream.jsonl", -1, 0},
	} {
		recs := loadJSONL(t, filepath.Join("testdata", tc.file))
		p := NewParser()
		var out collectors.Output
		ok, bad := 0, 0
		for _, lr := range recs {
			out.Reset()
			if err := parseSafe(t, p, &lr.Rec, &out); err != nil {
				bad++
				if !strings.HasPrefix(err.Error(), "binance: ") {
					t.Errorf("%s line %d: error %q does not say it is from binance", tc.file, lr.Line, err)
				}
			} else {
				ok++
			}
		}
		if tc.okLines >= 0 && ok != tc.okLines {
			t.Errorf("%s: %d records parsed, want %d", tc.file, ok, tc.okLines)
		}
		if tc.errLines >= 0 && bad != tc.errLines {
			t.Errorf("%s: %d records failed, want %d", tc.file, bad, tc.errLines)
		}
	}
}

func tradeFrame(sym, id, price, qty string) []byte {
	return []byte(`{"stream":"` + strings.ToLower(sym) + `@trade","data":{"e":"trade","E":1795307795389,"s":"` + sym +
		`","t":` + id + `,"p":"` + price + `","q":"` + qty + `","T":1795307795388,"m":true,"M":true}}`)
}

func TestParseErrors(t *testing.T) {
	frame := func(s string) md.RawRecord {
		return md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: testEpoch, Seq: 9,
			RecvTime: testT0, Frame: []byte(s)}
	}
	rest := func(meta, body string) md.RawRecord {
		return md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: testEpoch, Seq: 9,
			RecvTime: testT0, Meta: []byte(meta), Frame: []byte(body)}
	}
	const hist = "200 /api/v3/historicalTrades?symbol=BTCUSDT&fromId=1&limit=1"
	const pepeHist = "200 /api/v3/historicalTrades?symbol=PEPEUSDT&fromId=1&limit=1"
	for _, tc := range []struct {
		name string
		rec  md.RawRecord
		is   error  // errors.Is target, or nil
		want string // substring of the error
	}{
		{"unknown symbol", frame(string(tradeFrame("DOGEUSDT", "1", "0.15", "1"))), nil, `unknown symbol "DOGEUSDT"`},
		{"price beyond tick", frame(string(tradeFrame("BTCUSDT", "1", "66955.111", "0.01"))), md.ErrPrecision, "trade price"},
		{"qty beyond step", frame(string(tradeFrame("BTCUSDT", "1", "66955.11", "0.000001"))), md.ErrPrecision, "trade qty"},
		{"meme price beyond 8 decimals", frame(string(tradeFrame("PEPEUSDT", "1", "0.000012345", "100000000000"))), md.ErrPrecision, "trade price"},
		{"meme fractional size", frame(string(tradeFrame("PEPEUSDT", "1", "0.00001234", "100000000000.5"))), md.ErrPrecision, "trade qty"},
		{"price overflows int64", frame(string(tradeFrame("BTCUSDT", "1", "99999999999999999999.00", "1"))), md.ErrRange, "trade price"},
		{"price with exponent", frame(string(tradeFrame("BTCUSDT", "1", "6.6e4", "1"))), md.ErrSyntax, "trade price"},
		{"price as number", frame(`{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":66955.11,"q":"1","T":1,"m":true}`), md.ErrSyntax, "trade price"},
		{"missing price", frame(`{"e":"trade","E":1,"s":"BTCUSDT","t":1,"q":"1","T":1,"m":true}`), md.ErrSyntax, "trade price"},
		{"missing qty", frame(`{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.00","T":1,"m":true}`), md.ErrSyntax, "trade qty"},
		{"missing id", frame(`{"e":"trade","E":1,"s":"BTCUSDT","p":"1.00","q":"1","T":1,"m":true}`), nil, "without t"},
		{"missing symbol", frame(`{"e":"trade","E":1,"t":1,"p":"1.00","q":"1","T":1,"m":true}`), nil, "unknown symbol"},
		{"id as string", frame(string(tradeFrame("BTCUSDT", `"1"`, "1.00", "1"))), nil, "trade id"},
		{"negative id", frame(string(tradeFrame("BTCUSDT", "-1", "1.00", "1"))), nil, "trade id"},
		{"fractional id", frame(string(tradeFrame("BTCUSDT", "1.5", "1.00", "1"))), nil, "trade id"},
		{"non-JSON", frame("hello"), nil, "invalid JSON"},
		{"empty frame", frame(""), nil, "invalid JSON"},
		{"truncated frame", frame(string(tradeFrame("BTCUSDT", "1", "1.00", "1")[:60])), nil, "invalid JSON"},
		{"binary garbage", frame("\x00\xff\xfe{"), nil, "invalid JSON"},
		{"array", frame("[1,2]"), nil, "not an object"},
		{"string", frame(`"trade"`), nil, "not an object"},
		{"null data", frame(`{"stream":"btcusdt@trade","data":null}`), nil, "not an object"},
		{"no event type", frame(`{"stream":"btcusdt@trade","data":{"s":"BTCUSDT"}}`), nil, "no event type"},
		{"REST not JSON", rest(hist, "<html>"), nil, "invalid JSON"},
		{"REST not an array", rest(hist, `{"code":0}`), nil, "not an array"},
		{"REST trade without id", rest(hist, `[{"price":"1.00","qty":"1","time":1}]`), nil, "without id"},
		{"REST id not a number", rest(hist, `[{"id":"x","price":"1.00","qty":"1","time":1}]`), nil, "id"},
		{"REST price beyond tick", rest(hist, `[{"id":1,"price":"1.001","qty":"1","time":1}]`), md.ErrPrecision, "REST trade price"},
		{"REST meme qty fractional", rest(pepeHist, `[{"id":1,"price":"0.00001234","qty":"1.5","time":1}]`), md.ErrPrecision, "REST trade qty"},
		{"REST unknown symbol", rest("200 /api/v3/trades?symbol=DOGEUSDT&limit=1", `[]`), nil, "unknown symbol"},
		{"REST without symbol", rest("200 /api/v3/trades?limit=1", `[]`), nil, "unknown symbol"},
		{"depth without ids", frame(`{"e":"depthUpdate","E":1,"s":"BTCUSDT","b":[],"a":[]}`), nil, "without U/u"},
		{"depth unknown symbol", frame(`{"e":"depthUpdate","E":1,"s":"DOGEUSDT","U":1,"u":2,"b":[],"a":[]}`), nil, "unknown symbol"},
		{"depth level not a pair", frame(`{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.00"]],"a":[]}`), nil, "pair"},
		{"depth level numbers", frame(`{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[[1.5,2]],"a":[]}`), nil, "not strings"},
		{"depth price beyond tick", frame(`{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[["1.001","1"]]}`), md.ErrPrecision, "depth ask price"},
		{"depth levels not an array", frame(`{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":{"1.00":"1"},"a":[]}`), nil, "depth bid levels"},
		{"bookTicker unknown symbol", frame(`{"u":1,"s":"DOGEUSDT","b":"0.1","B":"1","a":"0.2","A":"1"}`), nil, "unknown symbol"},
		{"bookTicker bid beyond tick", frame(`{"u":1,"s":"BTCUSDT","b":"1.001","B":"1","a":"1.01","A":"1"}`), md.ErrPrecision, "bookTicker bid"},
		{"bookTicker empty ask qty", frame(`{"u":1,"s":"BTCUSDT","b":"1.00","B":"1","a":"1.01","A":""}`), md.ErrSyntax, "bookTicker ask qty"},
		{"REST depth without lastUpdateId", rest("200 /api/v3/depth?symbol=BTCUSDT&limit=5", `{"bids":[],"asks":[]}`), nil, "lastUpdateId"},
		{"REST depth not JSON", rest("200 /api/v3/depth?symbol=BTCUSDT&limit=5", `<html>`), nil, "invalid JSON"},
		{"REST depth unknown symbol", rest("200 /api/v3/depth?symbol=DOGEUSDT&limit=5", `{"lastUpdateId":1,"bids":[],"asks":[]}`), nil, "unknown symbol"},
		{"REST depth qty beyond step", rest("200 /api/v3/depth?symbol=BTCUSDT&limit=5", `{"lastUpdateId":1,"bids":[["1.00","0.000001"]],"asks":[]}`), md.ErrPrecision, "snapshot bid qty"},
		{"exchangeInfo not JSON", rest("200 /api/v3/exchangeInfo", `{"symbols":`), nil, "exchangeInfo"},
		{"exchangeInfo without LOT_SIZE", rest("200 /api/v3/exchangeInfo",
			`{"symbols":[{"symbol":"XUSDT","status":"TRADING","baseAsset":"X","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"}]}]}`),
			nil, "lacks PRICE_FILTER or LOT_SIZE"},
		{"exchangeInfo bad tick", rest("200 /api/v3/exchangeInfo",
			`{"symbols":[{"symbol":"XUSDT","status":"TRADING","baseAsset":"X","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.0.1"},{"filterType":"LOT_SIZE","stepSize":"1"}]}]}`),
			md.ErrSyntax, "tickSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadedParser(t)
			var out collectors.Output
			rec := tc.rec
			err := parseSafe(t, p, &rec, &out)
			if err == nil {
				t.Fatalf("no error; output %+v", out)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "binance: ") {
				t.Errorf("error %q lacks the binance: prefix", err)
			}
			// The parser is still usable.
			good := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Epoch: 1, Seq: 1, RecvTime: 1,
				Frame: tradeFrame("BTCUSDT", "7", "66955.11000000", "0.01010000")}
			out.Reset()
			if err := p.Parse(&good, &out); err != nil || len(out.Trades) != 1 {
				t.Fatalf("parser unusable after the error: %v, %d trades", err, len(out.Trades))
			}
		})
	}
}

// TestParseIgnores covers records that carry no market data and are not errors.
func TestParseIgnores(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  md.RawRecord
	}{
		{"outbound frame", md.RawRecord{Type: md.RawFrame, Dir: md.DirOut, Frame: []byte(`{"method":"SUBSCRIBE"}`)}},
		{"outbound garbage", md.RawRecord{Type: md.RawFrame, Dir: md.DirOut, Frame: []byte(`{{{`)}},
		{"subscribe reply", md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Frame: []byte(`{"result":null,"id":1}`)}},
		{"error reply", md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Frame: []byte(`{"error":{"code":2,"msg":"Invalid request"},"id":2}`)}},
		{"server shutdown", md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Frame: []byte(`{"e":"serverShutdown","E":1}`)}},
		{"other event", md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Frame: []byte(`{"stream":"btcusdt@kline_1m","data":{"e":"kline","s":"BTCUSDT"}}`)}},
		{"REST depth error", md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Meta: []byte("400 /api/v3/depth?symbol=NOPE"), Frame: []byte(`{"code":-1121}`)}},
		{"connect marker", md.RawRecord{Type: md.RawConnect, Meta: []byte("url=ws://x")}},
		{"disconnect marker", md.RawRecord{Type: md.RawDisconnect, Meta: []byte("reason=eof")}},
		{"subscribe marker", md.RawRecord{Type: md.RawSubscribe, Meta: []byte("symbols=BTCUSDT")}},
		{"REST 429", md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Meta: []byte("429 /api/v3/historicalTrades?symbol=BTCUSDT"), Frame: []byte(`{"code":-1003}`)}},
		{"REST 400", md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Meta: []byte("400 /api/v3/trades?symbol=NOPE"), Frame: []byte(`{"code":-1121}`)}},
		{"REST other path", md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Meta: []byte("200 /api/v3/time"), Frame: []byte(`{"serverTime":1}`)}},
		{"REST without meta", md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Frame: []byte(`[]`)}},
		{"REST empty trade list", md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Meta: []byte("200 /api/v3/trades?symbol=BTCUSDT&limit=100"), Frame: []byte(`[]`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadedParser(t)
			var out collectors.Output
			rec := tc.rec
			if err := parseSafe(t, p, &rec, &out); err != nil {
				t.Fatalf("error %v", err)
			}
			if len(out.Trades)+len(out.Instruments)+len(out.BBOs)+len(out.Books) != 0 {
				t.Fatalf("events from a record without market data: %+v", out)
			}
		})
	}
}

// TestParseTradeFields checks the field mapping of one live and one REST trade in detail.
func TestParseTradeFields(t *testing.T) {
	p := loadedParser(t)
	var out collectors.Output
	rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: 42, Seq: 7, RecvTime: 5,
		Frame: []byte(`{"stream":"pepeusdt@trade","data":{"e":"trade","E":1795307795449,"s":"PEPEUSDT","t":1689325261,"p":"0.00001288","q":"170323557500.00","T":1795307795448,"m":false,"M":true}}`)}
	if err := p.Parse(&rec, &out); err != nil {
		t.Fatal(err)
	}
	want := md.Trade{Header: md.Header{Venue: "binance", Symbol: "PEPE-USDT", ExchTime: 1795307795448e6, SendTime: 1795307795449e6,
		RecvTime: 5, Prov: md.Provenance{Epoch: 42, Seq: 7}, Source: md.SourceLive},
		ID: md.NumericID(1689325261), Price: md.Decimal{Mant: 1288, Scale: 8}, Qty: md.Decimal{Mant: 170323557500, Scale: 0}, Side: md.SideBuy}
	if len(out.Trades) != 1 || out.Trades[0] != want {
		t.Fatalf("got %+v\nwant %+v", out.Trades, want)
	}
	// The frame is borrowed: scribbling over it afterwards changes nothing.
	for i := range rec.Frame {
		rec.Frame[i] = 'x'
	}
	if out.Trades[0] != want || out.Trades[0].Symbol != "PEPE-USDT" {
		t.Fatalf("trade changed with the frame: %+v", out.Trades[0])
	}

	out.Reset()
	rest := md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Venue: Venue, Epoch: 42, Seq: 8, RecvTime: 6,
		Meta: []byte("200 /api/v3/historicalTrades?fromId=2957950817&symbol=BTCUSDT&limit=2"),
		Frame: []byte(`[{"id":2957950817,"price":"66956.36000000","qty":"0.00385000","quoteQty":"257.78198600","time":1795307795829,"isBuyerMaker":true,"isBestMatch":true},` +
			`{"id":2957950818,"price":"66956.37","qty":"1","quoteQty":"1","time":1795307795849,"isBuyerMaker":false,"isBestMatch":true}]`)}
	if err := p.Parse(&rest, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Trades) != 2 {
		t.Fatalf("%d REST trades", len(out.Trades))
	}
	for i, tr := range out.Trades {
		if tr.Source != md.SourceBackfill || tr.Prov != (md.Provenance{Epoch: 42, Seq: 8, Index: uint32(i)}) || tr.SendTime != 0 ||
			tr.Symbol != "BTC-USDT" || tr.RecvTime != 6 {
			t.Errorf("REST trade %d: %+v", i, tr)
		}
	}
	if out.Trades[0].Side != md.SideSell || out.Trades[1].Side != md.SideBuy {
		t.Errorf("sides %v %v, want sell buy", out.Trades[0].Side, out.Trades[1].Side)
	}
	if got := out.Trades[0].Price; got != (md.Decimal{Mant: 6695636, Scale: 2}) {
		t.Errorf("price %v", got)
	}
	if got := out.Trades[1].Qty; got != (md.Decimal{Mant: 100000, Scale: 5}) {
		t.Errorf("qty %v", got)
	}
	if out.Trades[0].ExchTime != 1795307795829e6 {
		t.Errorf("exch time %d", out.Trades[0].ExchTime)
	}
}

// TestParseTradeAllocs locks in that a trade frame parses into a reused Output without
// allocating once the parser is warm.
func TestParseTradeAllocs(t *testing.T) {
	p := loadedParser(t)
	for _, frame := range [][]byte{
		tradeFrame("BTCUSDT", "2957950802", "66955.11000000", "0.01010000"),
		tradeFrame("PEPEUSDT", "1689325261", "0.00001288", "17032355750.00"),
		[]byte(`{"e":"trade","E":1795307795468,"s":"BTCUSDT","t":2957950805,"p":"66941.88000000","q":"0.00217000","T":1795307795468,"m":true,"M":true}`),
	} {
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: 1, Seq: 1, RecvTime: 1, Frame: frame}
		var out collectors.Output
		for range 10 {
			out.Reset()
			if err := p.Parse(&rec, &out); err != nil || len(out.Trades) != 1 {
				t.Fatalf("warm-up: %v", err)
			}
		}
		allocs := testing.AllocsPerRun(1000, func() {
			out.Reset()
			_ = p.Parse(&rec, &out)
		})
		if allocs != 0 {
			t.Errorf("Parse(%s) allocates %.1f times per frame, want 0", frame, allocs)
		}
	}
}

// TestExchangeInfoRejectsNamelessSymbol (found by FuzzParse): a symbol entry without a name
// or assets is malformed. Accepted, it becomes an instrument "" -> "-" that a trade frame
// lacking "s" then resolves to.
func TestExchangeInfoRejectsNamelessSymbol(t *testing.T) {
	var accepted []string
	for _, body := range []string{
		`{"symbols":[{"filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"},{"filterType":"LOT_SIZE","stepSize":"1"}]}]}`,
		`{"symbols":[{"symbol":"XUSDT","status":"TRADING","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"},{"filterType":"LOT_SIZE","stepSize":"1"}]}]}`,
	} {
		if insts, err := ParseExchangeInfo([]byte(body), 1); err == nil {
			for _, in := range insts {
				accepted = append(accepted, fmt.Sprintf("native %q symbol %q", in.Native, in.Symbol))
			}
		}
	}
	if len(accepted) > 0 {
		t.Fatalf("ParseExchangeInfo accepts symbols without symbol/baseAsset/quoteAsset (%v); it should return "+
			"an error like it does for missing filters", accepted)
	}
}

// TestParseDepthIDsValidated: a depthUpdate whose U or u is not a number is malformed. Read
// as 0, U=0 would pass ContinueBook's bridge test (U <= last+1) for any book.
func TestParseDepthIDsValidated(t *testing.T) {
	p := loadedParser(t)
	var bad []string
	for _, ids := range []string{`"U":"x","u":105`, `"U":1,"u":"105"`, `"U":-1,"u":105`, `"U":1.5,"u":105`} {
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Epoch: 1, Seq: 1, RecvTime: 1,
			Frame: []byte(`{"e":"depthUpdate","E":1,"s":"BTCUSDT",` + ids + `,"b":[],"a":[]}`)}
		var out collectors.Output
		if err := parseSafe(t, p, &rec, &out); err == nil {
			bad = append(bad, fmt.Sprintf("%s -> ids %d..%d", ids, out.Books[0].FirstID, out.Books[0].LastID))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("Parser.depth accepts non-numeric update ids as 0 (%v); parser.go depth() should read U and u "+
			"with Value.Uint64 and return its error, like trade ids", bad)
	}
}

// TestParseBookAllocs: depth frames and bookTicker frames parse into a reused Output without
// allocating either (NextBook reuses level buffers).
func TestParseBookAllocs(t *testing.T) {
	p := loadedParser(t)
	for _, frame := range []string{
		`{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1795309428755,"s":"BTCUSDT","U":7530577512,"u":7530577528,` +
			`"b":[["66941.89000000","0.01804000"],["66941.88000000","0.01959000"],["66941.87000000","0.00000000"]],` +
			`"a":[["66941.90000000","0.02000000"],["66941.95000000","0.00000000"]]}}`,
		`{"stream":"pepeusdt@bookTicker","data":{"u":5874513140,"s":"PEPEUSDT","b":"0.00001284","B":"46161998798.00","a":"0.00001285","A":"245798792273.00"}}`,
	} {
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: 1, Seq: 1, RecvTime: 1, Frame: []byte(frame)}
		var out collectors.Output
		for range 10 {
			out.Reset()
			if err := p.Parse(&rec, &out); err != nil || len(out.Books)+len(out.BBOs) != 1 {
				t.Fatalf("warm-up: %v", err)
			}
		}
		allocs := testing.AllocsPerRun(1000, func() {
			out.Reset()
			_ = p.Parse(&rec, &out)
		})
		if allocs != 0 {
			t.Errorf("Parse(%s) allocates %.1f times per frame, want 0", frame, allocs)
		}
	}
	rest := md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Epoch: 1, Seq: 2, RecvTime: 2, Meta: []byte("200 /api/v3/depth?symbol=BTCUSDT&limit=5"),
		Frame: []byte(`{"lastUpdateId":7530578120,"bids":[["66954.94000000","0.01679000"]],"asks":[["66954.95000000","0.02509000"]]}`)}
	var out collectors.Output
	if err := p.Parse(&rest, &out); err != nil || len(out.Books) != 1 || !out.Books[0].Snapshot || out.Books[0].Depth != 5 ||
		out.Books[0].FirstID != 7530578120 || out.Books[0].LastID != 7530578120 {
		t.Fatalf("REST depth: %v %+v", err, out.Books)
	}
}

func TestContinueBook(t *testing.T) {
	p := NewParser()
	for _, tc := range []struct {
		last, first, lastID uint64
		want                collectors.BookVerdict
	}{
		{100, 90, 100, collectors.BookSkip},   // u <= last: already in the snapshot
		{100, 95, 99, collectors.BookSkip},    //
		{100, 95, 105, collectors.BookApply},  // first after the snapshot: U <= last+1 <= u
		{100, 101, 101, collectors.BookApply}, // continuing: U == last+1
		{100, 102, 110, collectors.BookGap},   // an update is missing
	} {
		m := collectors.BookMsg{FirstID: tc.first, LastID: tc.lastID}
		if got := p.ContinueBook(tc.last, &m); got != tc.want {
			t.Errorf("ContinueBook(last=%d, U=%d u=%d) = %d, want %d", tc.last, tc.first, tc.lastID, got, tc.want)
		}
	}
}

func TestParserStateRoundTrip(t *testing.T) {
	p := loadedParser(t)
	b, err := p.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	q := NewParser()
	if err := q.UnmarshalState(b); err != nil {
		t.Fatal(err)
	}
	for _, native := range []string{"BTCUSDT", "PEPEUSDT"} {
		a, c := p.Instrument(native), q.Instrument(native)
		if a == nil || c == nil || !reflect.DeepEqual(*a, *c) {
			t.Errorf("%s: restored %+v, want %+v", native, c, a)
		}
	}
	if q.Instrument("DOGEUSDT") != nil {
		t.Error("unknown instrument after restore")
	}
	// A restored parser parses trades without seeing exchangeInfo again.
	var o1, o2 collectors.Output
	rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Epoch: 1, Seq: 1, RecvTime: 1,
		Frame: tradeFrame("PEPEUSDT", "5", "0.00001288", "17032355750.00")}
	if err := p.Parse(&rec, &o1); err != nil {
		t.Fatal(err)
	}
	if err := q.Parse(&rec, &o2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o1.Trades, o2.Trades) {
		t.Errorf("restored parser: %+v, want %+v", o2.Trades, o1.Trades)
	}
	if err := q.UnmarshalState([]byte("{not json")); err == nil {
		t.Error("corrupt state accepted")
	}
}

// TestExchangeInfoMatchesSimulator guards the testdata against drift: the exchangeInfo in
// testdata/stream.jsonl is what binancesim (seed 7, 2 symbols) serves.
func TestExchangeInfoMatchesSimulator(t *testing.T) {
	s, err := binancesim.New(binancesim.Config{Seed: 7, Symbols: 2, TradeRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + s.Addr() + "/api/v3/exchangeInfo")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	fromSim, err := ParseExchangeInfo(body, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec := exchangeInfoRecord(t)
	fromFile, err := ParseExchangeInfo(rec.Frame, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromSim, fromFile) {
		t.Fatalf("simulator serves\n%+v\ntestdata has\n%+v", fromSim, fromFile)
	}
	want := map[string][2]md.Decimal{
		"BTCUSDT":  {{Mant: 1, Scale: 2}, {Mant: 1, Scale: 5}},
		"PEPEUSDT": {{Mant: 1, Scale: 8}, {Mant: 1, Scale: 0}},
	}
	for _, in := range fromFile {
		if w := want[in.Native]; in.TickSize != w[0] || in.LotSize != w[1] {
			t.Errorf("%s tick %v lot %v, want %v %v", in.Native, in.TickSize, in.LotSize, w[0], w[1])
		}
	}
	// Strip serverTime and compare bodies byte for byte too, so a format change is noticed.
	if i, j := bytes.Index(body, []byte(`"serverTime":`)), bytes.Index(rec.Frame, []byte(`"serverTime":`)); i < 0 || j < 0 ||
		!bytes.Equal(body[:i], rec.Frame[:j]) || !bytes.Equal(body[bytes.IndexByte(body[i:], ',')+i:], rec.Frame[bytes.IndexByte(rec.Frame[j:], ',')+j:]) {
		t.Errorf("simulator exchangeInfo body differs from testdata beyond serverTime")
	}
}

func TestRESTMeta(t *testing.T) {
	for _, tc := range []struct {
		meta, path, sym string
		status          int
	}{
		{"200 /api/v3/trades?symbol=BTCUSDT&limit=100", "/api/v3/trades", "BTCUSDT", 200},
		{"200 /api/v3/historicalTrades?limit=5&symbol=PEPEUSDT&fromId=3", "/api/v3/historicalTrades", "PEPEUSDT", 200},
		{"200 /api/v3/trades?symbolx=A&symbol=B", "/api/v3/trades", "B", 200},
		{"429 /api/v3/exchangeInfo", "/api/v3/exchangeInfo", "", 429},
		{"/api/v3/exchangeInfo", "", "", 0},
		{"", "", "", 0},
		{"x /p?symbol=", "/p", "", 0},
	} {
		status, path, q := restMeta([]byte(tc.meta))
		if status != tc.status || string(path) != tc.path || string(queryParam(q, "symbol")) != tc.sym {
			t.Errorf("restMeta(%q) = %d %q symbol=%q, want %d %q %q", tc.meta, status, path, queryParam(q, "symbol"), tc.status, tc.path, tc.sym)
		}
	}
}
