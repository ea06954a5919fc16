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

// decodeInto decodes one message value into b. On error b is unchanged and the reason is
// returned.
func decodeInto(dec *md.Decoder, b *Batch, value []byte) (string, error) {
	kind, err := md.PeekKind(value)
	if err != nil {
		return reasonOf(err), err
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
	}
	return ReasonUnsupportedKind, errUnsupported
}
