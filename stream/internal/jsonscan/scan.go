// Package jsonscan is a small, allocation-free pull scanner for JSON documents, shared by the
// gateway (client requests) and the Go client SDK (server frames).
//
// It validates what it reads: a document the Scanner accepts is valid JSON (RFC 8259), with
// nesting limited to MaxDepth. Strings are unescaped; the returned bytes alias the input or
// the Scanner's scratch buffer and stay valid until the next Reset. A Scanner is not
// goroutine-safe.
//
// Usage:
//
//	s.Reset(data)
//	if s.ObjectStart() {
//		for key, ok := s.NextKey(); ok; key, ok = s.NextKey() {
//			switch string(key) {
//			case "op":
//				op = s.Str()
//			default:
//				s.Skip()
//			}
//		}
//	}
//	err := s.Finish()
package jsonscan

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Skip accepts.
const MaxDepth = 64

// SyntaxError reports where a document stopped being valid JSON.
type SyntaxError struct {
	Offset int    // byte offset of the problem
	Msg    string // what was wrong
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// ErrType is wrapped by errors for values of the wrong JSON type (a string where a number
// was expected). The document may still be valid JSON.
var ErrType = errors.New("wrong JSON type")

// Scanner reads one JSON document. The zero value is ready after Reset.
type Scanner struct {
	data    []byte
	pos     int
	err     error
	first   bool // the next NextKey/NextElem is the first of its container
	scratch []byte
}

// Reset starts scanning data. Bytes returned earlier become invalid.
func (s *Scanner) Reset(data []byte) {
	s.data = data
	s.pos = 0
	s.err = nil
	s.first = false
	s.scratch = s.scratch[:0]
}

// Err returns the first error met, or nil.
func (s *Scanner) Err() error { return s.err }

// Finish checks that only whitespace follows the value read and returns the first error.
func (s *Scanner) Finish() error {
	if s.err != nil {
		return s.err
	}
	s.ws()
	if s.pos < len(s.data) {
		s.fail("unexpected data after the JSON value")
	}
	return s.err
}

func (s *Scanner) fail(msg string) {
	if s.err == nil {
		s.err = &SyntaxError{Offset: s.pos, Msg: msg}
	}
}

// typeErr records a type error at the current position; the value is skipped so scanning
// can go on and later fields (such as a request id) can still be read.
func (s *Scanner) typeErr(want string) {
	got := s.Peek()
	s.Skip()
	if s.err == nil {
		s.err = fmt.Errorf("%w: want %s, got %s", ErrType, want, kindName(got))
	}
}

func kindName(c byte) string {
	switch {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	}
	return "nothing"
}

func (s *Scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Peek returns the first byte of the next value (after whitespace), or 0 at the end.
func (s *Scanner) Peek() byte {
	s.ws()
	if s.err != nil || s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// ObjectStart consumes '{'. It reports false (and records an error) if the next value is
// not an object.
func (s *Scanner) ObjectStart() bool {
	if s.Peek() != '{' {
		if s.err == nil && s.pos >= len(s.data) {
			s.fail("unexpected end of input, want an object")
			return false
		}
		s.typeErr("object")
		return false
	}
	s.pos++
	s.first = true
	return true
}

// NextKey returns the next key of the object being read and consumes the ':' after it; the
// caller must then read or Skip the value. It reports false at the closing '}' or on error.
func (s *Scanner) NextKey() ([]byte, bool) {
	if s.err != nil {
		return nil, false
	}
	s.ws()
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input inside an object")
		return nil, false
	}
	c := s.data[s.pos]
	if c == '}' {
		s.pos++
		s.first = false
		return nil, false
	}
	if !s.first {
		if c != ',' {
			s.fail("want ',' or '}' after an object member")
			return nil, false
		}
		s.pos++
		s.ws()
	}
	s.first = false
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		s.fail("want a string key")
		return nil, false
	}
	key := s.str()
	s.ws()
	if s.err != nil {
		return nil, false
	}
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		s.fail("want ':' after an object key")
		return nil, false
	}
	s.pos++
	return key, true
}

