package md

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"
)

// ---- an independent encoder written from docs/wire.md ----

// leb is LEB128 (protobuf varint) of u, written out by hand rather than with encoding/binary.
func leb(u uint64) []byte {
	var b []byte
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// leb128 decodes a minimal-or-not LEB128 value and returns it and its length.
func leb128(b []byte) (uint64, int) {
	var x uint64
	for i, c := range b {
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	panic("leb128: truncated")
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func specString(s string) []byte { return append(leb(uint64(len(s))), s...) }

func specHeader(k Kind, h *Header) []byte {
	b := []byte{1, byte(k)}
	b = append(b, specString(h.Venue)...)
	b = append(b, specString(h.Symbol)...)
	for _, v := range []int64{h.ExchTime, h.SendTime, h.RecvTime, h.ClockOffset} {
		b = append(b, leb(zigzag(v))...)
	}
	for _, v := range []uint64{h.Prov.Epoch, h.Prov.Seq, uint64(h.Prov.Index)} {
		b = append(b, leb(v)...)
	}
	b = append(b, byte(h.Source))
	return append(b, leb(uint64(h.ParserVersion))...)
}

func specDecimal(d Decimal) []byte { return append(leb(zigzag(d.Mant)), d.Scale) }

func specTrade(t *Trade) []byte {
	var body []byte
	if t.ID.IsNumeric() {
		body = append([]byte{0}, leb(t.ID.Num)...)
	} else {
		body = append([]byte{1}, specString(string(t.ID.Text()))...)
	}
	body = append(body, specDecimal(t.Price)...)
	body = append(body, specDecimal(t.Qty)...)
	body = append(body, byte(t.Side))
	b := specHeader(KindTrade, &t.Header)
	return append(append(b, leb(uint64(len(body)))...), body...)
}

func specIntegrity(e *Integrity) []byte {
	body := []byte{byte(e.Type), byte(e.Stream)}
	body = append(body, leb(zigzag(e.From))...)
	body = append(body, leb(zigzag(e.To))...)
	for _, v := range []uint64{e.FirstID, e.LastID, e.Count} {
		body = append(body, leb(v)...)
	}
	b := specHeader(KindIntegrity, &e.Header)
	return append(append(b, leb(uint64(len(body)))...), body...)
}

func specRaw(r *RawRecord) []byte {
	b := []byte{1, byte(r.Type), byte(r.Dir)}
	b = append(b, specString(r.Venue)...)
	b = append(b, specString(r.Conn)...)
	b = append(b, leb(r.Epoch)...)
	b = append(b, leb(r.Seq)...)
	b = append(b, leb(zigzag(r.RecvTime))...)
	b = append(b, specString(string(r.Meta))...)
	return append(b, r.Frame...)
}

// TestWireLayout checks the Go encoder against the layout of docs/wire.md.
func TestWireLayout(t *testing.T) {
	for i, tr := range goldenTrades() {
		if got, want := AppendTrade(nil, &tr), specTrade(&tr); !bytes.Equal(got, want) {
			t.Errorf("trade %d:\n got  %x\n want %x", i, got, want)
		}
	}
	for i, e := range goldenIntegrity() {
		if got, want := AppendIntegrity(nil, &e), specIntegrity(&e); !bytes.Equal(got, want) {
			t.Errorf("integrity %d:\n got  %x\n want %x", i, got, want)
		}
	}
	for i, r := range goldenRaw() {
		if got, want := AppendRaw(nil, &r), specRaw(&r); !bytes.Equal(got, want) {
			t.Errorf("raw %d:\n got  %x\n want %x", i, got, want)
		}
	}
}

// The worked examples of docs/wire.md.
var (
	exampleTrade = Trade{
		Header: Header{Venue: "binance", Symbol: "BTC-USDT",
			ExchTime: 1767225600123000000, SendTime: 1767225600124000000,
			RecvTime: 1767225600126000000, ClockOffset: -1500000,
			Prov:   Provenance{Epoch: 1767225590000000000, Seq: 42, Index: 0},
			Source: SourceLive, ParserVersion: 1},
		ID:    NumericID(5312345678),
		Price: MustDecimal("65000.01", 2), Qty: MustDecimal("0.00123", 5), Side: SideBuy,
	}
	exampleTradeHex = "01" + "01" + "07" + "62696e616e6365" + "08" + "4254432d55534454" +
		"80d3f6d4be94b98631" + "80dcf0d5be94b98631" + "80eee4d7be94b98631" + "bf8db701" +
		"80b8b8cff9c99cc318" + "2a" + "00" + "00" + "01" +
		"0f" + "00" + "ceec8fe513" + "c2ba9906" + "02" + "f601" + "05" + "01"

	exampleRaw = RawRecord{Type: RawConnect, Dir: DirLocal, Venue: "binance", Conn: "trade-0",
		Epoch: 1767225590000000000, Seq: 1, RecvTime: 1767225590000000000,
		Meta: []byte("url=wss://x"), Frame: []byte("{}")}
	exampleRawHex = "01" + "03" + "00" + "07" + "62696e616e6365" + "07" + "74726164652d30" +
		"80b8b8cff9c99cc318" + "01" + "80f0f09ef393b98631" +
		"0b" + "75726c3d7773733a2f2f78" + "7b7d"
)

func TestWireExamples(t *testing.T) {
	if got := hex.EncodeToString(AppendTrade(nil, &exampleTrade)); got != exampleTradeHex {
		t.Errorf("trade example:\n got  %s\n want %s", got, exampleTradeHex)
	}
	if got := hex.EncodeToString(AppendRaw(nil, &exampleRaw)); got != exampleRawHex {
		t.Errorf("raw example:\n got  %s\n want %s", got, exampleRawHex)
	}
}

func TestTradeRoundTrip(t *testing.T) {
	d := NewDecoder()
	var got Trade
	got.ID = mustText("left over from a previous decode")
	for i, tr := range goldenTrades() {
		prefix := []byte("prefix")
		b := AppendTrade(prefix, &tr)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("AppendTrade clobbered dst")
		}
		if err := d.DecodeTrade(&got, b[len("prefix"):]); err != nil {
			t.Fatalf("trade %d: %v", i, err)
		}
		if got != tr {
			t.Errorf("trade %d:\n got  %+v\n want %+v", i, got, tr)
		}
		if k, err := PeekKind(b[len("prefix"):]); k != KindTrade || err != nil {
			t.Errorf("PeekKind = %v, %v", k, err)
		}
	}
}

func TestIntegrityRoundTrip(t *testing.T) {
	d := NewDecoder()
	for i, e := range goldenIntegrity() {
		b := AppendIntegrity(nil, &e)
		var got Integrity
		if err := d.DecodeIntegrity(&got, b); err != nil {
			t.Fatalf("integrity %d: %v", i, err)
		}
		if got != e {
			t.Errorf("integrity %d:\n got  %+v\n want %+v", i, got, e)
		}
		if k, err := PeekKind(b); k != KindIntegrity || err != nil {
			t.Errorf("PeekKind = %v, %v", k, err)
		}
	}
}

// Decoded strings are interned and never alias the input buffer.
func TestDecodeStringsOwned(t *testing.T) {
	d := NewDecoder()
	tr := goldenTrades()[0]
	b1 := AppendTrade(nil, &tr)
	b2 := AppendTrade(nil, &tr)
	var t1, t2 Trade
	if err := d.DecodeTrade(&t1, b1); err != nil {
		t.Fatal(err)
	}
	if err := d.DecodeTrade(&t2, b2); err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(t1.Venue) != unsafe.StringData(t2.Venue) ||
		unsafe.StringData(t1.Symbol) != unsafe.StringData(t2.Symbol) {
		t.Error("venue/symbol not interned")
	}
	clear(b1)
	if t1 != tr {
		t.Errorf("decoded trade changed with its input: %+v", t1)
	}
}

// Every strict prefix of an event is an error, never a panic or a partial success.
func TestEventTruncation(t *testing.T) {
	d := NewDecoder()
	check := func(name string, b []byte, decode func([]byte) error) {
		// The message ends with its body; anything after it is ignored.
		h := headerLen(b)
		n, l := leb128(b[h:])
		end := h + l + int(n)
		for i := range end {
			err := decode(b[:i])
			if err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded without error", name, i, len(b))
			} else if !errors.Is(err, ErrShort) {
				t.Errorf("%s: prefix of %d/%d bytes: %v, want ErrShort", name, i, len(b), err)
			}
		}
		for i := end; i <= len(b); i++ {
			if err := decode(b[:i]); err != nil {
				t.Errorf("%s: %d/%d bytes: %v", name, i, len(b), err)
			}
		}
	}
	for _, tr := range goldenTrades() {
		var got Trade
		check("trade", AppendTrade(nil, &tr), func(b []byte) error { return d.DecodeTrade(&got, b) })
	}
	for _, e := range goldenIntegrity() {
		var got Integrity
		check("integrity", AppendIntegrity(nil, &e),
			func(b []byte) error { return d.DecodeIntegrity(&got, b) })
	}
	for _, b := range goldenCompat() {
		k, _ := PeekKind(b)
		var tr Trade
		var ig Integrity
		check("compat", b, func(b []byte) error {
			if k == KindTrade {
				return d.DecodeTrade(&tr, b)
			}
			return d.DecodeIntegrity(&ig, b)
		})
	}
}

// A newer minor revision may append body fields: v1 readers skip them. Bytes after the body
// are ignored too.
func TestForwardCompat(t *testing.T) {
	d := NewDecoder()
	for _, tr := range goldenTrades() {
		for _, extra := range [][]byte{{0}, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 300)} {
			b := withBodyExtra(AppendTrade(nil, &tr), extra)
			var got Trade
			if err := d.DecodeTrade(&got, b); err != nil || got != tr {
				t.Errorf("trade with %d extra body bytes: %v\n got  %+v\n want %+v",
					len(extra), err, got, tr)
			}
			if err := d.DecodeTrade(&got, append(AppendTrade(nil, &tr), extra...)); err != nil ||
				got != tr {
				t.Errorf("trade followed by %d bytes: %v", len(extra), err)
			}
		}
	}
	for _, e := range goldenIntegrity() {
		b := withBodyExtra(AppendIntegrity(nil, &e), []byte("a later field"))
		var got Integrity
		if err := d.DecodeIntegrity(&got, b); err != nil || got != e {
			t.Errorf("integrity with extra body bytes: %v\n got  %+v\n want %+v", err, got, e)
		}
	}
	// Non-minimal varints are accepted.
	tr := goldenTrades()[2]
	var got Trade
	if err := d.DecodeTrade(&got, overlongSeq(AppendTrade(nil, &tr))); err != nil || got != tr {
		t.Errorf("overlong seq: %v", err)
	}
}

