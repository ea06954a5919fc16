package stream

// ErrorCode is the "code" of an error frame. Clients branch on it; the "message" is for
// people. Values are part of the protocol: never rename one.
type ErrorCode string

// Error codes.
const (
	// CodeBadRequest: the request was not valid JSON, had an unknown op, missing or
	// mistyped fields, a malformed channel name, or unsubscribed a channel not held.
	// The connection stays open.
	CodeBadRequest ErrorCode = "bad_request"
	// CodeUnknownChannel: the channel kind is not served by this gateway. The connection
	// stays open.
	CodeUnknownChannel ErrorCode = "unknown_channel"
	// CodeTooManySubscriptions: the request would take the connection over
	// Config.MaxSubscriptions. Nothing in the request was subscribed; the connection stays
	// open.
	CodeTooManySubscriptions ErrorCode = "too_many_subscriptions"
	// CodeUnauthorized: a missing or unknown token. Sent as the body of the HTTP 401 that
	// refuses the upgrade (never as a frame in this version).
	CodeUnauthorized ErrorCode = "unauthorized"
	// CodeSlowConsumer: the client fell more than Config.ClientQueueBytes behind. Sent best
	// effort just before the server closes the connection (close code 1008).
	CodeSlowConsumer ErrorCode = "slow_consumer"
	// CodeRateLimited: the client sent more than Config.MaxMessagesPerSecond requests per
	// second. Sent before the server closes the connection (close code 1008).
	CodeRateLimited ErrorCode = "rate_limited"
)

// errorCodes lists every code, for metric label pre-resolution.
var errorCodes = []ErrorCode{CodeBadRequest, CodeUnknownChannel, CodeTooManySubscriptions,
	CodeUnauthorized, CodeSlowConsumer, CodeRateLimited}

// WebSocket close codes the gateway sends (RFC 6455 section 7.4.1).
const (
	// CloseGoingAway (1001) is sent to every client by Gateway.Close.
	CloseGoingAway = 1001
	// ClosePolicyViolation (1008) follows a slow_consumer or rate_limited error frame.
	ClosePolicyViolation = 1008
	// CloseMessageTooBig (1009) is sent for a request larger than Config.MaxMessageBytes.
	CloseMessageTooBig = 1009
)
