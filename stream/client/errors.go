package client

import (
	"errors"
	"fmt"
)

// Error codes sent by the gateway in ServerError.Code (docs/streaming.md).
const (
	CodeBadRequest           = "bad_request"
	CodeUnknownChannel       = "unknown_channel"
	CodeTooManySubscriptions = "too_many_subscriptions"
	CodeUnauthorized         = "unauthorized"
	CodeSlowConsumer         = "slow_consumer"
	CodeRateLimited          = "rate_limited"
)

// ServerError is an error frame from the gateway (or its HTTP 401 refusal).
type ServerError struct {
	Code    string // CodeBadRequest, ...
	Message string // human explanation from the gateway
	// Status is the HTTP status when the gateway refused the handshake, else 0.
	Status int
}

// Error describes the refusal with the gateway's code and message.
func (e *ServerError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("gateway refused connection (HTTP %d, %s): %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("gateway error %s: %s", e.Code, e.Message)
}

var (
	// ErrClosed is returned by methods called after Close, and by Next once Close was called.
	ErrClosed = errors.New("client: closed")
	// ErrConnectionLost is returned by a request whose connection dropped before the reply
	// came. With Options.Reconnect the client reconnects; the request may be sent again.
	ErrConnectionLost = errors.New("client: connection lost before the reply")
	// ErrProtocol means the gateway sent something this client cannot understand. It ends
	// the client even with Options.Reconnect.
	ErrProtocol = errors.New("client: protocol error")
	// ErrResubscribe means the gateway refused to restore the subscriptions after a
	// reconnect (its limits changed); it wraps the *ServerError and ends the client.
	ErrResubscribe = errors.New("client: re-subscribe after reconnect refused")
)
