package md

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Fuzz targets for every decoder, seeded from testdata/wire. Smoke run:
//
//	for f in FuzzDecodeTrade FuzzDecodeIntegrity FuzzDecodeRaw FuzzParseDecimal; do
//		go test ./md/ -run '^$' -fuzz "^$f\$" -fuzztime 10s
//	done

var eventFiles = []string{"trades", "integrity", "compat"}

func seedEvents(f *testing.F) {
	for _, name := range append(eventFiles, "raw") {
		for _, rec := range goldenRecords(f, name) {
			f.Add(rec)
		}
	}
}

func FuzzDecodeTrade(f *testing.F) {
	seedEvents(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder()
		var tr Trade
		if err := d.DecodeTrade(&tr, b); err != nil {
			return
		}
		if tr.Price.Scale > MaxScale || tr.Qty.Scale > MaxScale {
			t.Fatalf("decoded scale beyond MaxScale: %+v", tr)
		}
		enc := AppendTrade(nil, &tr)
		if spec := specTrade(&tr); !bytes.Equal(enc, spec) {
			t.Fatalf("AppendTrade differs from the spec layout:\n got  %x\n want %x", enc, spec)
		}
		var tr2 Trade
		if err := d.DecodeTrade(&tr2, enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if tr2 != tr {
			t.Fatalf("re-decode:\n got  %+v\n want %+v", tr2, tr)
		}
	})
}

func FuzzDecodeIntegrity(f *testing.F) {
	seedEvents(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder()
		var e Integrity
		if err := d.DecodeIntegrity(&e, b); err != nil {
			return
		}
		enc := AppendIntegrity(nil, &e)
		if spec := specIntegrity(&e); !bytes.Equal(enc, spec) {
			t.Fatalf("AppendIntegrity differs from the spec layout:\n got  %x\n want %x", enc, spec)
		}
		var e2 Integrity
		if err := d.DecodeIntegrity(&e2, enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if e2 != e {
			t.Fatalf("re-decode:\n got  %+v\n want %+v", e2, e)
		}
	})
}

func FuzzDecodeRaw(f *testing.F) {
	seedEvents(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder()
		var r RawRecord
		if err := d.DecodeRaw(&r, b); err != nil {
			return
		}
		enc := AppendRaw(nil, &r)
		if spec := specRaw(&r); !bytes.Equal(enc, spec) {
			t.Fatalf("AppendRaw differs from the spec layout:\n got  %x\n want %x", enc, spec)
		}
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(b), len(enc))
		}
		var r2 RawRecord
		if err := d.DecodeRaw(&r2, enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !rawEqual(&r2, &r) {
			t.Fatalf("re-decode:\n got  %+v\n want %+v", r2, r)
		}
	})
}

// plainDecimal is the syntax ParseDecimal accepts.
var plainDecimal = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$`)

func FuzzParseDecimal(f *testing.F) {
	// Seeds: every decimal of the golden events, plus edge cases.
	for _, name := range eventFiles {
		fh, err := os.Open(filepath.Join(goldenDir, name+".golden.jsonl"))
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var ev map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				f.Fatal(err)
			}
			for _, k := range []string{"price", "qty"} {
				var dj struct {
					Value string
					Scale uint8
				}
				if raw, ok := ev[k]; ok && json.Unmarshal(raw, &dj) == nil {
					f.Add(dj.Value, dj.Scale)
				}
			}
		}
		fh.Close()
	}
	for _, s := range []string{"", ".", "-", "+.5", "0.001", "0.00100000", "1.2.3", "1e5",
		" 1", "9223372036854775807", "-9223372036854775808", "92233720368547758.08"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, scale uint8) {
		d, err := ParseDecimalString(s, scale)
		db, errb := ParseDecimal([]byte(s), scale)
		if d != db || err != errb {
			t.Fatalf("ParseDecimalString = %+v, %v; ParseDecimal = %+v, %v", d, err, db, errb)
		}
		// Oracle: the exact value times 10^scale.
		var v *big.Rat
		syntaxOK := plainDecimal.MatchString(s)
		if syntaxOK {
			var ok bool
			if v, ok = new(big.Rat).SetString(s); !ok {
				t.Fatalf("big.Rat cannot parse %q", s)
			}
			v.Mul(v, new(big.Rat).SetFrac(new(big.Int).Exp(big.NewInt(10),
				big.NewInt(int64(scale)), nil), big.NewInt(1)))
		}
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrPrecision) &&
				!errors.Is(err, ErrRange) {
				t.Fatalf("unexpected error %v", err)
			}
			switch {
			case scale > MaxScale:
				if !errors.Is(err, ErrRange) {
					t.Fatalf("scale %d: %v, want ErrRange", scale, err)
				}
			case !syntaxOK:
			case errors.Is(err, ErrSyntax):
				t.Fatalf("ParseDecimal(%q): ErrSyntax for a plain decimal", s)
			case errors.Is(err, ErrPrecision) && v.IsInt():
				t.Fatalf("ParseDecimal(%q, %d): ErrPrecision for %s", s, scale, v)
			case errors.Is(err, ErrRange) && v.IsInt() && inInt64(v.Num()):
				t.Fatalf("ParseDecimal(%q, %d): ErrRange for %s", s, scale, v)
			}
			return
		}
		if d.Scale != scale || !syntaxOK {
			t.Fatalf("ParseDecimal(%q, %d) = %+v", s, scale, d)
		}
		if !v.IsInt() || v.Num().Cmp(big.NewInt(d.Mant)) != 0 {
			t.Fatalf("ParseDecimal(%q, %d) = %d, exact value x 10^scale is %s", s, scale, d.Mant, v)
		}
		text := d.AppendText(nil)
		back, err := ParseDecimal(text, scale)
		if err != nil || back != d {
			t.Fatalf("AppendText %q re-parses to %+v, %v; want %+v", text, back, err, d)
		}
		if c := back.Cmp(d); c != 0 {
			t.Fatalf("Cmp of equal values = %d", c)
		}
	})
}

func inInt64(x *big.Int) bool {
	return x.Cmp(big.NewInt(math.MinInt64)) >= 0 && x.Cmp(big.NewInt(math.MaxInt64)) <= 0
}
