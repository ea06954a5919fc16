// Package rawjson is the JSON-lines form of raw records that `tickflow import` reads
// (docs/import.md): one object per line with the venue, connection, receive time, direction
// and frame text of one raw record, mapping 1:1 onto the raw envelope (ADR 0001). It fills
// the connection epoch and record sequence when a capture does not carry them, the same way
// on every run, so re-importing a file yields the same provenance and event ids.
//
// A Decoder is not goroutine-safe; it keeps per-connection state across lines.
package rawjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tickflow/tickflow/md"
)

// Reasons a line is rejected (LineError.Reason). They label report counts.
const (
	ReasonInvalidJSON   = "invalid_json"
	ReasonMissingField  = "missing_field"
	ReasonBadRecvTime   = "bad_recv_time"
	ReasonBadType       = "bad_type"
	ReasonBadDir        = "bad_dir"
	ReasonBadFrame      = "bad_frame"
	ReasonBadURL        = "bad_url"
	ReasonEpochBackward = "epoch_backwards"
	ReasonSeqBackward   = "seq_not_increasing"
)

// LineError is why a line could not become a raw record.
type LineError struct {
	Reason string // one of the Reason* constants
	Err    error
}

// Error returns "rawjson: <reason>: <detail>".
func (e *LineError) Error() string { return "rawjson: " + e.Reason + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

func lineErr(reason, format string, args ...any) error {
	return &LineError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// ErrSkip is returned for lines that hold no record: blank lines and '#' comments.
var ErrSkip = errors.New("rawjson: not a record line")

// Line is the JSON object of one line. Field meanings are in docs/import.md.
type Line struct {
	Venue string `json:"venue"`
	Conn  string `json:"conn"`
	// Epoch and Seq are optional (0 = derive).
	Epoch uint64 `json:"epoch,omitempty"`
	Seq   uint64 `json:"seq,omitempty"`
	// Type is frame (default), rest, connect, disconnect, subscribe, resync or state.
	Type string `json:"type,omitempty"`
	// Dir is in, out or local (default: in for frame and rest, local for markers).
	Dir string `json:"dir,omitempty"`
	// RecvTime is Unix nanoseconds (a number) or RFC 3339 text.
	RecvTime json.RawMessage `json:"recv_time"`
	// URL and Status describe a REST response (type rest).
	URL    string `json:"url,omitempty"`
	Status int    `json:"status,omitempty"`
	// Meta is the marker text (subscribe: "symbols=BTCUSDT,ETHUSDT").
	Meta string `json:"meta,omitempty"`
	// Frame is the frame text: a JSON string holding it, or a JSON object/array taken
	// verbatim. FrameBase64 holds binary frames instead.
	Frame       json.RawMessage `json:"frame,omitempty"`
	FrameBase64 string          `json:"frame_base64,omitempty"`
}

var rawTypes = map[string]md.RawType{"": md.RawFrame, "frame": md.RawFrame, "rest": md.RawREST,
	"connect": md.RawConnect, "disconnect": md.RawDisconnect, "subscribe": md.RawSubscribe,
	"resync": md.RawResync, "state": md.RawState}

var dirs = map[string]md.Direction{"in": md.DirIn, "out": md.DirOut, "local": md.DirLocal}

type connKey struct{ venue, conn string }

type connState struct {
	epoch, seq uint64
}

// Decoder turns lines into raw records. The zero value is ready to use.
type Decoder struct {
	conns map[connKey]*connState
	line  Line
}

// Decode parses one line into rec. rec's byte fields are freshly allocated (rec owns them);
// Venue and Conn are new strings. It returns ErrSkip for blank and comment lines and a
// *LineError for lines that cannot become a record; a rejected line leaves the
// connection's epoch and sequence state unchanged.
func (d *Decoder) Decode(b []byte, rec *md.RawRecord) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '#' {
		return ErrSkip
	}
	l := &d.line
	*l = Line{}
	if err := json.Unmarshal(b, l); err != nil {
		return lineErr(ReasonInvalidJSON, "%v", err)
	}
	if l.Venue == "" || l.Conn == "" || len(l.RecvTime) == 0 {
		return lineErr(ReasonMissingField, "venue, conn and recv_time are required")
	}
	recv, err := parseTime(l.RecvTime)
	if err != nil {
		return err
	}
	typ, ok := rawTypes[l.Type]
	if !ok {
		return lineErr(ReasonBadType, "type %q: want frame, rest, connect, disconnect, subscribe, resync or state", l.Type)
	}
	dir := md.DirLocal
	if typ == md.RawFrame || typ == md.RawREST {
		dir = md.DirIn
	}
	if l.Dir != "" {
		if dir, ok = dirs[l.Dir]; !ok {
			return lineErr(ReasonBadDir, "dir %q: want in, out or local", l.Dir)
		}
	}
	frame, err := frameBytes(l)
	if err != nil {
		return err
	}
	meta := []byte(l.Meta)
	if typ == md.RawREST {
		if meta, err = restMeta(l); err != nil {
			return err
		}
	}
	if d.conns == nil {
		d.conns = map[connKey]*connState{}
	}
	k := connKey{l.Venue, l.Conn}
	st := d.conns[k]
	next := connState{}
	if st != nil {
		next = *st
	}
	switch {
	case l.Epoch != 0 && l.Epoch < next.epoch:
		return lineErr(ReasonEpochBackward, "epoch %d of conn %s/%s is below its current epoch %d", l.Epoch, l.Venue, l.Conn, next.epoch)
	case l.Epoch != 0 && l.Epoch > next.epoch:
		next = connState{epoch: l.Epoch}
	case l.Epoch == 0 && (next.epoch == 0 || typ == md.RawConnect && next.seq > 0):
		// A new connection: its epoch is its first record's receive time (kept increasing).
		next = connState{epoch: max(uint64(recv), next.epoch+1)}
	}
	switch {
	case l.Seq != 0 && l.Seq <= next.seq:
		return lineErr(ReasonSeqBackward, "seq %d of conn %s/%s epoch %d is not above %d", l.Seq, l.Venue, l.Conn, next.epoch, next.seq)
	case l.Seq != 0:
		next.seq = l.Seq
	default:
		next.seq++
	}
	if st == nil {
		st = &connState{}
		d.conns[k] = st
	}
	*st = next
	*rec = md.RawRecord{Type: typ, Dir: dir, Venue: l.Venue, Conn: l.Conn, Epoch: next.epoch,
		Seq: next.seq, RecvTime: recv, Meta: meta, Frame: frame}
	return nil
}

func parseTime(v json.RawMessage) (int64, error) {
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, lineErr(ReasonBadRecvTime, "recv_time %s: %v", v, err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, lineErr(ReasonBadRecvTime, "recv_time %q: want RFC 3339 (2026-01-02T03:04:05.123456789Z) or Unix ns", s)
		}
		if ns := t.UnixNano(); ns > 0 {
			return ns, nil
		}
		return 0, lineErr(ReasonBadRecvTime, "recv_time %q is not after 1970", s)
	}
	ns, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || ns <= 0 {
		return 0, lineErr(ReasonBadRecvTime, "recv_time %s: want Unix nanoseconds > 0 or RFC 3339 text", v)
	}
	return ns, nil
}

