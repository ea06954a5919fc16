package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScannerObject(t *testing.T) {
	var s Scanner
	s.Reset([]byte(` {"op":"sub\u0073cribe", "id": 7, "channels":["a","b\"c"], "x":{"y":[1,2.5e3,null,true]}} `))
	var op string
	var id int64
	var chans []string
	if !s.ObjectStart() {
		t.Fatal(s.Err())
	}
	for k, ok := s.NextKey(); ok; k, ok = s.NextKey() {
		switch string(k) {
		case "op":
			op = string(s.Str())
		case "id":
			id = s.Int()
		case "channels":
			if s.ArrayStart() {
				for s.NextElem() {
					chans = append(chans, string(s.Str()))
				}
			}
		default:
			s.Skip()
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if op != "subscribe" || id != 7 || len(chans) != 2 || chans[1] != `b"c` {
		t.Fatalf("got op=%q id=%d chans=%q", op, id, chans)
	}
}

func TestScannerErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":1,}`, `{"a":1 "b":2}`, `[1,,2]`, `{"a":01}`,
		`{"a":"\x"}`, `{"a":tru}`, `{"a":1} x`, `{"a":"` + "\x01" + `"}`, `{"a":-}`, `{"a":1.}`,
		strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)} {
		var s Scanner
		s.Reset([]byte(in))
		s.Skip()
		if s.Finish() == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func TestIntTypeErrors(t *testing.T) {
	for _, in := range []string{`"1"`, `1.5`, `1e3`, `99999999999999999999`, `[1]`} {
		var s Scanner
		s.Reset([]byte(in))
		s.Int()
		if s.Finish() == nil {
			t.Errorf("%q: accepted as int", in)
		}
	}
}

func TestScanAllocs(t *testing.T) {
	var s Scanner
	in := []byte(`{"op":"subscribe","id":1,"channels":["trades:binance:BTC-USDT","x\ny"],"z":[{"a":null}]}`)
	n := testing.AllocsPerRun(100, func() {
		s.Reset(in)
		s.Skip()
		if s.Finish() != nil {
			t.Fatal(s.Err())
		}
	})
	if n != 0 {
		t.Fatalf("Skip allocates %v", n)
	}
}

// FuzzSkip checks that the scanner accepts exactly the valid JSON documents (within MaxDepth)
// and never panics.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2,{"b":"\ud83d\ude00"}]}`, `"x"`, `-0.5e-3`, `nul`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Scanner
		s.Reset(in)
		s.Skip()
		ours := s.Finish() == nil
		std := json.Valid(in)
		if ours && !std {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		if !ours && std && !strings.Contains(s.Err().Error(), "nesting") {
			t.Fatalf("rejected valid JSON %q: %v", in, s.Err())
		}
		// Unescaped top-level strings agree with encoding/json.
		if ours && len(in) > 0 && s.Peek() == 0 {
			s.Reset(in)
			if s.Peek() == '"' {
				got := s.Str()
				var want string
				if err := json.Unmarshal(in, &want); err == nil && isUTF8(in) && string(got) != want {
					t.Fatalf("%q: got %q want %q", in, got, want)
				}
			}
		}
	})
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }
