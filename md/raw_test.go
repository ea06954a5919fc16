package md

import (
	"bytes"
	"errors"
	"testing"
)

func rawEqual(a, b *RawRecord) bool {
	return a.Type == b.Type && a.Dir == b.Dir && a.Venue == b.Venue && a.Conn == b.Conn &&
		a.Epoch == b.Epoch && a.Seq == b.Seq && a.RecvTime == b.RecvTime &&
		bytes.Equal(a.Meta, b.Meta) && bytes.Equal(a.Frame, b.Frame)
}

func TestRawRoundTrip(t *testing.T) {
	d := NewDecoder()
	for i, r := range goldenRaw() {
		b := AppendRaw([]byte("prefix"), &r)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("AppendRaw clobbered dst")
		}
		var got RawRecord
		if err := d.DecodeRaw(&got, b[len("prefix"):]); err != nil {
			t.Fatalf("raw %d: %v", i, err)
		}
		if !rawEqual(&got, &r) {
			t.Errorf("raw %d:\n got  %+v\n want %+v", i, got, r)
		}
	}
}

// Frame and Meta alias the input (borrowed); Venue and Conn are interned copies.
func TestRawAliasing(t *testing.T) {
	d := NewDecoder()
	r := goldenRaw()[4] // REST: meta and frame
	b := AppendRaw(nil, &r)
	var got RawRecord
	if err := d.DecodeRaw(&got, b); err != nil {
		t.Fatal(err)
	}
	if &got.Frame[0] != &b[len(b)-len(r.Frame)] {
		t.Error("Frame does not alias the input")
	}
	if cap(got.Meta) != len(got.Meta) {
		t.Error("Meta can be appended to over the frame")
	}
	clear(b)
	if got.Venue != r.Venue || got.Conn != r.Conn {
		t.Errorf("Venue/Conn alias the input: %q %q", got.Venue, got.Conn)
	}
}

// The frame is the rest of the value, so a prefix that keeps the whole envelope header
// decodes to a shorter frame; any shorter prefix is an error.
func TestRawTruncation(t *testing.T) {
	d := NewDecoder()
	for _, r := range goldenRaw() {
		b := AppendRaw(nil, &r)
		h := len(b) - len(r.Frame)
		for i := range len(b) + 1 {
			var got RawRecord
			err := d.DecodeRaw(&got, b[:i])
			switch {
			case i < h && !errors.Is(err, ErrShort):
				t.Errorf("%s: prefix %d/%d: %v, want ErrShort", r.Type, i, len(b), err)
			case i >= h && err != nil:
				t.Errorf("%s: prefix %d/%d: %v", r.Type, i, len(b), err)
			case i >= h && !bytes.Equal(got.Frame, r.Frame[:i-h]):
				t.Errorf("%s: prefix %d/%d: frame %q", r.Type, i, len(b), got.Frame)
			}
		}
	}
}

func TestRawVersion(t *testing.T) {
	d := NewDecoder()
	r := goldenRaw()[0]
	for _, v := range []byte{0, 2, 255} {
		b := AppendRaw(nil, &r)
		b[0] = v
		var got RawRecord
		if err := d.DecodeRaw(&got, b); !errors.Is(err, ErrVersion) {
			t.Errorf("version %d: %v, want ErrVersion", v, err)
		}
	}
	var got RawRecord
	if err := d.DecodeRaw(&got, nil); !errors.Is(err, ErrShort) {
		t.Errorf("empty input: %v, want ErrShort", err)
	}
}

func TestRawKey(t *testing.T) {
	r := RawRecord{Venue: "binance", Conn: "trade-0"}
	if got := string(r.Key([]byte("k:"))); got != "k:binance/trade-0" {
		t.Errorf("Key = %q", got)
	}
}
