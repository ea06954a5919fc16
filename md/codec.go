package md

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// WireVersion is the version byte of the unified wire codec (ADR 0005, docs/wire.md).
const WireVersion = 1

// Decoding errors.
var (
	// ErrShort means the input ended inside a field.
	ErrShort = errors.New("md: truncated input")
	// ErrVersion means the input has an unknown version byte.
	ErrVersion = errors.New("md: unknown wire version")
	// ErrKind means the input holds a different event kind than the one asked for.
	ErrKind = errors.New("md: unexpected event kind")
)

// PeekKind returns the kind of an encoded event without decoding it.
func PeekKind(b []byte) (Kind, error) {
	if len(b) < 2 {
		return 0, ErrShort
	}
	if b[0] != WireVersion {
		return 0, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	return Kind(b[1]), nil
}

// ---- encoding ----

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, s []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendDecimal(dst []byte, d Decimal) []byte {
	dst = binary.AppendVarint(dst, d.Mant)
	return append(dst, d.Scale)
}

func appendHeader(dst []byte, k Kind, h *Header) []byte {
	dst = append(dst, WireVersion, byte(k))
	dst = appendString(dst, h.Venue)
	dst = appendString(dst, h.Symbol)
	dst = binary.AppendVarint(dst, h.ExchTime)
	dst = binary.AppendVarint(dst, h.SendTime)
	dst = binary.AppendVarint(dst, h.RecvTime)
	dst = binary.AppendVarint(dst, h.ClockOffset)
	dst = binary.AppendUvarint(dst, h.Prov.Epoch)
	dst = binary.AppendUvarint(dst, h.Prov.Seq)
	dst = binary.AppendUvarint(dst, uint64(h.Prov.Index))
	dst = append(dst, byte(h.Source))
	return binary.AppendUvarint(dst, uint64(h.ParserVersion))
}

// bodyStart reserves room for the body length and returns the offset of the body. Bodies
// are short (< 128 bytes for fixed-size events) so the length usually takes one byte; if it
// does not, finishBody shifts the body.
func bodyStart(dst []byte) ([]byte, int) {
	dst = append(dst, 0)
	return dst, len(dst)
}

func finishBody(dst []byte, start int) []byte {
	n := len(dst) - start
	if n < 0x80 {
		dst[start-1] = byte(n)
		return dst
	}
	var tmp [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(tmp[:], uint64(n))
	dst = append(dst, tmp[:l-1]...) // grow by l-1
	copy(dst[start-1+l:], dst[start:start+n])
	copy(dst[start-1:], tmp[:l])
	return dst
}

// AppendTrade appends the wire encoding of t to dst and returns it.
func AppendTrade(dst []byte, t *Trade) []byte {
	dst = appendHeader(dst, KindTrade, &t.Header)
	dst, s := bodyStart(dst)
	if t.ID.n == 0 {
		dst = append(dst, 0)
		dst = binary.AppendUvarint(dst, t.ID.Num)
	} else {
		dst = append(dst, 1)
		dst = appendBytes(dst, t.ID.text[:t.ID.n])
	}
	dst = appendDecimal(dst, t.Price)
	dst = appendDecimal(dst, t.Qty)
	dst = append(dst, byte(t.Side))
	return finishBody(dst, s)
}

// AppendIntegrity appends the wire encoding of e to dst and returns it.
func AppendIntegrity(dst []byte, e *Integrity) []byte {
	dst = appendHeader(dst, KindIntegrity, &e.Header)
	dst, s := bodyStart(dst)
	dst = append(dst, byte(e.Type), byte(e.Stream))
	dst = binary.AppendVarint(dst, e.From)
	dst = binary.AppendVarint(dst, e.To)
	dst = binary.AppendUvarint(dst, e.FirstID)
	dst = binary.AppendUvarint(dst, e.LastID)
	dst = binary.AppendUvarint(dst, e.Count)
	return finishBody(dst, s)
}

func appendLevels(dst []byte, ls []Level) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ls)))
	for i := range ls {
		dst = appendDecimal(dst, ls[i].Price)
		dst = appendDecimal(dst, ls[i].Qty)
	}
	return dst
}

