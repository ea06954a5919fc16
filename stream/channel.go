package stream

import (
	"errors"
	"fmt"
	"strconv"
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
	KindBook      ChannelKind = 3 // "book": L2 book snapshots, deltas and status (md.BookUpdate, md.BookStatus)
	KindBBO       ChannelKind = 4 // "bbo": best bid and offer (md.BBO), conflated per client
	numKinds                  = 5
)

var kindNames = [numKinds]string{"", "trades", "integrity", "book", "bbo"}

// String returns the channel-name form of the kind ("trades").
func (k ChannelKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// plannedKinds are channel kinds reserved for later versions. Subscribing to one is an
// unknown_channel error that says it is not served yet, rather than "no such kind".
var plannedKinds = []string{"candles", "funding", "open_interest", "liquidations"}

// Wildcard matches every venue or every symbol in a channel pattern.
const Wildcard = "*"

// Limits on channel name parts.
const (
	maxVenueLen  = 32
	maxSymbolLen = 64
)

// Book depth option of book channels (book:<venue>:<symbol>@<depth>): the number of levels
// per side the channel carries.
const (
	// DefaultBookDepth is the depth of a book channel named without the @<depth> option.
	DefaultBookDepth = 50
	// MaxBookDepth is the largest depth a book channel may ask for.
	MaxBookDepth = 1000
)

// Channel is a parsed channel name or pattern, <kind>:<venue>:<symbol>[@<depth>], where
// venue and symbol may be Wildcard. Venue is lower case and Symbol upper case (the
// canonical form). Channel is comparable and is used as a map key.
type Channel struct {
	Kind   ChannelKind
	Venue  string
	Symbol string
	// Depth is the @<depth> option of a book channel, 1..MaxBookDepth, or 0 when the name
	// has none (the channel then carries DefaultBookDepth levels). Channels that differ only
	// in Depth are different channels: book:binance:BTC-USDT and book:binance:BTC-USDT@50
	// carry the same levels under different names. Always 0 for other kinds.
	Depth uint16
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

// depthHelp is appended to book depth option errors.
const depthHelp = "; a book depth is written book:<venue>:<symbol>@<depth> with depth 1..1000 " +
	"without leading zeros, e.g. book:binance:BTC-USDT@20 (no @ means 50 levels)"

// ParseChannel parses a channel name or pattern and returns it in canonical form (venue
// lower-cased, symbol upper-cased). Errors wrap ErrChannelSyntax or ErrUnknownKind and say
// how to fix the name.
//
// Grammar (docs/streaming.md):
//
//	channel = kind ":" venue ":" symbol [ "@" depth ]
//	kind    = "trades" | "integrity" | "book" | "bbo"   (more kinds come in later versions)
//	venue   = "*" | 1*32 ( a-z / 0-9 / "_" / "-" )      (upper case accepted, lower-cased)
//	symbol  = "*" | 1*64 ( A-Z / 0-9 / "-" / "_" / "." ) (lower case accepted, upper-cased)
//	depth   = 1..1000 in decimal, no leading zeros      (book channels only)
//
// The characters "?" and "#" are reserved for channel options in later versions and are
// rejected now, as is "@" on channels other than book.
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
	if strings.ContainsAny(s, "?#") {
		return c, fmt.Errorf("%w %q: channel options with ? or # are not supported yet%s",
			ErrChannelSyntax, s, channelHelp)
	}
	symbol, opt, hasOpt := strings.Cut(symbol, "@")
	if strings.ContainsRune(k, '@') || strings.ContainsRune(venue, '@') {
		return c, fmt.Errorf("%w %q: an @ option goes at the end of the name%s", ErrChannelSyntax, s, depthHelp)
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
	if hasOpt {
		if c.Kind != KindBook {
			return c, fmt.Errorf("%w %q: only book channels take an @ option (the book depth)%s",
				ErrChannelSyntax, s, channelHelp)
		}
		if c.Depth, err = parseDepth(s, opt); err != nil {
			return c, err
		}
	}
	return c, nil
}

// parseDepth parses the @<depth> option of a book channel.
func parseDepth(s, opt string) (uint16, error) {
	if opt == "" || len(opt) > 4 || opt[0] == '0' {
		return 0, fmt.Errorf("%w %q: bad book depth %q%s", ErrChannelSyntax, s, opt, depthHelp)
	}
	n := 0
	for i := 0; i < len(opt); i++ {
		c := opt[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w %q: bad book depth %q%s", ErrChannelSyntax, s, opt, depthHelp)
		}
		n = n*10 + int(c-'0')
	}
	if n > MaxBookDepth {
		return 0, fmt.Errorf("%w %q: book depth %d is over the limit of %d%s", ErrChannelSyntax, s, n, MaxBookDepth, depthHelp)
	}
	return uint16(n), nil
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
	if k == "book_status" {
		return fmt.Errorf("%w %q in %q: book_status frames travel on book channels; subscribe to book:<venue>:<symbol>",
			ErrUnknownKind, k, s)
	}
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

// String returns the canonical channel name ("trades:binance:BTC-USDT",
// "book:binance:BTC-USDT@20").
func (c Channel) String() string {
	s := c.Kind.String() + ":" + c.Venue + ":" + c.Symbol
	if c.Depth != 0 {
		s += "@" + strconv.Itoa(int(c.Depth))
	}
	return s
}

// BookDepth returns the number of levels per side a book channel carries: Depth, or
// DefaultBookDepth when the name has no @<depth> option.
func (c Channel) BookDepth() int {
	if c.Depth == 0 {
		return DefaultBookDepth
	}
	return int(c.Depth)
}

// IsPattern reports whether the venue or the symbol is a wildcard.
func (c Channel) IsPattern() bool { return c.Venue == Wildcard || c.Symbol == Wildcard }

// Matches reports whether the pattern c covers the concrete channel (kind, venue, symbol),
// whatever c's depth option.
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
