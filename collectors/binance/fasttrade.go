package binance

// A fast path for the frames that dominate Binance's volume: trade and bookTicker events. The
// general parser (fastjson) builds a value tree for every frame; scanEvent instead reads the
// flat event object in one pass without allocating. It recognizes a strict subset of JSON —
// the shape Binance sends — and reports ok=false for anything else (escapes, nesting,
// duplicate or mistyped fields, other events, trailing bytes), which then takes the general
// path. On every input it accepts, it yields what the general path yields; FuzzScanTrade and
// FuzzScanBookTicker check that.

// eventKind is what scanEvent recognized.
type eventKind uint8

const (
	eventTrade eventKind = iota + 1
	eventBookTicker
)

// flatEvent is a scanned trade or bookTicker event.
type flatEvent struct {
	kind eventKind
	tradeFields
	// bookTicker ("u", "b", "B", "a", "A"); in a trade frame "b" and "a" may be numbers
	// (older order-id fields) and are ignored.
	updateID                 uint64
	bid, bidQty, ask, askQty []byte
	bookStrings              uint8 // bits: b, B, a, A seen as strings
	updateIDOK               bool
}

// tradeFields are the fields of a trade event the parser and the session read.
type tradeFields struct {
	sym, price, qty []byte
	id              uint64
	tradeTime       int64 // "T", ms (0 when absent)
	eventTime       int64 // "E", ms (0 when absent)
	buyerMaker      bool  // "m"
}

// scanTrade reads a trade event, raw ({"e":"trade",...}) or combined
// ({"stream":"...","data":{"e":"trade",...}}).
func scanTrade(b []byte) (tradeFields, bool) {
	ev, ok := scanEvent(b)
	if !ok || ev.kind != eventTrade {
		return tradeFields{}, false
	}
	return ev.tradeFields, true
}

// scanEvent reads a trade or bookTicker event, raw or combined.
func scanEvent(b []byte) (f flatEvent, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return f, false
	}
	j := skipWS(b, i+1)
	combined := false
	if hasKeyAt(b, j, "stream") {
		// {"stream":"<name>","data":{...}}
		k, ok := readKey(b, j)
		if !ok {
			return f, false
		}
		if _, k, ok = readString(b, k); !ok {
			return f, false
		}
		k = skipWS(b, k)
		if k >= len(b) || b[k] != ',' {
			return f, false
		}
		k = skipWS(b, k+1)
		if !hasKeyAt(b, k, "data") {
			return f, false
		}
		if k, ok = readKey(b, k); !ok {
			return f, false
		}
		i, combined = k, true
	}
	end, ok := scanEventObject(b, i, &f)
	if !ok {
		return f, false
	}
	if combined {
		end = skipWS(b, end)
		if end >= len(b) || b[end] != '}' {
			return f, false
		}
		end++
	}
	return f, skipWS(b, end) == len(b)
}