// AppendBookUpdate appends the wire encoding of u to dst and returns it.
func AppendBookUpdate(dst []byte, u *BookUpdate) []byte {
	dst = appendHeader(dst, KindBookUpdate, &u.Header)
	dst, start := bodyStart(dst)
	var flags byte
	if u.Snapshot {
		flags |= 1
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, u.Seq)
	dst = binary.AppendUvarint(dst, u.PrevSeq)
	dst = binary.AppendUvarint(dst, u.FirstID)
	dst = binary.AppendUvarint(dst, u.LastID)
	dst = binary.AppendUvarint(dst, uint64(u.Depth))
	dst = appendLevels(dst, u.Bids)
	dst = appendLevels(dst, u.Asks)
	return finishBody(dst, start)
}

// AppendBBO appends the wire encoding of b to dst and returns it.
func AppendBBO(dst []byte, b *BBO) []byte {
	dst = appendHeader(dst, KindBBO, &b.Header)
	dst, s := bodyStart(dst)
	dst = appendDecimal(dst, b.BidPrice)
	dst = appendDecimal(dst, b.BidQty)
	dst = appendDecimal(dst, b.AskPrice)
	dst = appendDecimal(dst, b.AskQty)
	dst = binary.AppendUvarint(dst, b.UpdateID)
	return finishBody(dst, s)
}

// AppendBookStatus appends the wire encoding of st to dst and returns it.
func AppendBookStatus(dst []byte, st *BookStatus) []byte {
	dst = appendHeader(dst, KindBookStatus, &st.Header)
	dst, s := bodyStart(dst)
	dst = append(dst, byte(st.State), byte(st.Reason))
	dst = binary.AppendUvarint(dst, st.Seq)
	return finishBody(dst, s)
}

// ---- decoding ----

type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.err = ErrShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = ErrShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = ErrShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = ErrShort
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) decimal() Decimal {
	m := r.varint()
	s := r.byte()
	if s > MaxScale && r.err == nil {
		r.err = fmt.Errorf("md: decimal scale %d out of range", s)
	}
	return Decimal{Mant: m, Scale: s}
}

// body returns a reader over the body and advances past it, so unknown trailing body
// fields (added in later minor revisions) are skipped.
func (r *reader) body() reader {
	b := r.bytes()
	return reader{b: b, err: r.err}
}

// Decoder decodes wire-encoded events and raw records, interning venue and symbol strings.
// The zero value is not usable; use NewDecoder. Not goroutine-safe.
type Decoder struct {
	in *Interner
}

// NewDecoder returns a Decoder with its own Interner.
func NewDecoder() *Decoder { return &Decoder{in: NewInterner(0)} }

func (d *Decoder) header(r *reader, want Kind, h *Header) {
	v := r.byte()
	k := Kind(r.byte())
	if r.err != nil {
		return
	}
	if v != WireVersion {
		r.err = fmt.Errorf("%w: %d", ErrVersion, v)
		return
	}
	if k != want {
		r.err = fmt.Errorf("%w: got %s, want %s", ErrKind, k, want)
		return
	}
	venue := r.bytes()
	sym := r.bytes()
	h.ExchTime = r.varint()
	h.SendTime = r.varint()
	h.RecvTime = r.varint()
	h.ClockOffset = r.varint()
	h.Prov.Epoch = r.uvarint()
	h.Prov.Seq = r.uvarint()
	index := r.uvarint()
	h.Source = Source(r.byte())
	pv := r.uvarint()
	if r.err == nil && (index > math.MaxUint32 || pv > math.MaxUint16) {
		r.err = errors.New("md: index or parser_version out of range")
	}
	h.Prov.Index = uint32(index)
	h.ParserVersion = uint16(pv)
	if r.err == nil {
		h.Venue = d.in.Bytes(venue)
		h.Symbol = d.in.Bytes(sym)
	}
}

