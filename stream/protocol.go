package stream

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/tickflow/tickflow/stream/internal/jsonscan"
)

// op is a client request operation.
type op uint8

const (
	opNone op = iota
	opSubscribe
	opUnsubscribe
	opPing
	opList
)

var opNames = [...]string{"", "subscribe", "unsubscribe", "ping", "list"}

const opHelp = "use one of subscribe, unsubscribe, ping, list"

const requestExample = `{"op":"subscribe","channels":["trades:binance:BTC-USDT"],"id":1}`

// request is a parsed client request. Channels are canonical and deduplicated, in the
// order given.
type request struct {
	op       op
	id       int64
	hasID    bool
	channels []Channel
}

// requestError is a request the gateway refuses; it becomes an error frame.
type requestError struct {
	code ErrorCode
	msg  string
}

// Error implements error.
func (e *requestError) Error() string { return string(e.code) + ": " + e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{code: CodeBadRequest, msg: fmt.Sprintf(format, args...)}
}

// parseRequest parses one client text frame. It never panics. On error the returned
// request still carries the id when it could be read, so the error frame can echo it.
// maxChannels bounds the channels accepted in one request. s is reused between calls.
func parseRequest(s *jsonscan.Scanner, data []byte, maxChannels int) (request, *requestError) {
	var (
		req      request
		opText   []byte
		hasOp    bool
		rawChans [][]byte
		hasChans bool
		fieldErr *requestError
	)
	s.Reset(data)
	if s.Peek() != '{' {
		s.Skip()
		if err := s.Finish(); err != nil {
			return req, badRequest("request is not valid JSON (%v); send one JSON object per text frame, e.g. %s", err, requestExample)
		}
		return req, badRequest("a request must be a JSON object, e.g. %s", requestExample)
	}
	s.ObjectStart()
	for key, ok := s.NextKey(); ok; key, ok = s.NextKey() {
		switch string(key) {
		case "op":
			if s.Peek() != '"' {
				s.Skip()
				fieldErr = firstReqErr(fieldErr, badRequest(`"op" must be a string; %s`, opHelp))
				continue
			}
			opText, hasOp = s.Str(), true
		case "id":
			req.hasID = false
			c := s.Peek()
			if c != '-' && (c < '0' || c > '9') {
				s.Skip()
				fieldErr = firstReqErr(fieldErr, badRequest(`"id" must be an integer, got %s`, jsonKindName(c)))
				continue
			}
			txt, integer := s.Num()
			v, err := strconv.ParseInt(string(txt), 10, 64)
			if s.Err() == nil && (!integer || err != nil) {
				fieldErr = firstReqErr(fieldErr, badRequest(`"id" must be an integer that fits 64 bits, got %s`, txt))
				continue
			}
			req.id, req.hasID = v, s.Err() == nil
		case "channels":
			hasChans = true
			rawChans = rawChans[:0]
			if s.Peek() != '[' {
				s.Skip()
				fieldErr = firstReqErr(fieldErr, badRequest(`"channels" must be an array of channel names like ["trades:binance:BTC-USDT"]`))
				continue
			}
			s.ArrayStart()
			for s.NextElem() {
				if s.Peek() != '"' {
					s.Skip()
					fieldErr = firstReqErr(fieldErr, badRequest(`"channels" must hold only strings like "trades:binance:BTC-USDT"`))
					continue
				}
				rawChans = append(rawChans, s.Str())
			}
		default:
			s.Skip() // unknown fields are ignored: later versions add fields
		}
	}
	if err := s.Finish(); err != nil {
		req.hasID = false // the id may belong to a broken document; do not echo it
		return req, badRequest("request is not valid JSON (%v); send one JSON object per text frame, e.g. %s", err, requestExample)
	}
	if fieldErr != nil {
		return req, fieldErr
	}
	if !hasOp {
		return req, badRequest(`missing "op"; %s`, opHelp)
	}
	for i, n := range opNames {
		if i > 0 && n == string(opText) {
			req.op = op(i)
		}
	}
	switch req.op {
	case opNone:
		return req, badRequest("unknown op %q; %s", opText, opHelp)
	case opPing, opList:
		return req, nil
	}
	if !hasChans || len(rawChans) == 0 {
		return req, badRequest(`%s needs "channels": a non-empty array of channel names, e.g. %s`, opText, requestExample)
	}
	if len(rawChans) > maxChannels {
		return req, &requestError{code: CodeTooManySubscriptions, msg: fmt.Sprintf(
			"%d channels in one request, over the limit of %d per connection; use wildcards such as trades:binance:* or split across connections",
			len(rawChans), maxChannels)}
	}
	req.channels = make([]Channel, 0, len(rawChans))
	for _, raw := range rawChans {
		ch, err := ParseChannel(string(raw))
		if err != nil {
			code := CodeBadRequest
			if errors.Is(err, ErrUnknownKind) {
				code = CodeUnknownChannel
			}
			return req, &requestError{code: code, msg: err.Error()}
		}
		dup := false
		for _, c := range req.channels {
			if c == ch {
				dup = true
				break
			}
		}
		if !dup {
			req.channels = append(req.channels, ch)
		}
	}
	return req, nil
}

func firstReqErr(a, b *requestError) *requestError {
	if a != nil {
		return a
	}
	return b
}

func jsonKindName(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "nothing"
}