// A body longer than 127 bytes needs a multi-byte body_len; finishBody moves the body.
func TestFinishBodyLong(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		dst, s := bodyStart([]byte("head"))
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i * 31)
		}
		dst = finishBody(append(dst, body...), s)
		want := append(append([]byte("head"), leb(uint64(n))...), body...)
		if !bytes.Equal(dst, want) {
			t.Errorf("finishBody with a %d-byte body: wrong encoding", n)
		}
	}
}

func TestVersionAndKindErrors(t *testing.T) {
	d := NewDecoder()
	tr := goldenTrades()[0]
	ig := goldenIntegrity()[0]
	for _, v := range []byte{0, 2, 255} {
		b := AppendTrade(nil, &tr)
		b[0] = v
		var got Trade
		if err := d.DecodeTrade(&got, b); !errors.Is(err, ErrVersion) {
			t.Errorf("version %d: DecodeTrade error %v, want ErrVersion", v, err)
		}
		b = AppendIntegrity(nil, &ig)
		b[0] = v
		var gi Integrity
		if err := d.DecodeIntegrity(&gi, b); !errors.Is(err, ErrVersion) {
			t.Errorf("version %d: DecodeIntegrity error %v, want ErrVersion", v, err)
		}
		if _, err := PeekKind(b); !errors.Is(err, ErrVersion) {
			t.Errorf("version %d: PeekKind error %v, want ErrVersion", v, err)
		}
	}
	var gi Integrity
	err := d.DecodeIntegrity(&gi, AppendTrade(nil, &tr))
	if !errors.Is(err, ErrKind) || !strings.Contains(err.Error(), "got trade, want integrity") {
		t.Errorf("DecodeIntegrity of a trade: %v, want ErrKind", err)
	}
	var gt Trade
	if err := d.DecodeTrade(&gt, AppendIntegrity(nil, &ig)); !errors.Is(err, ErrKind) {
		t.Errorf("DecodeTrade of an integrity event: %v, want ErrKind", err)
	}
	b := AppendTrade(nil, &tr)
	b[1] = byte(KindBBO)
	if err := d.DecodeTrade(&gt, b); !errors.Is(err, ErrKind) {
		t.Errorf("DecodeTrade of kind bbo: %v, want ErrKind", err)
	}
	for _, in := range [][]byte{nil, {1}} {
		if _, err := PeekKind(in); !errors.Is(err, ErrShort) {
			t.Errorf("PeekKind(%x) = %v, want ErrShort", in, err)
		}
	}
}

