package stream

import (
	"strconv"
	"unicode/utf8"

	"github.com/tickflow/tickflow/md"
)

// This file holds the append-style JSON encoders of server frames. They never use
// encoding/json and allocate nothing when dst has room. The schema is in docs/streaming.md;
// field order is stable but not part of the contract.

// ProtocolVersion is sent in the welcome frame. It changes only for incompatible changes;
// new fields and new frame types do not change it (clients ignore what they do not know).
const ProtocolVersion = 1

// chanState is the gateway's state of one concrete channel (kind, venue, symbol): its
// sequence counter, its name, the frame prefix encoded once, and the index keys of the four
// patterns that match it. Owned by the publisher (Gateway.pubMu).
type chanState struct {
	ch   Channel
	name string
	seq  uint64
	// head is `{"type":"trade","channel":"<name>","seq":` and mid is
	// `,"venue":"<venue>","symbol":"<symbol>"`: everything constant per channel.
	head []byte
	mid  []byte
	// pats are the patterns that match this channel (exact, venue:*, *:symbol, *:*) and
	// shards their index shards, resolved once.
	pats   [4]Channel
	shards [4]*shard
	// bbo is the latest BBO of a bbo channel (hasBBO once there is one), for new subscribers.
	bbo    md.BBO
	hasBBO bool
}

func newChanState(ix *index, ch Channel) *chanState {
	cs := &chanState{ch: ch, name: ch.String()}
	typ := "trade"
	switch ch.Kind {
	case KindIntegrity:
		typ = "integrity"
	case KindBBO:
		typ = "bbo"
	}
	h := append([]byte(nil), `{"type":"`...)
	h = append(h, typ...)
	h = append(h, `","channel":`...)
	h = appendJSONString(h, cs.name)
	cs.head = append(h, `,"seq":`...)
	m := append([]byte(nil), `,"venue":`...)
	m = appendJSONString(m, ch.Venue)
	m = append(m, `,"symbol":`...)
	cs.mid = appendJSONString(m, ch.Symbol)
	cs.pats = [4]Channel{
		ch,
		{Kind: ch.Kind, Venue: ch.Venue, Symbol: Wildcard},
		{Kind: ch.Kind, Venue: Wildcard, Symbol: ch.Symbol},
		{Kind: ch.Kind, Venue: Wildcard, Symbol: Wildcard},
	}
	for i := range cs.pats {
		cs.shards[i] = ix.shardFor(cs.pats[i])
	}
	return cs
}

// appendTrade appends the trade frame of t on channel cs with sequence seq.
func appendTrade(dst []byte, cs *chanState, seq uint64, t *md.Trade) []byte {
	dst = append(dst, cs.head...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, cs.mid...)
	dst = append(dst, `,"id":`...)
	if t.ID.IsNumeric() {
		dst = append(dst, '"')
		dst = strconv.AppendUint(dst, t.ID.Num, 10)
		dst = append(dst, '"')
	} else {
		dst = appendJSONString(dst, unsafeString(t.ID.Text()))
	}
	dst = append(dst, `,"price":"`...)
	dst = t.Price.AppendText(dst)
	dst = append(dst, `","qty":"`...)
	dst = t.Qty.AppendText(dst)
	dst = append(dst, `","side":"`...)
	dst = append(dst, t.Side.String()...)
	dst = append(dst, '"')
	dst = appendTimes(dst, &t.Header)
	return append(dst, '}')
}