// scanEventObject scans the flat object at b[i] ('{' expected) into f and returns the
// index after its '}'.
func scanEventObject(b []byte, i int, f *flatEvent) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	var seen uint16
	const (
		seenE = 1 << iota
		seenS
		seenT
		seenP
		seenQ
		seenTT
		seenEE
		seenM
		seenU
		seenB
		seenBQ
		seenA
		seenAQ
	)
	once := func(bit uint16) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, false // empty object: not a trade
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		key, k, ok := readString(b, i)
		if !ok {
			return 0, false
		}
		k = skipWS(b, k)
		if k >= len(b) || b[k] != ':' {
			return 0, false
		}
		k = skipWS(b, k+1)
		if k >= len(b) {
			return 0, false
		}
		switch string(key) {
		case "data", "id", "result", "error": // the general path reads these as payload or replies
			return 0, false
		case "e":
			var v []byte
			if v, k, ok = readString(b, k); !ok || string(v) != "trade" || !once(seenE) {
				return 0, false
			}
		case "u":
			if !once(seenU) {
				return 0, false
			}
			if b[k] >= '0' && b[k] <= '9' {
				if n, k2, isInt := readInt(b, k, false); isInt {
					f.updateID, f.updateIDOK, k = uint64(n), true, k2
					break
				}
			}
			if k, ok = skipScalar(b, k); !ok {
				return 0, false
			}
		case "b", "B", "a", "A":
			bit, dst, strBit := uint16(seenB), &f.bid, uint8(1)
			switch key[0] {
			case 'B':
				bit, dst, strBit = seenBQ, &f.bidQty, 2
			case 'a':
				bit, dst, strBit = seenA, &f.ask, 4
			case 'A':
				bit, dst, strBit = seenAQ, &f.askQty, 8
			}
			if !once(bit) {
				return 0, false
			}
			if b[k] == '"' {
				if *dst, k, ok = readString(b, k); !ok {
					return 0, false
				}
				f.bookStrings |= strBit
			} else if k, ok = skipScalar(b, k); !ok {
				return 0, false
			}
		case "s":
			if f.sym, k, ok = readString(b, k); !ok || !once(seenS) {
				return 0, false
			}
		case "p":
			if f.price, k, ok = readString(b, k); !ok || !once(seenP) {
				return 0, false
			}
		case "q":
			if f.qty, k, ok = readString(b, k); !ok || !once(seenQ) {
				return 0, false
			}
		case "t":
			var n int64
			if n, k, ok = readInt(b, k, false); !ok || !once(seenT) {
				return 0, false
			}
			f.id = uint64(n)
		case "T":
			if f.tradeTime, k, ok = readInt(b, k, true); !ok || !once(seenTT) {
				return 0, false
			}
		case "E":
			if f.eventTime, k, ok = readInt(b, k, true); !ok || !once(seenEE) {
				return 0, false
			}
		case "m":
			if f.buyerMaker, k, ok = readBool(b, k); !ok || !once(seenM) {
				return 0, false
			}
		default:
			if k, ok = skipScalar(b, k); !ok {
				return 0, false
			}
		}
		k = skipWS(b, k)
		if k >= len(b) {
			return 0, false
		}
		switch b[k] {
		case ',':
			i = skipWS(b, k+1)
		case '}':
			if seen&seenE != 0 {
				const required = seenE | seenS | seenT | seenP | seenQ
				f.kind = eventTrade
				return k + 1, seen&required == required
			}
			// No event type: a bookTicker (the general path's test: "u", "b" and "A" exist).
			const required = seenS | seenU | seenB | seenBQ | seenA | seenAQ
			f.kind = eventBookTicker
			return k + 1, seen&required == required && f.updateIDOK && f.bookStrings == 15
		default:
			return 0, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// hasKeyAt reports whether b[i:] starts with the quoted key.
func hasKeyAt(b []byte, i int, key string) bool {
	return i+len(key)+2 <= len(b) && b[i] == '"' && string(b[i+1:i+1+len(key)]) == key && b[i+1+len(key)] == '"'
}

// readKey reads `"key"` and the ':' after it and returns the index of the value.
func readKey(b []byte, i int) (int, bool) {
	_, k, ok := readString(b, i)
	if !ok {
		return 0, false
	}
	k = skipWS(b, k)
	if k >= len(b) || b[k] != ':' {
		return 0, false
	}
	return skipWS(b, k+1), true
}

// readString reads a string without escapes or control characters at b[i] ('"').
func readString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// readInt reads an integer of at most 18 digits (no sign unless signed, no fraction or
// exponent, no leading zeros), so it cannot overflow.
func readInt(b []byte, i int, signed bool) (int64, int, bool) {
	neg := false
	if signed && i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || (digits > 1 && b[start] == '0') || (neg && n == 0) {
		return 0, 0, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, 0, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}

func readBool(b []byte, i int) (bool, int, bool) {
	switch {
	case len(b)-i >= 4 && string(b[i:i+4]) == "true":
		return true, i + 4, true
	case len(b)-i >= 5 && string(b[i:i+5]) == "false":
		return false, i + 5, true
	}
	return false, 0, false
}

// skipScalar skips a string, strictly valid number, true, false or null.
func skipScalar(b []byte, i int) (int, bool) {
	switch c := b[i]; {
	case c == '"':
		_, k, ok := readString(b, i)
		return k, ok
	case c == 't' || c == 'f':
		_, k, ok := readBool(b, i)
		return k, ok
	case c == 'n':
		if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
			return i + 4, true
		}
		return 0, false
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	}
	return 0, false // objects, arrays and anything else
}

// skipNumber skips a number by JSON's grammar.
func skipNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
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
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	return i, true
}
