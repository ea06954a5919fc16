package binance

import (
	"fmt"
	"testing"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
)

// BenchmarkParseTrade measures one trade frame -> md.Trade into a reused Output.
//
// Compare before/after a change with:
//
//	go test ./collectors/binance/ -run '^$' -bench ParseTrade -count 10 > old.txt
//	(change)
//	go test ./collectors/binance/ -run '^$' -bench ParseTrade -count 10 > new.txt
//	benchstat old.txt new.txt
func BenchmarkParseTrade(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"frame=combined/sym=BTCUSDT", tradeFrame("BTCUSDT", "2957950802", "66955.11000000", "0.01010000")},
		{"frame=combined/sym=PEPEUSDT", tradeFrame("PEPEUSDT", "1689325261", "0.00001288", "17032355750.00")},
		{"frame=raw/sym=BTCUSDT", []byte(`{"e":"trade","E":1795307795468,"s":"BTCUSDT","t":2957950805,"p":"66941.88000000","q":"0.00217000","T":1795307795468,"m":true,"M":true}`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := loadedParser(b)
			rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: 1, Seq: 1, RecvTime: 1, Frame: bc.frame}
			var out collectors.Output
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				out.Reset()
				if err := p.Parse(&rec, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseBookTicker measures one bookTicker frame -> md.BBO (the one-pass scanner's
// second case), and BenchmarkParseGeneral the same trade and bookTicker frames through the
// general fastjson path, for the ratio.
func BenchmarkParseBookTicker(b *testing.B) {
	frame := []byte(`{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"66941.88000000","B":"1.21000000","a":"66941.89000000","A":"0.66000000"}}`)
	p := loadedParser(b)
	rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: 1, Seq: 1, RecvTime: 1, Frame: frame}
	var out collectors.Output
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		out.Reset()
		if err := p.Parse(&rec, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGeneral(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"trade", tradeFrame("BTCUSDT", "2957950802", "66955.11000000", "0.01010000")},
		{"bookTicker", []byte(`{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"66941.88000000","B":"1.21000000","a":"66941.89000000","A":"0.66000000"}}`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := loadedParser(b)
			rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: 1, Seq: 1, RecvTime: 1, Frame: bc.frame}
			var out collectors.Output
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				out.Reset()
				v, err := p.p.ParseBytes(bc.frame)
				if err != nil {
					b.Fatal(err)
				}
				if d := v.Get("data"); d != nil {
					v = d
				}
				if bc.name == "trade" {
					if _, err := p.trade(v, &rec); err != nil {
						b.Fatal(err)
					}
				} else if err := p.bookTicker(v, &rec, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseDepth measures a diff-depth frame (10 bid + 10 ask levels) -> md book
// message, and a REST depth snapshot of 1000 levels per side.
func BenchmarkParseDepth(b *testing.B) {
	level := func(sb *[]byte, px, qty int) {
		*sb = fmt.Appendf(*sb, `["%d.%02d","0.%05d"]`, px/100, px%100, qty)
	}
	levels := func(n, start, step int) []byte {
		out := []byte{'['}
		for i := range n {
			if i > 0 {
				out = append(out, ',')
			}
			level(&out, start+i*step, 1000+i)
		}
		return append(out, ']')
	}
	diff := fmt.Appendf(nil, `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1795309428755,"s":"BTCUSDT","U":7530577512,"u":7530577528,"b":%s,"a":%s}}`,
		levels(10, 6694100, -1), levels(10, 6694200, 1))
	snap := fmt.Appendf(nil, `{"lastUpdateId":7530577511,"bids":%s,"asks":%s}`, levels(1000, 6694100, -1), levels(1000, 6694200, 1))
	for _, bc := range []struct {
		name string
		rec  md.RawRecord
	}{
		{"diff=10+10", md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: 1, Seq: 1, RecvTime: 1, Frame: diff}},
		{"snapshot=1000+1000", md.RawRecord{Type: md.RawREST, Dir: md.DirIn, Venue: Venue, Conn: "trade-0", Epoch: 1, Seq: 1, RecvTime: 1,
			Meta: []byte("200 /api/v3/depth?symbol=BTCUSDT&limit=1000"), Frame: snap}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := loadedParser(b)
			var out collectors.Output
			out.Reset()
			if err := p.Parse(&bc.rec, &out); err != nil {
				b.Fatal(err)
			}
			if len(out.Books) != 1 {
				b.Fatalf("parsed %d book messages", len(out.Books))
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.rec.Frame)))
			for b.Loop() {
				out.Reset()
				if err := p.Parse(&bc.rec, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
