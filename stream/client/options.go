package client

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults applied to zero Options fields.
const (
	DefaultMinBackoff       = 100 * time.Millisecond
	DefaultMaxBackoff       = 10 * time.Second
	DefaultBuffer           = 1024
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
)

// Options configures a Client. The zero value connects once, without a token, and does
// not reconnect.
type Options struct {
	// Token is the API token, sent as "Authorization: Bearer <token>".
	Token string
	// Header holds extra HTTP headers for the WebSocket handshake.
	Header http.Header
	// Dialer dials the WebSocket; nil uses a default dialer with DefaultHandshakeTimeout.
	Dialer *websocket.Dialer

	// Reconnect makes the client redial after the connection drops (with exponential
	// backoff and jitter between MinBackoff and MaxBackoff), re-subscribe to every channel
	// it held, and report the reconnect (a TypeReconnected message) and any sequence gaps
	// (TypeGap messages). Without it, Next returns the error that ended the connection.
	Reconnect bool
	// MinBackoff and MaxBackoff bound the wait between reconnect attempts.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxAttempts is how many consecutive failed attempts end the client (0 = never give up).
	MaxAttempts int

	// Buffer is how many messages are buffered between the connection and Next. When it is
	// full the client stops reading the socket, and a client that stays behind is
	// eventually disconnected by the gateway as a slow consumer.
	Buffer int
	// ReadTimeout is the longest silence (no frame, no ping) after which the connection is
	// considered dead. 0 derives it from the gateway's ping interval: 2 x interval + 5s.
	ReadTimeout time.Duration
	// WriteTimeout bounds sending a request when its context has no deadline.
	WriteTimeout time.Duration

	// Logger receives connection events (nil: discard). Nothing is logged per message.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Dialer == nil {
		o.Dialer = &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: DefaultHandshakeTimeout,
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
