package stream

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tickflow/tickflow/md"
)

// ChannelKind is the first part of a channel name: which stream of events it carries.
type ChannelKind uint8

// Channel kinds served by this version of the gateway. Values are internal (not on the wire:
// the wire carries the names).
const (
	KindTrades    ChannelKind = 1 // "trades": md.Trade
	KindIntegrity ChannelKind = 2 // "integrity": md.Integrity
	numKinds                  = 3
)

var kindNames = [numKinds]string{"", "trades", "integrity"}

// String returns the channel-name form of the kind ("trades").
func (k ChannelKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// plannedKinds are channel kinds reserved for later versions. Subscribing to one is an
// unknown_channel error that says it is not served yet, rather than "no such kind".
var plannedKinds = []string{"book", "bbo", "candles", "funding", "open_interest",
	"liquidations", "book_status"}

// Wildcard matches every venue or every symbol in a channel pattern.
const Wildcard = "*"

// Limits on channel name parts.
const (
	maxVenueLen  = 32
	maxSymbolLen = 64
)

// Channel is a parsed channel name or pattern, <kind>:<venue>:<symbol>, where venue and
// symbol may be Wildcard. Venue is lower case and Symbol upper case (the canonical form).
// Channel is comparable and is used as a map key.
type Channel struct {
	Kind   ChannelKind
	Venue  string
	Symbol string
}

// Channel parse errors; ParseChannel wraps one of them with a message saying what was wrong.
var (
	// ErrChannelSyntax means the name is not <kind>:<venue>:<symbol>.
	ErrChannelSyntax = errors.New("malformed channel")
	// ErrUnknownKind means the kind is not served by this gateway.
	ErrUnknownKind = errors.New("unknown channel kind")
)

// channelHelp is appended to syntax errors so the reader knows how to fix them.
const channelHelp = "; want <kind>:<venue>:<symbol> such as trades:binance:BTC-USDT, " +
	"with * for all venues or all symbols (trades:*:BTC-USDT, trades:binance:*)"

// ParseChannel parses a channel name or pattern and returns it in canonical form (venue
// lower-cased, symbol upper-cased). Errors wrap ErrChannelSyntax or ErrUnknownKind and say
// how to fix the name.
//
// Grammar (docs/streaming.md):
//
//	channel = kind ":" venue ":" symbol
//	kind    = "trades" | "integrity"          (more kinds come in later versions)
//	venue   = "*" | 1*32 ( a-z / 0-9 / "_" / "-" )      (upper case accepted, lower-cased)
//	symbol  = "*" | 1*64 ( A-Z / 0-9 / "-" / "_" / "." ) (lower case accepted, upper-cased)
//
// The characters "@", "?" and "#" are reserved for channel options in later versions
// (for example a book depth) and are rejected now.
func ParseChannel(s string) (Channel, error) {
	var c Channel
	k, rest, ok := strings.Cut(s, ":")
	if !ok {
		return c, fmt.Errorf("%w %q: no ':' separators%s", ErrChannelSyntax, s, channelHelp)
	}
	venue, symbol, ok := strings.Cut(rest, ":")
	if !ok {
		return c, fmt.Errorf("%w %q: only two parts%s", ErrChannelSyntax, s, channelHelp)
	}
	if strings.Contains(symbol, ":") {
		return c, fmt.Errorf("%w %q: more than three parts%s", ErrChannelSyntax, s, channelHelp)
	}
	if strings.ContainsAny(s, "@?#") {
		return c, fmt.Errorf("%w %q: channel options (@, ?, #) are not supported yet%s",
			ErrChannelSyntax, s, channelHelp)
	}
	c.Kind = kindByName(k)
	if c.Kind == 0 {
		return c, unknownKindError(s, k)
	}
	var err error
	if c.Venue, err = canonPart(s, "venue", venue, maxVenueLen, false); err != nil {
		return c, err
	}
	if c.Symbol, err = canonPart(s, "symbol", symbol, maxSymbolLen, true); err != nil {
		return c, err
	}
	return c, nil
}

func kindByName(k string) ChannelKind {
	for i, n := range kindNames {
		if n != "" && n == k {
			return ChannelKind(i)
		}
	}
	return 0
}

func unknownKindError(s, k string) error {
	avail := strings.Join(kindNames[1:], ", ")
	for _, p := range plannedKinds {
		if p == k {
			return fmt.Errorf("%w %q in %q: %q channels are not served by this gateway version yet; available kinds: %s",
				ErrUnknownKind, k, s, k, avail)
		}
	}
	if lk := strings.ToLower(k); lk != k && kindByName(lk) != 0 {
		return fmt.Errorf("%w %q in %q: kinds are lower case, use %q", ErrUnknownKind, k, s, lk)
	}
	return fmt.Errorf("%w %q in %q: available kinds: %s", ErrUnknownKind, k, s, avail)
}

// canonPart validates a venue or symbol and returns it in canonical case. It allocates
// only when the case changes.
func canonPart(s, what, p string, max int, upper bool) (string, error) {
	if p == Wildcard {
		return Wildcard, nil
	}
	if p == "" {
		return "", fmt.Errorf("%w %q: empty %s%s", ErrChannelSyntax, s, what, channelHelp)
	}
	if len(p) > max {
		return "", fmt.Errorf("%w %q: %s longer than %d characters", ErrChannelSyntax, s, what, max)
	}
	change := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.' && upper:
		case c >= 'a' && c <= 'z':
			change = change || upper
		case c >= 'A' && c <= 'Z':
			change = change || !upper
		case c == '*':
			return "", fmt.Errorf("%w %q: %s %q: * must stand alone (prefix patterns such as BTC-* are not supported)",
				ErrChannelSyntax, s, what, p)
		default:
			allowed := "letters, digits, '-' and '_'"
			if upper {
				allowed = "letters, digits, '-', '_' and '.'"
			}
			return "", fmt.Errorf("%w %q: %s %q has character %q; allowed are %s",
				ErrChannelSyntax, s, what, p, c, allowed)
		}
	}
	if !change {
		return p, nil
	}
	if upper {
		return strings.ToUpper(p), nil
	}
	return strings.ToLower(p), nil
}

// String returns the canonical channel name ("trades:binance:BTC-USDT").
func (c Channel) String() string {
	return c.Kind.String() + ":" + c.Venue + ":" + c.Symbol
}

// IsPattern reports whether the venue or the symbol is a wildcard.
func (c Channel) IsPattern() bool { return c.Venue == Wildcard || c.Symbol == Wildcard }

// Matches reports whether the pattern c covers the concrete channel (kind, venue, symbol).
func (c Channel) Matches(kind ChannelKind, venue, symbol string) bool {
	return c.Kind == kind &&
		(c.Venue == Wildcard || c.Venue == venue) &&
		(c.Symbol == Wildcard || c.Symbol == symbol)
}

// streamKindName maps the md kind an integrity event concerns to the channel kind name
// clients subscribe to ("trades" for md.KindTrade); kinds without a channel yet keep md's
// name.
func streamKindName(k md.Kind) string {
	switch k {
	case md.KindTrade:
		return "trades"
	case md.KindBookUpdate:
		return "book"
	case md.KindBBO:
		return "bbo"
	case md.KindCandle:
		return "candles"
	case md.KindLiquidation:
		return "liquidations"
	}
	return k.String()
}