func frameBytes(l *Line) ([]byte, error) {
	if l.FrameBase64 != "" {
		if len(l.Frame) > 0 {
			return nil, lineErr(ReasonBadFrame, "give frame or frame_base64, not both")
		}
		b, err := base64.StdEncoding.DecodeString(l.FrameBase64)
		if err != nil {
			return nil, lineErr(ReasonBadFrame, "frame_base64: %v", err)
		}
		return b, nil
	}
	switch {
	case len(l.Frame) == 0 || string(l.Frame) == "null":
		return nil, nil
	case l.Frame[0] == '"':
		var s string
		if err := json.Unmarshal(l.Frame, &s); err != nil {
			return nil, lineErr(ReasonBadFrame, "frame: %v", err)
		}
		return []byte(s), nil
	case l.Frame[0] == '{' || l.Frame[0] == '[':
		return bytes.Clone(l.Frame), nil
	}
	return nil, lineErr(ReasonBadFrame, "frame must be a string, an object or an array")
}

// restMeta builds the envelope meta of a REST response: "<status> <path>?<query>".
func restMeta(l *Line) ([]byte, error) {
	if l.URL == "" {
		if l.Meta != "" { // already in envelope form
			return []byte(l.Meta), nil
		}
		return nil, lineErr(ReasonMissingField, "a rest line needs url (and status, default 200)")
	}
	u, err := url.Parse(l.URL)
	if err != nil || u.Path == "" || u.Path[0] != '/' {
		return nil, lineErr(ReasonBadURL, "url %q: want https://host/path?query or /path?query", l.URL)
	}
	status := l.Status
	if status == 0 {
		status = 200
	}
	meta := strconv.Itoa(status) + " " + u.EscapedPath()
	if u.RawQuery != "" {
		meta += "?" + u.RawQuery
	}
	return []byte(meta), nil
}

// AppendLine appends rec as one line of the import format (with its epoch and seq, the
// frame as a JSON string, or base64 when it is not valid UTF-8) and a newline.
func AppendLine(dst []byte, rec *md.RawRecord) []byte {
	l := Line{Venue: rec.Venue, Conn: rec.Conn, Epoch: rec.Epoch, Seq: rec.Seq,
		Type: rec.Type.String(), RecvTime: json.RawMessage(strconv.FormatInt(rec.RecvTime, 10))}
	for name, d := range dirs {
		if d == rec.Dir {
			l.Dir = name
		}
	}
	if rec.Type == md.RawREST {
		sp := bytes.IndexByte(rec.Meta, ' ')
		if st, err := strconv.Atoi(string(rec.Meta[:max(sp, 0)])); err == nil && sp > 0 {
			l.Status, l.URL = st, string(rec.Meta[sp+1:])
		} else {
			l.Meta = string(rec.Meta)
		}
	} else {
		l.Meta = string(rec.Meta)
	}
	if len(rec.Frame) > 0 {
		if utf8.Valid(rec.Frame) {
			l.Frame, _ = json.Marshal(string(rec.Frame))
		} else {
			l.FrameBase64 = base64.StdEncoding.EncodeToString(rec.Frame)
		}
	}
	b, _ := json.Marshal(&l)
	dst = append(dst, b...)
	return append(dst, '\n')
}