// ArrayStart consumes '['. It reports false (and records an error) if the next value is not
// an array.
func (s *Scanner) ArrayStart() bool {
	if s.Peek() != '[' {
		if s.err == nil && s.pos >= len(s.data) {
			s.fail("unexpected end of input, want an array")
			return false
		}
		s.typeErr("array")
		return false
	}
	s.pos++
	s.first = true
	return true
}

// NextElem reports whether the array being read has another element; the caller must then
// read or Skip it. It reports false at the closing ']' or on error.
func (s *Scanner) NextElem() bool {
	if s.err != nil {
		return false
	}
	s.ws()
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input inside an array")
		return false
	}
	c := s.data[s.pos]
	if c == ']' {
		s.pos++
		s.first = false
		return false
	}
	if !s.first {
		if c != ',' {
			s.fail("want ',' or ']' after an array element")
			return false
		}
		s.pos++
	}
	s.first = false
	return true
}

// Str reads a string value and returns it unescaped. The bytes alias the input or the
// scratch buffer: valid until the next Reset, not to be modified.
func (s *Scanner) Str() []byte {
	if s.Peek() != '"' {
		if s.err == nil && s.pos >= len(s.data) {
			s.fail("unexpected end of input, want a string")
			return nil
		}
		s.typeErr("string")
		return nil
	}
	return s.str()
}

// IsNull consumes a null and reports true if the next value is null.
func (s *Scanner) IsNull() bool {
	if s.Peek() == 'n' {
		s.literal("null")
		return s.err == nil
	}
	return false
}

// str reads a string starting at the opening quote.
func (s *Scanner) str() []byte {
	s.pos++ // opening quote
	start := s.pos
	for i := s.pos; i < len(s.data); i++ {
		c := s.data[i]
		if c == '"' {
			s.pos = i + 1
			return s.data[start:i:i]
		}
		if c == '\\' {
			return s.strSlow(start, i)
		}
		if c < 0x20 {
			s.pos = i
			s.fail("control character in string")
			return nil
		}
	}
	s.pos = len(s.data)
	s.fail("unterminated string")
	return nil
}

