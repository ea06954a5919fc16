package binancesim

import (
	"encoding/json"
	"testing"
)

// smallBook gives sym a tiny known book: bids 65000.00/64999.50, asks
// 65000.01/65001.00.
func smallBook(sym *symbolState) {
	b := &sym.book
	b.bids = bookSide{}
	b.asks = bookSide{ask: true}
	b.bids.set(6500000, 120)    // 0.0012
	b.bids.set(6499950, 100000) // 1
	b.asks.set(6500001, 5)
	b.asks.set(6500100, 250000)
	b.lastID = 160
}

func TestDepthEventEncoding(t *testing.T) {
	btc := testSymbols(t)[0]
	smallBook(btc)
	changed := sortUnique([]int64{
		6500000<<1 | sideBid, 6499990<<1 | sideBid, 6499950<<1 | sideBid, // 64999.90 was removed
		6500100<<1 | sideAsk, 6500001<<1 | sideAsk, 6500000<<1 | sideBid,
	})
	raw := btc.appendDepthEvent(nil, 1672515782136, 157, 160, changed)
	want := `{"e":"depthUpdate","E":1672515782136,"s":"BTCUSDT","U":157,"u":160,` +
		`"b":[["65000.00000000","0.00120000"],["64999.90000000","0.00000000"],["64999.50000000","1.00000000"]],` +
		`"a":[["65000.01000000","0.00005000"],["65001.00000000","2.50000000"]]}`
	if string(raw) != want {
		t.Fatalf("\n got %s\nwant %s", raw, want)
	}
	if got := string(btc.appendDepthEvent(nil, 1, 2, 3, nil)); got != `{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":2,"u":3,"b":[],"a":[]}` {
		t.Fatalf("empty event %s", got)
	}
	var ev wireDepth
	if err := json.Unmarshal(raw, &ev); err != nil || ev.First != 157 || ev.Last != 160 {
		t.Fatalf("decode: %v %+v", err, ev)
	}

	bt := btc.appendBookTicker(nil, 400900217, btc.book.currentTop())
	if want := `{"u":400900217,"s":"BTCUSDT","b":"65000.00000000","B":"0.00120000","a":"65000.01000000","A":"0.00005000"}`; string(bt) != want {
		t.Fatalf("bookTicker\n got %s\nwant %s", bt, want)
	}
	top := btc.appendTopLevels(nil, 1)
	if want := `{"lastUpdateId":160,"bids":[["65000.00000000","0.00120000"]],"asks":[["65000.01000000","0.00005000"]]}`; string(top) != want {
		t.Fatalf("partial\n got %s\nwant %s", top, want)
	}
	rest := btc.appendRESTDepth(nil, btc.book.snapshot(5000), 5000)
	if want := `{"lastUpdateId":160,"bids":[["65000.00000000","0.00120000"],["64999.50000000","1.00000000"]],"asks":[["65000.01000000","0.00005000"],["65001.00000000","2.50000000"]]}`; string(rest) != want {
		t.Fatalf("REST depth\n got %s\nwant %s", rest, want)
	}

	// Combined frames carry the stream name of their kind.
	var g genScratch
	for _, kind := range []int{kindDepth, kindDepth100, kindBookTicker, kindPartial5Fast} {
		start, off := g.beginFrame(btc, kind, 16)
		g.arena = append(g.arena, "{}"...)
		f := g.endFrame(btc, kind, start, off)
		if want := `{"stream":"btcusdt@` + kindSuffix[kind] + `","data":{}}`; string(f.b) != want || string(f.b[f.rawOff:len(f.b)-1]) != "{}" {
			t.Fatalf("kind %d frame %s", kind, f.b)
		}
	}
}

func TestDepthEncodeAllocs(t *testing.T) {
	syms := testSymbols(t)
	btc := syms[0]
	changed := make([]int64, 0, 64)
	for i := range len(btc.book.bids.lv) / 20 {
		changed = append(changed, btc.book.bids.priceAt(i*20)<<1|sideBid, btc.book.asks.priceAt(i*20)<<1|sideAsk)
	}
	changed = sortUnique(changed)
	buf := make([]byte, 0, 1<<20)
	hashBuf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(200, func() {
		b := btc.appendDepthEvent(buf[:0], 1672515782136, 157, 160, changed)
		b = btc.appendBookTicker(b, 160, btc.book.currentTop())
		b = btc.appendTopLevels(b, 20)
		_, hashBuf = btc.hashTop(hashBuf, 20)
		_ = btc.appendBookLogLine(b, 160, 1)
	})
	if allocs != 0 {
		t.Fatalf("order-book encoding allocates %.1f times", allocs)
	}
}
