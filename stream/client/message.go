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
	// TypeBookSnapshot: Message.Book holds the full state of a book channel's top
	// Message.BookDepth levels (Snapshot true); it replaces whatever the client held.
	TypeBookSnapshot
	// TypeBookDelta: Message.Book holds the levels of a book channel that changed (quantity
	// 0 deletes), with Seq and PrevSeq. Use a Book to apply them.
	TypeBookDelta
	// TypeBookStatus: Message.BookStatus says a book became invalid (and why) or valid.
	TypeBookStatus
	// TypeBBO: Message.BBO holds the best bid and offer. BBO channels are conflated: a
	// slow client skips intermediate updates (Seq jumps), so no TypeGap is reported for
	// them.
	TypeBBO
)

var typeNames = [...]string{"", "trade", "integrity", "gap", "reconnected", "book_snapshot", "book_delta",
	"book_status", "bbo"}

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
	// Channel is the concrete channel ("trades:binance:BTC-USDT",
	// "book:binance:BTC-USDT@20") of a data message or gap, even when the subscription was
	// a pattern.
	Channel string
	// Seq is the gateway's per-channel sequence number of a trade, integrity event or BBO
	// (for a gap: the sequence number that revealed it). For book messages it is the book's
	// own sequence (Book.Seq, BookStatus.Seq).
	Seq uint64

	Trade     md.Trade     // TypeTrade (Prov and ParserVersion are not streamed)
	Integrity md.Integrity // TypeIntegrity
	Gap       Gap          // TypeGap
	Reconnect Reconnect    // TypeReconnected

	// Book is a book snapshot or delta (TypeBookSnapshot, TypeBookDelta). Bids and Asks
	// are best first in snapshots and in no particular order in deltas; they are owned by
	// the message. Seq and PrevSeq (deltas) are the book's sequence; FirstID and LastID
	// the venue update ids covered (LastID only, in snapshots); Depth (snapshots) the
	// number of levels per side known right upstream (0 = the whole book). Prov and
	// ParserVersion are not streamed.
	Book md.BookUpdate
	// BookDepth is the number of levels per side the book channel carries (snapshots).
	BookDepth int
	// BookStatus is a book status change (TypeBookStatus).
	BookStatus BookStatus
	// BBO is a best bid and offer (TypeBBO); UpdateID is the venue's update id.
	BBO md.BBO
}

// BookStatus is a book_status message: the book behind a book channel became invalid
// (do not use it until the next snapshot) or valid again.
type BookStatus struct {
	State md.BookState // md.BookValid or md.BookInvalid
	// Reason says why the book is invalid ("" when valid): the pipeline's reasons "gap",
	// "disconnect", "checksum_failure", "resync_started", "unspecified", and the gateway's
	// "no_snapshot" (it has no snapshot of the book yet), "gateway_gap" (it missed book
	// messages) and "slow_consumer" (this client fell behind; a fresh snapshot follows
	// once it has caught up). New reasons may be added.
	Reason string
	// Seq is the book sequence the status applies from.
	Seq    uint64
	Header md.Header
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

	prevSeq                            uint64
	depth, knownDepth                  int64
	bids, asks                         [][2][]byte
	state, reason                      []byte
	bidPrice, bidQty, askPrice, askQty []byte
	updateID                           []byte
}

// decodeFrame parses one server frame into f (reset first). Unknown fields are skipped.
func decodeFrame(s *jsonscan.Scanner, data []byte, f *frame) error {
	chans, bids, asks := f.channels[:0], f.bids[:0], f.asks[:0]
	*f = frame{channels: chans, bids: bids, asks: asks}
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
		case "prev_seq":
			f.prevSeq = s.Uint()
		case "depth":
			f.depth = s.Int()
		case "known_depth":
			f.knownDepth = s.Int()
		case "bids":
			f.bids = decodeLevels(s, f.bids[:0])
		case "asks":
			f.asks = decodeLevels(s, f.asks[:0])
		case "state":
			f.state = s.Str()
		case "reason":
			f.reason = s.Str()
		case "bid_price":
			f.bidPrice = s.Str()
		case "bid_qty":
			f.bidQty = s.Str()
		case "ask_price":
			f.askPrice = s.Str()
		case "ask_qty":
			f.askQty = s.Str()
		case "update_id":
			f.updateID = s.Str()
		default:
			s.Skip()
		}
	}
	if err := s.Finish(); err != nil {
		return fmt.Errorf("%w: bad frame: %v", ErrProtocol, err)
	}
	return nil
}

