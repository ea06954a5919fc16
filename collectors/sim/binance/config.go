package binancesim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults applied by New to zero-valued Config fields. They are the values
// Binance documents for stream.binance.com and api.binance.com.
const (
	DefaultAddr            = "127.0.0.1:0"
	DefaultSymbols         = 8
	DefaultTradeRate       = 200.0
	DefaultHistoryLimit    = 200_000
	DefaultPingInterval    = 20 * time.Second
	DefaultPongTimeout     = 60 * time.Second
	DefaultConnLifetime    = 24 * time.Hour
	DefaultInboundLimit    = 5
	DefaultWeightPerMinute = 6000
	DefaultSendQueue       = 1 << 16
	DefaultBanDuration     = 2 * time.Minute
	DefaultWriteTimeout    = 10 * time.Second

	// MaxSymbols bounds Config.Symbols; synthetic names are SYM%04dUSDT.
	MaxSymbols = 9999
	// MaxStreamsPerConn is Binance's limit of streams on one connection.
	MaxStreamsPerConn = 1024
)

// Config configures a Server. The zero value of every field means "use the
// default" (see the Default* constants); New fills defaults and validates.
type Config struct {
	// Addr is the TCP listen address, default "127.0.0.1:0".
	Addr string
	// Seed makes generation deterministic: the same Seed (and Symbols) gives
	// the same instruments, trade ids, prices, sizes and sides.
	// Timestamps are wall-clock.
	Seed int64
	// Symbols is the number of instruments, default 8, at least 2.
	Symbols int
	// TradeRate is the total number of trades per second across all
	// symbols, default 200.
	TradeRate float64
	// Paused delays trade generation until StartTrading is called (tests subscribe first).
	Paused bool
	// MaxTrades stops generation after this many trades in total; 0 means
	// unlimited.
	MaxTrades int64
	// HistoryLimit is the number of trades kept per symbol for the REST
	// endpoints, default 200000.
	HistoryLimit int
	// TradeLog, if non-nil, receives one line per generated trade,
	// "<SYMBOL> <tradeId>\n". It is buffered and flushed when generation
	// ends (MaxTrades, StopTrading or Close). It is written from one
	// goroutine only.
	TradeLog io.Writer
	// BookLog, if non-nil, receives the exchange's order-book truth: for
	// every diff depth update batch (per symbol, every 100 ms interval with
	// changes, whether or not anyone subscribed and whatever the faults)
	// one line "<SYMBOL> <u> <hash>\n", hash being HashTopN of the top
	// BookHashDepth levels per side after applying every update up to u,
	// as 16 lower-case hex digits. The 1000 ms depth events end on the same
	// u values. Written by the generation goroutine through a buffer that
	// is flushed every second and when generation ends.
	BookLog io.Writer
	// BookHashDepth is the number of levels per side BookLog hashes,
	// default 20 (DefaultBookHashDepth), at most 5000. Keep it within the
	// snapshot depth (the REST limit) clients use.
	BookHashDepth int
	// PingInterval is how often the server sends a WebSocket ping, default 20s.
	PingInterval time.Duration
	// PongTimeout closes a connection whose oldest unanswered ping is older
	// than this, default 60s.
	PongTimeout time.Duration
	// ConnLifetime closes every WebSocket connection after this long,
	// default 24h.
	ConnLifetime time.Duration
	// InboundLimit is the number of incoming messages (text, ping and pong
	// frames) allowed per second per connection, default 5. One more within
	// any one-second window closes the connection.
	InboundLimit int
	// WeightPerMinute is the REST request-weight budget per minute per IP,
	// default 6000.
	WeightPerMinute int
	// SendQueue is the number of frames a connection may have queued
	// before it is closed as a slow consumer, default 65536.
	SendQueue int
	// BanDuration is the length of the first IP ban (HTTP 418); each
	// repeat doubles it up to 3 days, as Binance documents. Default 2m.
	BanDuration time.Duration
	// ConnectLimit is the number of WebSocket connection attempts allowed
	// per 5 minutes per IP (Binance: 300); 0 means unlimited. Over the
	// limit the handshake is answered with HTTP 429.
	ConnectLimit int
	// Faults injects transport faults on outgoing WebSocket frames.
	Faults Faults
	// Logger receives lifecycle logs (never per message); nil discards.
	Logger *slog.Logger
}

