package sink

import (
	"errors"
	"unicode/utf8"

	"github.com/tickflow/tickflow/md"
)

// reasonOf maps a decoding error to its low-cardinality reason label.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, md.ErrShort):
		return ReasonTruncated
	case errors.Is(err, md.ErrVersion):
		return ReasonVersion
	case errors.Is(err, md.ErrKind):
		return ReasonKindMismatch
	case errors.Is(err, md.ErrIDTooLong):
		return ReasonTradeID
	}
	return ReasonMalformed
}

var (
	errNoKey       = errors.New("sink: event has an empty venue or symbol")
	errBadUTF8     = errors.New("sink: venue, symbol or trade id is not valid UTF-8")
	errNoProv      = errors.New("sink: event has the zero provenance")
	errNoRecvTime  = errors.New("sink: event has no receive time")
	errUnsupported = errors.New("sink: event kind not stored by the sink")
)

// checkHeader rejects headers the store cannot key or order: the watermark needs a venue, a
// symbol and a provenance above zero, and every row needs its receive time. Text must be
// valid UTF-8 (stores keep it as VARCHAR/String; one bad value would fail its whole batch
// forever).
func checkHeader(h *md.Header) error {
	switch {
	case h.Venue == "" || h.Symbol == "":
		return errNoKey
	case !utf8.ValidString(h.Venue) || !utf8.ValidString(h.Symbol):
		return errBadUTF8
	case h.Prov.IsZero():
		return errNoProv
	case h.RecvTime == 0:
		return errNoRecvTime
	}
	return nil
}

// kindSet is a set of event kinds (bit k set for md.Kind k).
type kindSet uint32

func (s kindSet) has(k md.Kind) bool { return k < 32 && s&(1<<k) != 0 }

// baseKinds are the kinds of the first release, which every Store stores.
const baseKinds = kindSet(1<<md.KindTrade | 1<<md.KindIntegrity)

// decodedKinds are the kinds decodeInto can decode.
var decodedKinds = []md.Kind{md.KindTrade, md.KindIntegrity, md.KindBookUpdate,
	md.KindBookStatus, md.KindBBO, md.KindFunding, md.KindOpenInterest, md.KindLiquidation}

// storedKinds returns the kinds a Runner decodes for st: those it declares through
// [KindStore], else the base kinds.
func storedKinds(st Store) kindSet {
	ks, ok := st.(KindStore)
	if !ok {
		return baseKinds
	}
	var set kindSet
	for _, k := range decodedKinds {
		if ks.StoresKind(k) {
			set |= 1 << k
		}
	}
	return set
}

// decodeInto decodes one message value into b if its kind is in kinds. On error b is
// unchanged and the reason is returned.
func decodeInto(dec *md.Decoder, b *Batch, kinds kindSet, value []byte) (string, error) {
	kind, err := md.PeekKind(value)
	if err != nil {
		return reasonOf(err), err
	}
	if !kinds.has(kind) {
		return ReasonUnsupportedKind, errUnsupported
	}
	switch kind {
	case md.KindTrade:
		b.Trades = append(b.Trades, md.Trade{})
		t := &b.Trades[len(b.Trades)-1]
		err = dec.DecodeTrade(t, value)
		if err == nil {
			if err = checkHeader(&t.Header); err != nil {
				b.Trades = b.Trades[:len(b.Trades)-1]
				return ReasonInvalidHeader, err
			}
			if !t.ID.IsNumeric() && !utf8.Valid(t.ID.Text()) {
				b.Trades = b.Trades[:len(b.Trades)-1]
				return ReasonTradeID, errBadUTF8
			}
			return "", nil
		}
		b.Trades = b.Trades[:len(b.Trades)-1]
		return reasonOf(err), err
	case md.KindIntegrity:
		b.Integrity = append(b.Integrity, md.Integrity{})
		e := &b.Integrity[len(b.Integrity)-1]
		err = dec.DecodeIntegrity(e, value)
		if err == nil {
			if err = checkHeader(&e.Header); err != nil {
				b.Integrity = b.Integrity[:len(b.Integrity)-1]
				return ReasonInvalidHeader, err
			}
			return "", nil
		}
		b.Integrity = b.Integrity[:len(b.Integrity)-1]
		return reasonOf(err), err
	case md.KindBookUpdate:
		// Decoded into the batch's scratch update (whose level slices are reused), then
		// copied with its levels into the batch's arena: allocation-free in steady state.
		u := &b.scratch
		if err = dec.DecodeBookUpdate(u, value); err != nil {
			return reasonOf(err), err
		}
		if err = checkHeader(&u.Header); err != nil {
			return ReasonInvalidHeader, err
		}
		b.addBook(u)
		return "", nil
	case md.KindBookStatus:
		b.BookStatus = append(b.BookStatus, md.BookStatus{})
		st := &b.BookStatus[len(b.BookStatus)-1]
		err = dec.DecodeBookStatus(st, value)
		if err == nil {
			if err = checkHeader(&st.Header); err != nil {
				b.BookStatus = b.BookStatus[:len(b.BookStatus)-1]
				return ReasonInvalidHeader, err
			}
			return "", nil
		}
		b.BookStatus = b.BookStatus[:len(b.BookStatus)-1]
		return reasonOf(err), err
	case md.KindBBO:
		b.BBOs = append(b.BBOs, md.BBO{})
		q := &b.BBOs[len(b.BBOs)-1]
		err = dec.DecodeBBO(q, value)
		if err == nil {
			if err = checkHeader(&q.Header); err != nil {
				b.BBOs = b.BBOs[:len(b.BBOs)-1]
				return ReasonInvalidHeader, err
			}
			return "", nil
		}
		b.BBOs = b.BBOs[:len(b.BBOs)-1]
		return reasonOf(err), err
	case md.KindFunding:
		b.Funding, err = decodeAppend(b.Funding, value, dec.DecodeFunding,
			func(e *md.Funding) *md.Header { return &e.Header })
		return reasonOfDecoded(err)
	case md.KindOpenInterest:
		b.OpenInterest, err = decodeAppend(b.OpenInterest, value, dec.DecodeOpenInterest,
			func(e *md.OpenInterest) *md.Header { return &e.Header })
		return reasonOfDecoded(err)
	case md.KindLiquidation:
		b.Liquidations, err = decodeAppend(b.Liquidations, value, dec.DecodeLiquidation,
			func(e *md.Liquidation) *md.Header { return &e.Header })
		return reasonOfDecoded(err)
	}
	return ReasonUnsupportedKind, errUnsupported
}

// headerError marks a decoded event whose header checkHeader refused.
type headerError struct{ err error }

func (e headerError) Error() string { return e.err.Error() }
func (e headerError) Unwrap() error { return e.err }

// decodeAppend decodes value into a new element of dst and returns dst with it, or dst
// unchanged and the error (a headerError when the header is refused).
func decodeAppend[T any](dst []T, value []byte, decode func(*T, []byte) error,
	header func(*T) *md.Header) ([]T, error) {
	var zero T
	dst = append(dst, zero)
	e := &dst[len(dst)-1]
	if err := decode(e, value); err != nil {
		return dst[:len(dst)-1], err
	}
	if err := checkHeader(header(e)); err != nil {
		return dst[:len(dst)-1], headerError{err}
	}
	return dst, nil
}

// reasonOfDecoded maps decodeAppend's error to decodeInto's result.
func reasonOfDecoded(err error) (string, error) {
	var he headerError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &he):
		return ReasonInvalidHeader, he.err
	}
	return reasonOf(err), err
}
