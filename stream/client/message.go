package client

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/stream/internal/jsonscan"
)

// Type says what a Message holds.
type Type uint8

// Message types.
const (
	// TypeTrade: Message.Trade holds a trade.
	TypeTrade Type = iota + 1
	// TypeIntegrity: Message.Integrity holds an integrity event (gap, disconnect, backfill,
	// resync, checksum failure) reported by the pipeline for an instrument.
	TypeIntegrity
	// TypeGap: this client missed messages on Message.Channel; Message.Gap says how many.
	// It comes just before the message that revealed the gap.
	TypeGap
	// TypeReconnected: the connection dropped and was re-established, and every
	// subscription restored; Message.Reconnect says why and how.
	TypeReconnected
)

var typeNames = [...]string{"", "trade", "integrity", "gap", "reconnected"}

// String returns the lower-case name ("trade").
func (t Type) String() string {
	if int(t) < len(typeNames) && t != 0 {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Message is one item from Next. Only the field matching Type is set. It is a plain value:
// it holds no reference to client buffers, and its strings are interned.
type Message struct {
	Type Type
	// Channel is the concrete channel ("trades:binance:BTC-USDT") of a trade, integrity
	// event or gap, even when the subscription was a pattern.
	Channel string
	// Seq is the gateway's per-channel sequence number of a trade or integrity event (for a
	// gap: the sequence number that revealed it).
	Seq uint64

	Trade     md.Trade     // TypeTrade (Prov and ParserVersion are not streamed)
	Integrity md.Integrity // TypeIntegrity
	Gap       Gap          // TypeGap
	Reconnect Reconnect    // TypeReconnected
}

// Gap describes messages this client did not receive on one channel.
type Gap struct {
	// Last is the last sequence number received on the channel before the gap.
	Last uint64
	// Missed is how many messages were missed (Seq - Last - 1), when known.
	Missed uint64
	// Reset is set when the channel's sequence restarted (the gateway restarted, a new
	// epoch): how many messages were missed is unknown.
	Reset bool
}

// Reconnect describes a completed reconnect.
type Reconnect struct {
	Attempts     int   // dial attempts it took
	Cause        error // why the previous connection ended
	EpochChanged bool  // the gateway restarted: sequence numbers started over
}

// frame is a decoded server frame. Byte slices alias the scanner's input and are valid
// only while the frame is handled.
type frame struct {
	typ       []byte
	reqID     int64
	hasReqID  bool
	channels  [][]byte
	code, msg []byte

	protocol int64
	epoch    []byte
	pingMS   int64

	channel, venue, symbol []byte
	seq                    uint64
	tradeID                []byte
	price, qty             []byte
	side, source           []byte
	exch, send, recv, off  int64
	event, stream          []byte
	from, to               int64
	firstID, lastID        []byte
	count                  uint64
}

// decodeFrame parses one server frame into f (reset first). Unknown fields are skipped.
func decodeFrame(s *jsonscan.Scanner, data []byte, f *frame) error {
	chans := f.channels[:0]
	*f = frame{channels: chans}
	s.Reset(data)
	if !s.ObjectStart() {
		return fmt.Errorf("%w: frame is not a JSON object: %v", ErrProtocol, s.Err())
	}
	for key, ok := s.NextKey(); ok; key, ok = s.NextKey() {
		switch string(key) {
		case "type":
			f.typ = s.Str()
		case "id":
			if s.Peek() == '"' {
				f.tradeID = s.Str()
			} else {
				f.reqID, f.hasReqID = s.Int(), true
			}
		case "channels":
			if s.ArrayStart() {
				for s.NextElem() {
					f.channels = append(f.channels, s.Str())
				}
			}
		case "code":
			f.code = s.Str()
		case "message":
			f.msg = s.Str()
		case "protocol":
			f.protocol = s.Int()
		case "epoch":
			f.epoch = s.Str()
		case "ping_interval_ms":
			f.pingMS = s.Int()
		case "channel":
			f.channel = s.Str()
		case "venue":
			f.venue = s.Str()
		case "symbol":
			f.symbol = s.Str()
		case "seq":
			f.seq = s.Uint()
		case "price":
			f.price = s.Str()
		case "qty":
			f.qty = s.Str()
		case "side":
			f.side = s.Str()
		case "source":
			f.source = s.Str()
		case "exch_time":
			f.exch = s.Int()
		case "send_time":
			f.send = s.Int()
		case "recv_time":
			f.recv = s.Int()
		case "clock_offset":
			f.off = s.Int()
		case "event":
			f.event = s.Str()
		case "stream":
			f.stream = s.Str()
		case "from":
			f.from = s.Int()
		case "to":
			f.to = s.Int()
		case "first_id":
			f.firstID = s.Str()
		case "last_id":
			f.lastID = s.Str()
		case "count":
			f.count = s.Uint()
		default:
			s.Skip()
		}
	}
	if err := s.Finish(); err != nil {
		return fmt.Errorf("%w: bad frame: %v", ErrProtocol, err)
	}
	return nil
}

// header fills the md header of a data frame.
func (f *frame) header(h *md.Header, in *md.Interner) error {
	h.Venue = in.Bytes(f.venue)
	h.Symbol = in.Bytes(f.symbol)
	h.ExchTime, h.SendTime, h.RecvTime, h.ClockOffset = f.exch, f.send, f.recv, f.off
	h.Prov, h.ParserVersion = md.Provenance{}, 0
	switch string(f.source) {
	case "live", "":
		h.Source = md.SourceLive
	case "backfill":
		h.Source = md.SourceBackfill
	case "reimport":
		h.Source = md.SourceReimport
	default:
		return fmt.Errorf("%w: unknown source %q", ErrProtocol, f.source)
	}
	return nil
}

// trade converts a trade frame.
func (f *frame) trade(t *md.Trade, in *md.Interner) error {
	if err := f.header(&t.Header, in); err != nil {
		return err
	}
	var err error
	if t.ID, err = parseTradeID(f.tradeID); err != nil {
		return err
	}
	if t.Price, err = ParseDecimalText(f.price); err != nil {
		return fmt.Errorf("%w: price %q: %v", ErrProtocol, f.price, err)
	}
	if t.Qty, err = ParseDecimalText(f.qty); err != nil {
		return fmt.Errorf("%w: qty %q: %v", ErrProtocol, f.qty, err)
	}
	switch string(f.side) {
	case "buy":
		t.Side = md.SideBuy
	case "sell":
		t.Side = md.SideSell
	default:
		t.Side = md.SideUnknown
	}
	return nil
}

// integrity converts an integrity frame.
func (f *frame) integrity(e *md.Integrity, in *md.Interner) error {
	if err := f.header(&e.Header, in); err != nil {
		return err
	}
	e.Type = 0
	for t := md.IntegrityGap; t <= md.IntegrityChecksumFailure; t++ {
		if t.String() == string(f.event) {
			e.Type = t
		}
	}
	if e.Type == 0 {
		return fmt.Errorf("%w: unknown integrity event %q", ErrProtocol, f.event)
	}
	e.Stream = streamKind(f.stream)
	e.From, e.To, e.Count = f.from, f.to, f.count
	var err error
	if e.FirstID, err = parseOptUint(f.firstID); err != nil {
		return err
	}
	e.LastID, err = parseOptUint(f.lastID)
	return err
}

// streamKind maps a channel kind name ("trades") to the md kind it carries.
func streamKind(b []byte) md.Kind {
	switch string(b) {
	case "trades":
		return md.KindTrade
	case "book":
		return md.KindBookUpdate
	case "bbo":
		return md.KindBBO
	case "candles":
		return md.KindCandle
	case "liquidations":
		return md.KindLiquidation
	}
	for k := md.KindTrade; k <= md.KindIntegrity; k++ {
		if k.String() == string(b) {
			return k
		}
	}
	return 0
}

func parseOptUint(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad id %q", ErrProtocol, b)
	}
	return v, nil
}

// parseTradeID returns a numeric id for canonical decimal integers (no sign, no leading
// zero) that fit uint64, and a text id otherwise, so ids round-trip exactly.
func parseTradeID(b []byte) (md.TradeID, error) {
	numeric := len(b) > 0 && len(b) <= 20 && (b[0] != '0' || len(b) == 1)
	for _, c := range b {
		if c < '0' || c > '9' {
			numeric = false
			break
		}
	}
	if numeric {
		var v uint64
		for _, c := range b {
			d := uint64(c - '0')
			if v > (1<<64-1-d)/10 {
				numeric = false
				break
			}
			v = v*10 + d
		}
		if numeric {
			return md.NumericID(v), nil
		}
	}
	id, err := md.TextID(b)
	if err != nil {
		return id, fmt.Errorf("%w: trade id %q: %v", ErrProtocol, b, err)
	}
	return id, nil
}

// ParseDecimalText parses a decimal string as the gateway sends it ("65000.10") into an
// md.Decimal whose scale is the number of digits after the point (2 here), so the value
// and its precision are both kept exactly.
func ParseDecimalText(b []byte) (md.Decimal, error) {
	scale := 0
	if i := bytes.IndexByte(b, '.'); i >= 0 {
		scale = len(b) - i - 1
	}
	if scale > md.MaxScale {
		return md.Decimal{}, md.ErrRange
	}
	return md.ParseDecimal(b, uint8(scale))
}
