package binancesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// This file implements the live request protocol of web-socket-streams.md:
// SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY
// and the documented error messages. Requests are rate limited to a few per
// second, so encoding/json is fine here.

// Error codes of the stream request protocol.
const (
	wsErrUnknownProperty = 0
	wsErrValueType       = 1
	wsErrInvalidRequest  = 2
	wsErrInvalidJSON     = 3
)

// streamRef is a parsed stream name.
type streamRef struct {
	sym  *symbolState // nil for an unknown symbol or a market-wide stream
	kind int          // served kind, or -1 if the simulator publishes nothing for it
}

// parseStream validates a stream name such as "btcusdt@trade". Any
// syntactically valid Binance stream is accepted, as Binance does, but
// only the kinds of kindSuffix (trade, depth, depth@100ms, bookTicker,
// depth5/10/20 with optional @100ms) of a listed symbol carry data. Symbols must be
// lower case: an upper-case name is rejected rather than silently
// delivering nothing, so collector bugs surface.
func (s *Server) parseStream(name string) (streamRef, error) {
	ref := streamRef{kind: -1}
	if name == "" || len(name) > 200 {
		return ref, fmt.Errorf("invalid stream name `%s`", name)
	}
	if name[0] == '!' { // market-wide streams: !miniTicker@arr, !bookTicker, ...
		if !validStreamChars(name[1:]) {
			return ref, fmt.Errorf("invalid stream name `%s`", name)
		}
		return ref, nil
	}
	at := bytes.IndexByte([]byte(name), '@')
	if at <= 0 || at == len(name)-1 || !validStreamChars(name[at+1:]) {
		return ref, fmt.Errorf("invalid stream name `%s`", name)
	}
	sym := name[:at]
	for i := 0; i < len(sym); i++ {
		c := sym[i]
		if c >= 'A' && c <= 'Z' {
			return ref, fmt.Errorf("invalid stream name `%s`: symbols in stream names must be lowercase", name)
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return ref, fmt.Errorf("invalid stream name `%s`", name)
		}
	}
	ref.sym = s.byLower[sym]
	if ref.sym != nil {
		suffix := name[at+1:]
		for k, sfx := range kindSuffix {
			if suffix == sfx {
				ref.kind = k
				break
			}
		}
	}
	return ref, nil
}

func validStreamChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '@' || c == ':' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// subscribe adds streams to c; it returns an error message or "". Once
// the request is known to be valid, and before any new stream can deliver
// an event, it calls onValid (if non-nil): the reply is queued ahead of
// the first event of the new streams.
func (s *Server) subscribe(c *wsConn, names []string, onValid func()) string {
	refs := make([]streamRef, len(names))
	for i, n := range names {
		ref, err := s.parseStream(n)
		if err != nil {
			return "Invalid request: " + err.Error()
		}
		refs[i] = ref
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	fresh := 0
	seen := make(map[string]struct{}, len(names))
	for _, n := range names {
		if _, ok := c.streamSet[n]; !ok {
			if _, dup := seen[n]; !dup {
				seen[n] = struct{}{}
				fresh++
			}
		}
	}
	if len(c.streams)+fresh > MaxStreamsPerConn {
		return fmt.Sprintf("Invalid request: too many streams: at most %d per connection", MaxStreamsPerConn)
	}
	if onValid != nil {
		onValid()
	}
	for i, n := range names {
		if _, ok := c.streamSet[n]; ok {
			continue
		}
		c.streamSet[n] = struct{}{}
		c.streams = append(c.streams, n)
		if ref := refs[i]; ref.sym != nil && ref.kind >= 0 {
			c.subFlag(ref.kind, ref.sym.index).Store(true) // before the list: no frame is filtered
			s.addSubLocked(ref, c)
		}
	}
	return ""
}

// unsubscribe removes streams from c; unknown or absent names are ignored.
func (s *Server) unsubscribe(c *wsConn, names []string) string {
	for _, n := range names {
		if _, err := s.parseStream(n); err != nil {
			return "Invalid request: " + err.Error()
		}
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, n := range names {
		s.unsubscribeLocked(c, n)
	}
	return ""
}

func (s *Server) unsubscribeAll(c *wsConn) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, n := range append([]string(nil), c.streams...) {
		s.unsubscribeLocked(c, n)
	}
}

func (s *Server) unsubscribeLocked(c *wsConn, name string) {
	if _, ok := c.streamSet[name]; !ok {
		return
	}
	delete(c.streamSet, name)
	for i, n := range c.streams {
		if n == name {
			c.streams = append(c.streams[:i], c.streams[i+1:]...)
			break
		}
	}
	if ref, err := s.parseStream(name); err == nil && ref.sym != nil && ref.kind >= 0 {
		s.removeSubLocked(ref, c)
		c.subFlag(ref.kind, ref.sym.index).Store(false)
	}
}

// addSubLocked publishes a new copy of the subscriber list with c added.
func (s *Server) addSubLocked(ref streamRef, c *wsConn) {
	p := &ref.sym.subs[ref.kind]
	var next []*wsConn
	if old := p.Load(); old != nil {
		next = make([]*wsConn, len(*old), len(*old)+1)
		copy(next, *old)
	}
	next = append(next, c)
	p.Store(&next)
}

// removeSubLocked publishes a new copy of the subscriber list without c.
func (s *Server) removeSubLocked(ref streamRef, c *wsConn) {
	p := &ref.sym.subs[ref.kind]
	old := p.Load()
	if old == nil {
		return
	}
	next := make([]*wsConn, 0, len(*old))
	for _, x := range *old {
		if x != c {
			next = append(next, x)
		}
	}
	p.Store(&next)
}

// wsRequest is a decoded method frame.
type wsRequest struct {
	method    string
	methodEnd int64 // input offset just after the method value
	hasMethod bool
	params    json.RawMessage
	id        json.RawMessage // validated; "null" when null
}

var methodList = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"

// handleRequest answers one inbound text message and returns the reply.
func (s *Server) handleRequest(c *wsConn, msg []byte) []byte {
	req, errReply := decodeRequest(msg)
	if errReply != nil {
		return errReply
	}
	id := req.id
	if !req.hasMethod {
		line, col := lineCol(msg, int64(len(msg)))
		return wsError(wsErrInvalidRequest, fmt.Sprintf("Invalid request: missing field `method` at line %d column %d", line, col), id)
	}
	switch req.method {
	case "SUBSCRIBE", "UNSUBSCRIBE":
		names, e := stringParams(req.params, msg)
		if e != "" {
			return wsError(wsErrInvalidRequest, e, id)
		}
		ok := wsResult([]byte("null"), id)
		if req.method == "UNSUBSCRIBE" {
			// The writer filters events of removed streams, so none
			// follows the reply.
			if m := s.unsubscribe(c, names); m != "" {
				return wsError(wsErrInvalidRequest, m, id)
			}
			return ok
		}
		if m := s.subscribe(c, names, func() { c.enqueue(outFrame{b: ok, kind: frameText}) }); m != "" {
			return wsError(wsErrInvalidRequest, m, id)
		}
		return nil // already queued
	case "LIST_SUBSCRIPTIONS":
		if len(req.params) > 0 && !bytes.Equal(req.params, []byte("[]")) && !bytes.Equal(req.params, []byte("null")) {
			return wsError(wsErrInvalidRequest, "Invalid request: too many parameters", id)
		}
		s.subMu.Lock()
		list := append(make([]string, 0, len(c.streams)), c.streams...)
		s.subMu.Unlock()
		b, _ := json.Marshal(list)
		return wsResult(b, id)
	case "SET_PROPERTY", "GET_PROPERTY":
		return s.handleProperty(c, req, id)
	default:
		line, col := lineCol(msg, req.methodEnd)
		return wsError(wsErrInvalidRequest, fmt.Sprintf(
			"Invalid request: unknown variant `%s`, expected one of %s at line %d column %d",
			req.method, methodList, line, col), id)
	}
}

func (s *Server) handleProperty(c *wsConn, req wsRequest, id json.RawMessage) []byte {
	var params []json.RawMessage
	if err := json.Unmarshal(req.params, &params); err != nil || params == nil {
		return wsError(wsErrInvalidRequest, "Invalid request: property name must be a string", id)
	}
	want := 1
	if req.method == "SET_PROPERTY" {
		want = 2
	}
	if len(params) > want {
		return wsError(wsErrInvalidRequest, "Invalid request: too many parameters", id)
	}
	var name string
	if len(params) == 0 || json.Unmarshal(params[0], &name) != nil {
		return wsError(wsErrInvalidRequest, "Invalid request: property name must be a string", id)
	}
	if name != "combined" {
		return wsError(wsErrUnknownProperty, "Unknown property", id)
	}
	if req.method == "GET_PROPERTY" {
		return wsResult(strconv.AppendBool(nil, c.combined.Load()), id)
	}
	var v bool
	if len(params) < 2 || json.Unmarshal(params[1], &v) != nil || bytes.Equal(params[1], []byte("null")) {
		return wsError(wsErrValueType, "Invalid value type: expected Boolean", id)
	}
	c.combined.Store(v)
	return wsResult([]byte("null"), id)
}

// decodeRequest decodes and validates the envelope; on failure it returns
// the error reply.
func decodeRequest(msg []byte) (wsRequest, []byte) {
	var req wsRequest
	null := json.RawMessage("null")
	if !json.Valid(msg) {
		var off int64 = int64(len(msg))
		var v any
		var se *json.SyntaxError
		if err := json.Unmarshal(msg, &v); errors.As(err, &se) {
			off = se.Offset
		}
		line, col := lineCol(msg, off)
		return req, wsError(wsErrInvalidJSON, fmt.Sprintf("Invalid JSON: expected value at line %d column %d", line, col), null)
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return req, wsError(wsErrInvalidRequest, "Invalid request: expected a JSON object", null)
	}
	var rawID json.RawMessage
	hasID := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, wsError(wsErrInvalidRequest, "Invalid request: malformed object", null)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return req, wsError(wsErrInvalidRequest, "Invalid request: malformed object", null)
		}
		switch key {
		case "method":
			var m string
			if json.Unmarshal(raw, &m) != nil {
				return req, wsError(wsErrInvalidRequest, "Invalid request: method must be a string", null)
			}
			req.method, req.hasMethod, req.methodEnd = m, true, dec.InputOffset()
		case "params":
			req.params = raw
		case "id":
			rawID, hasID = raw, true
		}
	}
	if !hasID || !validID(rawID) {
		return req, wsError(wsErrInvalidRequest, "Invalid request: request ID must be an unsigned integer", null)
	}
	req.id = rawID
	return req, nil
}