// appendIntegrity appends the integrity frame of e on channel cs with sequence seq.
func appendIntegrity(dst []byte, cs *chanState, seq uint64, e *md.Integrity) []byte {
	dst = append(dst, cs.head...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, cs.mid...)
	dst = append(dst, `,"event":"`...)
	dst = append(dst, e.Type.String()...)
	dst = append(dst, `","stream":"`...)
	dst = append(dst, streamKindName(e.Stream)...)
	dst = append(dst, `","from":`...)
	dst = strconv.AppendInt(dst, e.From, 10)
	dst = append(dst, `,"to":`...)
	dst = strconv.AppendInt(dst, e.To, 10)
	if e.FirstID != 0 {
		dst = append(dst, `,"first_id":"`...)
		dst = strconv.AppendUint(dst, e.FirstID, 10)
		dst = append(dst, '"')
	}
	if e.LastID != 0 {
		dst = append(dst, `,"last_id":"`...)
		dst = strconv.AppendUint(dst, e.LastID, 10)
		dst = append(dst, '"')
	}
	if e.Count != 0 {
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendUint(dst, e.Count, 10)
	}
	dst = appendTimes(dst, &e.Header)
	return append(dst, '}')
}

// appendTimes appends the header times and source shared by every data frame.
func appendTimes(dst []byte, h *md.Header) []byte {
	dst = append(dst, `,"exch_time":`...)
	dst = strconv.AppendInt(dst, h.ExchTime, 10)
	if h.SendTime != 0 {
		dst = append(dst, `,"send_time":`...)
		dst = strconv.AppendInt(dst, h.SendTime, 10)
	}
	dst = append(dst, `,"recv_time":`...)
	dst = strconv.AppendInt(dst, h.RecvTime, 10)
	if h.ClockOffset != 0 {
		dst = append(dst, `,"clock_offset":`...)
		dst = strconv.AppendInt(dst, h.ClockOffset, 10)
	}
	dst = append(dst, `,"source":"`...)
	dst = append(dst, h.Source.String()...)
	return append(dst, '"')
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ---- replies ----

func appendReplyHead(dst []byte, typ string, id int64, hasID bool) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	if hasID {
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendInt(dst, id, 10)
	}
	return dst
}

// appendChannelsReply appends {"type":typ,"id":id,"channels":[...]}.
func appendChannelsReply(dst []byte, typ string, id int64, hasID bool, chans []string) []byte {
	dst = appendReplyHead(dst, typ, id, hasID)
	dst = append(dst, `,"channels":[`...)
	for i, c := range chans {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c)
	}
	return append(dst, "]}"...)
}

// appendPong appends {"type":"pong","id":id}.
func appendPong(dst []byte, id int64, hasID bool) []byte {
	return append(appendReplyHead(dst, "pong", id, hasID), '}')
}

// appendError appends an error frame.
func appendError(dst []byte, id int64, hasID bool, code ErrorCode, msg string) []byte {
	dst = appendReplyHead(dst, "error", id, hasID)
	dst = append(dst, `,"code":"`...)
	dst = append(dst, code...)
	dst = append(dst, `","message":`...)
	dst = appendJSONString(dst, msg)
	return append(dst, '}')
}

// appendWelcome appends the first frame of every connection.
func appendWelcome(dst []byte, epoch string, cfg *Config) []byte {
	dst = append(dst, `{"type":"welcome","protocol":`...)
	dst = strconv.AppendInt(dst, ProtocolVersion, 10)
	dst = append(dst, `,"epoch":`...)
	dst = appendJSONString(dst, epoch)
	dst = append(dst, `,"kinds":[`...)
	for i, k := range kindNames[1:] {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
	}
	dst = append(dst, `],"ping_interval_ms":`...)
	dst = strconv.AppendInt(dst, cfg.PingInterval.Milliseconds(), 10)
	dst = append(dst, `,"max_subscriptions":`...)
	dst = strconv.AppendInt(dst, int64(cfg.MaxSubscriptions), 10)
	dst = append(dst, `,"max_messages_per_second":`...)
	dst = strconv.AppendInt(dst, int64(cfg.MaxMessagesPerSecond), 10)
	dst = append(dst, `,"max_message_bytes":`...)
	dst = strconv.AppendInt(dst, int64(cfg.MaxMessageBytes), 10)
	dst = append(dst, `,"client_queue_bytes":`...)
	dst = strconv.AppendInt(dst, int64(cfg.ClientQueueBytes), 10)
	return append(dst, '}')
}