// Malformed bodies and header fields: errors, never panics or silent truncation.
func TestDecodeMalformed(t *testing.T) {
	d := NewDecoder()
	base := goldenTrades()[0]
	h := specHeader(KindTrade, &base.Header)
	body := func(parts ...[]byte) []byte {
		bd := bytes.Join(parts, nil)
		return append(append(append([]byte(nil), h...), leb(uint64(len(bd)))...), bd...)
	}
	price := specDecimal(base.Price)
	hdrWith := func(index uint64, pv uint64) []byte {
		hb := []byte{1, byte(KindTrade)}
		hb = append(hb, specString("v")...)
		hb = append(hb, specString("s")...)
		hb = append(hb, 0, 0, 2, 0, 1, 1)
		hb = append(hb, leb(index)...)
		hb = append(hb, 0)
		hb = append(hb, leb(pv)...)
		bd := append(append([]byte{0, 1}, price...), append(price, 1)...)
		return append(append(hb, leb(uint64(len(bd)))...), bd...)
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"bad id tag", body([]byte{2}, leb(1), price, price, []byte{1}), "bad trade id tag"},
		{"empty text id", body([]byte{1, 0}, price, price, []byte{1}), "empty trade id"},
		{"41-byte text id", body([]byte{1}, specString(strings.Repeat("x", 41)), price, price,
			[]byte{1}), "longer than 40"},
		{"scale 19", body([]byte{0, 1}, leb(zigzag(1)), []byte{19}, price, []byte{1}),
			"scale 19 out of range"},
		{"uvarint overflow", body([]byte{0}, bytes.Repeat([]byte{0xff}, 10), []byte{1}, price,
			price, []byte{1}), "truncated"},
		{"10th varint byte > 1", body([]byte{0}, bytes.Repeat([]byte{0x80}, 9), []byte{2},
			price, price, []byte{1}), "truncated"},
		{"field past body_len", body([]byte{0, 1}, price), "truncated"},
		{"index > 2^32-1", hdrWith(1<<32, 1), "out of range"},
		{"parser_version > 65535", hdrWith(0, 1<<16), "out of range"},
	}
	for _, tt := range tests {
		var got Trade
		err := d.DecodeTrade(&got, tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	var got Trade
	if err := d.DecodeTrade(&got, hdrWith(math.MaxUint32, math.MaxUint16)); err != nil {
		t.Errorf("index 2^32-1, parser_version 65535: %v", err)
	}
	// An integrity body cut short inside body_len.
	ig := goldenIntegrity()[0]
	bi := specHeader(KindIntegrity, &ig.Header)
	bi = append(append(bi, 3), 1, 1, 0)
	var gi Integrity
	if err := d.DecodeIntegrity(&gi, bi); !errors.Is(err, ErrShort) {
		t.Errorf("short integrity body: %v, want ErrShort", err)
	}
}