// DecodeTrade decodes a wire-encoded trade into t. It does not allocate in steady state.
func (d *Decoder) DecodeTrade(t *Trade, b []byte) error {
	r := reader{b: b}
	d.header(&r, KindTrade, &t.Header)
	body := r.body()
	switch body.byte() {
	case 0:
		t.ID = TradeID{Num: body.uvarint()}
	case 1:
		id := body.bytes()
		if body.err == nil {
			var err error
			if t.ID, err = TextID(id); err != nil {
				body.err = err
			}
		}
	default:
		if body.err == nil {
			body.err = errors.New("md: bad trade id tag")
		}
	}
	t.Price = body.decimal()
	t.Qty = body.decimal()
	t.Side = Side(body.byte())
	return firstErr(r.err, body.err, "trade")
}

// DecodeIntegrity decodes a wire-encoded integrity event into e.
func (d *Decoder) DecodeIntegrity(e *Integrity, b []byte) error {
	r := reader{b: b}
	d.header(&r, KindIntegrity, &e.Header)
	body := r.body()
	e.Type = IntegrityType(body.byte())
	e.Stream = Kind(body.byte())
	e.From = body.varint()
	e.To = body.varint()
	e.FirstID = body.uvarint()
	e.LastID = body.uvarint()
	e.Count = body.uvarint()
	return firstErr(r.err, body.err, "integrity")
}

func (r *reader) levels(dst []Level) []Level {
	n := r.uvarint()
	if r.err != nil {
		return dst[:0]
	}
	// Each level takes at least 4 bytes: refuse counts the input cannot hold.
	if n > uint64(len(r.b))/4 {
		r.err = ErrShort
		return dst[:0]
	}
	dst = dst[:0]
	for i := uint64(0); i < n && r.err == nil; i++ {
		dst = append(dst, Level{Price: r.decimal(), Qty: r.decimal()})
	}
	return dst
}

// DecodeBookUpdate decodes a wire-encoded book update into u, reusing u.Bids and u.Asks.
// It does not allocate once their capacity suffices.
func (d *Decoder) DecodeBookUpdate(u *BookUpdate, b []byte) error {
	r := reader{b: b}
	d.header(&r, KindBookUpdate, &u.Header)
	body := r.body()
	flags := body.byte()
	u.Snapshot = flags&1 != 0
	u.Seq = body.uvarint()
	u.PrevSeq = body.uvarint()
	u.FirstID = body.uvarint()
	u.LastID = body.uvarint()
	depth := body.uvarint()
	if depth > math.MaxUint32 && body.err == nil {
		body.err = errors.New("md: book depth out of range")
	}
	u.Depth = uint32(depth)
	u.Bids = body.levels(u.Bids)
	u.Asks = body.levels(u.Asks)
	return firstErr(r.err, body.err, "book update")
}

// DecodeBBO decodes a wire-encoded BBO into b.
func (d *Decoder) DecodeBBO(b *BBO, in []byte) error {
	r := reader{b: in}
	d.header(&r, KindBBO, &b.Header)
	body := r.body()
	b.BidPrice = body.decimal()
	b.BidQty = body.decimal()
	b.AskPrice = body.decimal()
	b.AskQty = body.decimal()
	b.UpdateID = body.uvarint()
	return firstErr(r.err, body.err, "bbo")
}

// DecodeBookStatus decodes a wire-encoded book status into st.
func (d *Decoder) DecodeBookStatus(st *BookStatus, b []byte) error {
	r := reader{b: b}
	d.header(&r, KindBookStatus, &st.Header)
	body := r.body()
	st.State = BookState(body.byte())
	st.Reason = IntegrityType(body.byte())
	st.Seq = body.uvarint()
	return firstErr(r.err, body.err, "book status")
}

func firstErr(a, b error, what string) error {
	if a == nil {
		a = b
	}
	if a == nil {
		return nil
	}
	if errors.Is(a, ErrVersion) || errors.Is(a, ErrKind) {
		return a
	}
	return fmt.Errorf("md: decode %s: %w", what, a)
}