// decodeLevels reads an array of ["<price>","<qty>"] levels; elements after the first two
// of a level are skipped (later versions may add some).
func decodeLevels(s *jsonscan.Scanner, dst [][2][]byte) [][2][]byte {
	if !s.ArrayStart() {
		return dst
	}
	for s.NextElem() {
		var l [2][]byte
		if !s.ArrayStart() {
			return dst
		}
		for i := 0; s.NextElem(); i++ {
			if i < 2 {
				l[i] = s.Str()
			} else {
				s.Skip()
			}
		}
		dst = append(dst, l)
	}
	return dst
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

// levels converts decoded levels into md.Levels (a new slice: messages own their levels).
func levels(ls [][2][]byte) ([]md.Level, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	out := make([]md.Level, len(ls))
	for i, l := range ls {
		p, err := ParseDecimalText(l[0])
		if err != nil {
			return nil, fmt.Errorf("%w: level price %q: %v", ErrProtocol, l[0], err)
		}
		q, err := ParseDecimalText(l[1])
		if err != nil {
			return nil, fmt.Errorf("%w: level qty %q: %v", ErrProtocol, l[1], err)
		}
		out[i] = md.Level{Price: p, Qty: q}
	}
	return out, nil
}

// book converts a book_snapshot or book_delta frame.
func (f *frame) book(u *md.BookUpdate, snapshot bool, in *md.Interner) error {
	if err := f.header(&u.Header, in); err != nil {
		return err
	}
	u.Snapshot, u.Seq, u.PrevSeq = snapshot, f.seq, f.prevSeq
	if f.knownDepth < 0 || f.knownDepth > 1<<32-1 {
		return fmt.Errorf("%w: known_depth %d", ErrProtocol, f.knownDepth)
	}
	u.Depth = uint32(f.knownDepth)
	var err error
	if u.FirstID, err = parseOptUint(f.firstID); err != nil {
		return err
	}
	if u.LastID, err = parseOptUint(f.lastID); err != nil {
		return err
	}
	if snapshot && u.FirstID == 0 {
		u.FirstID = u.LastID
	}
	if u.Bids, err = levels(f.bids); err != nil {
		return err
	}
	u.Asks, err = levels(f.asks)
	return err
}

// bookStatus converts a book_status frame.
func (f *frame) bookStatus(st *BookStatus, in *md.Interner) error {
	if err := f.header(&st.Header, in); err != nil {
		return err
	}
	switch string(f.state) {
	case "valid":
		st.State = md.BookValid
	case "invalid":
		st.State = md.BookInvalid
	default:
		return fmt.Errorf("%w: unknown book state %q", ErrProtocol, f.state)
	}
	st.Reason = in.Bytes(f.reason)
	st.Seq = f.seq
	return nil
}

// bbo converts a bbo frame.
func (f *frame) bbo(q *md.BBO, in *md.Interner) error {
	if err := f.header(&q.Header, in); err != nil {
		return err
	}
	var err error
	for _, v := range []struct {
		dst  *md.Decimal
		text []byte
		name string
	}{{&q.BidPrice, f.bidPrice, "bid_price"}, {&q.BidQty, f.bidQty, "bid_qty"},
		{&q.AskPrice, f.askPrice, "ask_price"}, {&q.AskQty, f.askQty, "ask_qty"}} {
		if *v.dst, err = ParseDecimalText(v.text); err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrProtocol, v.name, v.text, err)
		}
	}
	q.UpdateID, err = parseOptUint(f.updateID)
	return err
}
