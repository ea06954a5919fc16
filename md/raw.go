package md

import (
	"encoding/binary"
	"fmt"
)

// RawVersion is the version byte of the raw envelope (ADR 0001).
const RawVersion = 1

// RawType says what a raw record holds.
type RawType uint8

// Raw record types. Values are part of raw envelope v1.
const (
	RawFrame      RawType = 1 // a WebSocket frame, in or out
	RawREST       RawType = 2 // a REST response body; Meta holds the request path and query
	RawConnect    RawType = 3 // a connection was established (Seq 1 of every epoch)
	RawDisconnect RawType = 4 // the connection ended; Meta holds the reason
	RawSubscribe  RawType = 5 // subscription set of the connection; Meta lists streams
	RawResync     RawType = 6 // a resync began for a symbol; Meta says which and why
	RawState      RawType = 7 // collector state marker (e.g. periodic snapshot schedule)
)

var rawTypeNames = [...]string{"", "frame", "rest", "connect", "disconnect", "subscribe",
	"resync", "state"}

// String returns the lower-case name ("frame").
func (t RawType) String() string {
	if int(t) < len(rawTypeNames) && rawTypeNames[t] != "" {
		return rawTypeNames[t]
	}
	return fmt.Sprintf("rawtype(%d)", uint8(t))
}

// Direction says which way a raw frame travelled.
type Direction uint8

// Directions.
const (
	DirLocal Direction = 0 // a marker made by the collector
	DirIn    Direction = 1 // from the venue
	DirOut   Direction = 2 // to the venue
)

// RawRecord is one record of a raw topic: an exchange frame or REST response exactly as
// received, or a collector marker, with where and when it was captured.
type RawRecord struct {
	Type     RawType
	Dir      Direction
	Venue    string
	Conn     string // connection slot, stable across reconnects
	Epoch    uint64 // connection epoch, strictly increasing per collector
	Seq      uint64 // record sequence within the epoch, from 1
	RecvTime int64  // Unix ns, never 0
	Meta     []byte
	Frame    []byte
}

// Key returns the Kafka key of the record: "<venue>/<conn>" (ADR 0002), appended to dst.
func (r *RawRecord) Key(dst []byte) []byte {
	dst = append(dst, r.Venue...)
	dst = append(dst, '/')
	return append(dst, r.Conn...)
}

// AppendRaw appends the raw envelope encoding of r to dst and returns it.
func AppendRaw(dst []byte, r *RawRecord) []byte {
	dst = append(dst, RawVersion, byte(r.Type), byte(r.Dir))
	dst = appendString(dst, r.Venue)
	dst = appendString(dst, r.Conn)
	dst = binary.AppendUvarint(dst, r.Epoch)
	dst = binary.AppendUvarint(dst, r.Seq)
	dst = binary.AppendVarint(dst, r.RecvTime)
	dst = appendBytes(dst, r.Meta)
	return append(dst, r.Frame...)
}

// DecodeRaw decodes a raw envelope into r. r.Frame and r.Meta alias b (borrowed: copy them
// to keep them past b's lifetime); Venue and Conn are interned.
func (d *Decoder) DecodeRaw(r *RawRecord, b []byte) error {
	rd := reader{b: b}
	v := rd.byte()
	if rd.err == nil && v != RawVersion {
		return fmt.Errorf("%w: raw %d", ErrVersion, v)
	}
	r.Type = RawType(rd.byte())
	r.Dir = Direction(rd.byte())
	venue := rd.bytes()
	conn := rd.bytes()
	r.Epoch = rd.uvarint()
	r.Seq = rd.uvarint()
	r.RecvTime = rd.varint()
	r.Meta = rd.bytes()
	if rd.err != nil {
		return fmt.Errorf("md: decode raw: %w", rd.err)
	}
	r.Venue = d.in.Bytes(venue)
	r.Conn = d.in.Bytes(conn)
	r.Frame = rd.b
	return nil
}