// Faults configures fault injection. The zero value injects nothing.
// Probabilities apply independently to each outgoing market-data frame on
// each connection; replies to SUBSCRIBE and friends, pings and close frames
// are never faulted. DropRate and DuplicateRate apply to trade frames, the
// Depth* rates to order-book frames (diff depth, partial depth,
// bookTicker) and MalformedRate, DisconnectEvery and StaleEvery to both.
// Faults never affect the exchange's truth: the REST history, the order
// books, REST depth snapshots, the TradeLog and the BookLog are untouched.
type Faults struct {
	// DisconnectEvery abruptly ends each WebSocket connection after roughly
	// this long (uniformly jittered in [0.5x, 1.5x]); 0 = never.
	DisconnectEvery time.Duration
	// CleanCloseRatio is the fraction of those disconnects done with a
	// close frame 1000 instead of a TCP reset.
	CleanCloseRatio float64
	// DropRate is the probability that a frame is never sent on that
	// connection, so the client sees a trade-id gap.
	DropRate float64
	// DuplicateRate is the probability that a frame is sent twice.
	DuplicateRate float64
	// MalformedRate is the probability that a frame is replaced by a
	// truncated one that is not valid JSON, so its trade is missing too.
	MalformedRate float64
	// StaleEvery makes each connection go silent after roughly this long
	// (jittered like DisconnectEvery): it stays open but sends nothing more,
	// not even pings; 0 = never.
	StaleEvery time.Duration

	// DepthGapRate is the probability that a diff depth event is skipped
	// on a connection: the next one shows U > previous u + 1.
	DepthGapRate float64
	// DepthDropRate is the probability that any order-book frame (diff
	// depth, partial depth, bookTicker) is lost. A lost diff depth event
	// shows as a gap too; it is counted apart from DepthGapRate.
	DepthDropRate float64
	// DepthDuplicateRate is the probability that an order-book frame is
	// sent twice in a row (a diff depth duplicate repeats U and u).
	DepthDuplicateRate float64
	// DepthReorderRate is the probability that a diff depth event is held
	// back and sent right after the next event of the same stream, so the
	// two arrive swapped.
	DepthReorderRate float64
	// SnapshotDelay makes GET /api/v3/depth lag, like a replica behind
	// the matching engine: every answer is sent SnapshotDelay after the
	// request and holds a per-symbol snapshot taken up to 2*SnapshotDelay
	// before the request (refreshed by the first request after that). A
	// client may then get lastUpdateId < U of the first event it buffered
	// and must fetch again. 0 = live snapshots, answered at once.
	SnapshotDelay time.Duration
}

// ErrInvalidConfig is wrapped by every validation error from Validate and New.
var ErrInvalidConfig = errors.New("binancesim: invalid config")

// withDefaults returns c with zero fields replaced by defaults.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Symbols == 0 {
		c.Symbols = DefaultSymbols
	}
	if c.TradeRate == 0 {
		c.TradeRate = DefaultTradeRate
	}
	if c.HistoryLimit == 0 {
		c.HistoryLimit = DefaultHistoryLimit
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.ConnLifetime == 0 {
		c.ConnLifetime = DefaultConnLifetime
	}
	if c.InboundLimit == 0 {
		c.InboundLimit = DefaultInboundLimit
	}
	if c.WeightPerMinute == 0 {
		c.WeightPerMinute = DefaultWeightPerMinute
	}
	if c.SendQueue == 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.BanDuration == 0 {
		c.BanDuration = DefaultBanDuration
	}
	if c.BookHashDepth == 0 {
		c.BookHashDepth = DefaultBookHashDepth
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether c, after defaults are applied, is usable.
// The error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Symbols < 2 || c.Symbols > MaxSymbols {
		bad("symbols %d out of range [2, %d]", c.Symbols, MaxSymbols)
	}
	if c.TradeRate < 0 || c.TradeRate > 1e7 {
		bad("trade rate %g out of range (0, 1e7]", c.TradeRate)
	}
	if c.MaxTrades < 0 {
		bad("max trades %d is negative", c.MaxTrades)
	}
	if c.HistoryLimit < 1000 {
		bad("history limit %d below 1000 (one REST page)", c.HistoryLimit)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ping interval", c.PingInterval},
		{"pong timeout", c.PongTimeout},
		{"conn lifetime", c.ConnLifetime},
		{"ban duration", c.BanDuration},
		{"faults disconnect every", c.Faults.DisconnectEvery},
		{"faults stale every", c.Faults.StaleEvery},
		{"faults snapshot delay", c.Faults.SnapshotDelay},
	} {
		if d.v < 0 {
			bad("%s %v is negative", d.name, d.v)
		}
	}
	if c.InboundLimit < 1 {
		bad("inbound limit %d below 1", c.InboundLimit)
	}
	if c.WeightPerMinute < 1 {
		bad("weight per minute %d below 1", c.WeightPerMinute)
	}
	if c.SendQueue < 16 {
		bad("send queue %d below 16", c.SendQueue)
	}
	if c.ConnectLimit < 0 {
		bad("connect limit %d is negative", c.ConnectLimit)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{
		{"clean close ratio", c.Faults.CleanCloseRatio},
		{"drop rate", c.Faults.DropRate},
		{"duplicate rate", c.Faults.DuplicateRate},
		{"malformed rate", c.Faults.MalformedRate},
		{"depth gap rate", c.Faults.DepthGapRate},
		{"depth drop rate", c.Faults.DepthDropRate},
		{"depth duplicate rate", c.Faults.DepthDuplicateRate},
		{"depth reorder rate", c.Faults.DepthReorderRate},
	} {
		if !(p.v >= 0 && p.v <= 1) {
			bad("faults %s %g out of range [0, 1]", p.name, p.v)
		}
	}
	if s := c.Faults.DropRate + c.Faults.DuplicateRate + c.Faults.MalformedRate; s > 1 {
		bad("faults drop+duplicate+malformed rates sum to %g > 1", s)
	}
	f := c.Faults
	if s := f.DepthGapRate + f.DepthDropRate + f.DepthDuplicateRate + f.DepthReorderRate + f.MalformedRate; s > 1 {
		bad("faults depth gap+drop+duplicate+reorder+malformed rates sum to %g > 1", s)
	}
	if c.BookHashDepth < 1 || c.BookHashDepth > maxBookLevels {
		bad("book hash depth %d out of range [1, %d]", c.BookHashDepth, maxBookLevels)
	}
	return errors.Join(errs...)
}