// validID accepts what the docs list: a 64-bit signed integer, an
// alphanumeric string of at most 36 characters, or null.
func validID(raw json.RawMessage) bool {
	if bytes.Equal(raw, []byte("null")) {
		return true
	}
	if len(raw) > 0 && raw[0] == '"' {
		var str string
		if json.Unmarshal(raw, &str) != nil || len(str) > 36 {
			return false
		}
		for i := 0; i < len(str); i++ {
			c := str[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
		return true
	}
	_, err := strconv.ParseInt(string(raw), 10, 64)
	return err == nil
}

// stringParams decodes SUBSCRIBE/UNSUBSCRIBE params.
func stringParams(raw json.RawMessage, msg []byte) ([]string, string) {
	if raw == nil {
		line, col := lineCol(msg, int64(len(msg)))
		return nil, fmt.Sprintf("Invalid request: missing field `params` at line %d column %d", line, col)
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil || names == nil {
		return nil, "Invalid request: params must be an array of stream names"
	}
	return names, ""
}

func wsResult(result []byte, id json.RawMessage) []byte {
	b := append([]byte(`{"result":`), result...)
	b = append(b, `,"id":`...)
	b = append(b, id...)
	return append(b, '}')
}

func wsError(code int, msg string, id json.RawMessage) []byte {
	m, _ := json.Marshal(msg)
	b := append([]byte(`{"error":{"code":`), strconv.Itoa(code)...)
	b = append(b, `,"msg":`...)
	b = append(b, m...)
	b = append(b, `},"id":`...)
	b = append(b, id...)
	return append(b, '}')
}

// lineCol converts a byte offset into 1-based line and column.
func lineCol(msg []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(msg)))
	line = 1 + bytes.Count(msg[:off], []byte("\n"))
	last := bytes.LastIndexByte(msg[:off], '\n')
	return line, int(off) - last - 1
}