// strSlow unescapes into scratch, starting with the plain bytes data[start:i].
func (s *Scanner) strSlow(start, i int) []byte {
	off := len(s.scratch)
	s.scratch = append(s.scratch, s.data[start:i]...)
	for i < len(s.data) {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.scratch[off:len(s.scratch):len(s.scratch)]
		case c < 0x20:
			s.pos = i
			s.fail("control character in string")
			return nil
		case c != '\\':
			s.scratch = append(s.scratch, c)
			i++
			continue
		}
		if i+1 >= len(s.data) {
			break
		}
		e := s.data[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			s.scratch = append(s.scratch, e)
		case 'b':
			s.scratch = append(s.scratch, '\b')
		case 'f':
			s.scratch = append(s.scratch, '\f')
		case 'n':
			s.scratch = append(s.scratch, '\n')
		case 'r':
			s.scratch = append(s.scratch, '\r')
		case 't':
			s.scratch = append(s.scratch, '\t')
		case 'u':
			r, ok := hex4(s.data, i)
			if !ok {
				s.pos = i
				s.fail("bad \\u escape")
				return nil
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+6 <= len(s.data) && s.data[i] == '\\' && s.data[i+1] == 'u' {
					r2, ok2 = hex4(s.data, i+2)
				}
				if ok2 {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			s.scratch = utf8.AppendRune(s.scratch, r)
		default:
			s.pos = i - 1
			s.fail("bad escape in string")
			return nil
		}
	}
	s.pos = len(s.data)
	s.fail("unterminated string")
	return nil
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number scans a JSON number and returns its text and whether it is an integer (no
// fraction, no exponent).
func (s *Scanner) number() ([]byte, bool) {
	start := s.pos
	b := s.data
	i := s.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		s.fail("bad number")
		return nil, false
	}
	integer := true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.pos = i
			s.fail("bad number fraction")
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.pos = i
			s.fail("bad number exponent")
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return b[start:i], integer
}

// Num reads a number and returns its text (aliasing the input) and whether it is an
// integer (no fraction, no exponent). A non-number is a type error.
func (s *Scanner) Num() ([]byte, bool) {
	c := s.Peek()
	if c != '-' && (c < '0' || c > '9') {
		if s.err == nil && s.pos >= len(s.data) {
			s.fail("unexpected end of input, want a number")
			return nil, false
		}
		s.typeErr("number")
		return nil, false
	}
	return s.number()
}

// Int reads an integer that fits int64. A fraction, an exponent or overflow is an error.
func (s *Scanner) Int() int64 {
	c := s.Peek()
	if c != '-' && (c < '0' || c > '9') {
		if s.err == nil && s.pos >= len(s.data) {
			s.fail("unexpected end of input, want a number")
			return 0
		}
		s.typeErr("integer")
		return 0
	}
	txt, integer := s.number()
	if s.err != nil {
		return 0
	}
	if !integer {
		s.err = fmt.Errorf("%w: want an integer, got %s", ErrType, txt)
		return 0
	}
	v, err := strconv.ParseInt(unsafeString(txt), 10, 64)
	if err != nil {
		s.err = fmt.Errorf("%w: integer %s out of range", ErrType, txt)
		return 0
	}
	return v
}

// Uint reads a non-negative integer that fits uint64.
func (s *Scanner) Uint() uint64 {
	c := s.Peek()
	if c < '0' || c > '9' {
		if s.err == nil && s.pos >= len(s.data) {
			s.fail("unexpected end of input, want a number")
			return 0
		}
		s.typeErr("non-negative integer")
		return 0
	}
	txt, integer := s.number()
	if s.err != nil {
		return 0
	}
	if !integer {
		s.err = fmt.Errorf("%w: want an integer, got %s", ErrType, txt)
		return 0
	}
	v, err := strconv.ParseUint(unsafeString(txt), 10, 64)
	if err != nil {
		s.err = fmt.Errorf("%w: integer %s out of range", ErrType, txt)
		return 0
	}
	return v
}

// Bool reads true or false.
func (s *Scanner) Bool() bool {
	switch s.Peek() {
	case 't':
		s.literal("true")
		return s.err == nil
	case 'f':
		s.literal("false")
		return false
	}
	if s.err == nil && s.pos >= len(s.data) {
		s.fail("unexpected end of input, want a boolean")
		return false
	}
	s.typeErr("boolean")
	return false
}

func (s *Scanner) literal(lit string) {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		s.fail("bad literal")
		return
	}
	s.pos += len(lit)
}

// Skip reads and discards one value of any type, validating it.
func (s *Scanner) Skip() { s.skip(0) }

func (s *Scanner) skip(depth int) {
	c := s.Peek()
	if s.err != nil {
		return
	}
	switch {
	case c == '"':
		s.str()
	case c == '{':
		if depth >= MaxDepth {
			s.fail("nesting too deep")
			return
		}
		s.pos++
		s.first = true
		for _, ok := s.NextKey(); ok; _, ok = s.NextKey() {
			s.skip(depth + 1)
		}
	case c == '[':
		if depth >= MaxDepth {
			s.fail("nesting too deep")
			return
		}
		s.pos++
		s.first = true
		for s.NextElem() {
			s.skip(depth + 1)
		}
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		s.number()
	case c == 0 && s.pos >= len(s.data):
		s.fail("unexpected end of input, want a value")
	default:
		s.fail("unexpected character " + strconv.QuoteRune(rune(c)))
	}
}
