package md

import (
	"fmt"
	"strings"
	"testing"
)

// Benchmarks of the hot paths. To compare a change:
//
//	go test ./md/ -run '^$' -bench . -count 10 > old.txt
//	# apply the change
//	go test ./md/ -run '^$' -bench . -count 10 > new.txt
//	benchstat old.txt new.txt  # go install golang.org/x/perf/cmd/benchstat@latest
//
// SetBytes is the encoded size, so MB/s is wire throughput; allocs/op must stay 0.

func benchTrades() []struct {
	name string
	t    Trade
} {
	tr := goldenTrades()
	return []struct {
		name string
		t    Trade
	}{{"id=numeric", tr[0]}, {"id=uuid", tr[1]}}
}

func BenchmarkAppendTrade(b *testing.B) {
	for _, bc := range benchTrades() {
		b.Run(bc.name, func(b *testing.B) {
			buf := AppendTrade(nil, &bc.t)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendTrade(buf[:0], &bc.t)
			}
		})
	}
}

func BenchmarkDecodeTrade(b *testing.B) {
	for _, bc := range benchTrades() {
		b.Run(bc.name, func(b *testing.B) {
			enc := AppendTrade(nil, &bc.t)
			d := NewDecoder()
			var t Trade
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if err := d.DecodeTrade(&t, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendIntegrity(b *testing.B) {
	e := goldenIntegrity()[0]
	buf := AppendIntegrity(nil, &e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendIntegrity(buf[:0], &e)
	}
}

func BenchmarkDecodeIntegrity(b *testing.B) {
	e := goldenIntegrity()[0]
	enc := AppendIntegrity(nil, &e)
	d := NewDecoder()
	var got Integrity
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.DecodeIntegrity(&got, enc); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRaw() []struct {
	name string
	r    RawRecord
} {
	base := goldenRaw()[2] // a Binance trade frame
	big := base
	big.Frame = []byte(strings.Repeat(`["65000.01000000","0.00123000"],`, 2048)) // ~64 KiB
	return []struct {
		name string
		r    RawRecord
	}{{"frame=trade", base}, {"frame=64KiB", big}}
}

func BenchmarkAppendRaw(b *testing.B) {
	for _, bc := range benchRaw() {
		b.Run(bc.name, func(b *testing.B) {
			buf := AppendRaw(nil, &bc.r)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendRaw(buf[:0], &bc.r)
			}
		})
	}
}

func BenchmarkDecodeRaw(b *testing.B) {
	for _, bc := range benchRaw() {
		b.Run(bc.name, func(b *testing.B) {
			enc := AppendRaw(nil, &bc.r)
			d := NewDecoder()
			var r RawRecord
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if err := d.DecodeRaw(&r, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseDecimal(b *testing.B) {
	for _, bc := range []struct {
		name  string
		s     string
		scale uint8
	}{
		{"s=btc", "65000.01", 2},
		{"s=binance_padded", "65000.01000000", 2},
		{"s=meme_price", "0.00001234", 8},
		{"s=meme_qty", "123456789012.50", 2},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := []byte(bc.s)
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseDecimal(s, bc.scale); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendText(b *testing.B) {
	d := MustDecimal("65000.01", 2)
	buf := d.AppendText(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = d.AppendText(buf[:0])
	}
}

// BenchmarkBookUpdateCodec measures encoding and decoding book updates: a diff of 10+10
// levels and a snapshot of 1000+1000.
func BenchmarkBookUpdateCodec(b *testing.B) {
	for _, n := range []int{10, 1000} {
		in := bookFixture(n)
		buf := AppendBookUpdate(nil, in)
		b.Run(fmt.Sprintf("append/levels=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				buf = AppendBookUpdate(buf[:0], in)
			}
		})
		b.Run(fmt.Sprintf("decode/levels=%d", n), func(b *testing.B) {
			dec := NewDecoder()
			var out BookUpdate
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if err := dec.DecodeBookUpdate(&out, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
