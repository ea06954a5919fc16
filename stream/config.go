package stream

import (
	"errors"
	"fmt"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultClientQueueBytes     = 4 << 20
	DefaultMaxSubscriptions     = 1000
	DefaultMaxMessagesPerSecond = 50
	DefaultMaxMessageBytes      = 64 << 10
	DefaultPingInterval         = 20 * time.Second
	DefaultPongTimeout          = 10 * time.Second
	DefaultWriteTimeout         = 10 * time.Second
	DefaultCloseGrace           = time.Second
)

// minClientQueueBytes keeps the queue larger than any single frame the gateway sends.
const minClientQueueBytes = 64 << 10

// Config configures a Gateway. The zero value is a working open gateway with the defaults
// above; cmd loads it from YAML and calls Validate before New.
type Config struct {
	// Tokens are the API tokens accepted. Empty means no authentication. A client presents
	// one as "Authorization: Bearer <token>" or as the query parameter ?token=<token>.
	Tokens []string `yaml:"tokens"`
	// AllowedOrigins lists the Origin header values accepted from browsers ("*" = any).
	// Empty accepts requests without an Origin header and same-host origins only.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxClients caps concurrent connections; more get HTTP 503. 0 means no cap.
	MaxClients int `yaml:"max_clients"`
	// ClientQueueBytes bounds the bytes queued for one client and not yet written to its
	// socket. A client that overflows it is a slow consumer and is disconnected.
	ClientQueueBytes int `yaml:"client_queue_bytes"`
	// MaxSubscriptions is the most channels (names or patterns) one connection may hold.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// MaxMessagesPerSecond limits requests from one client (burst: one second's worth).
	// A client over it gets a rate_limited error and is disconnected.
	MaxMessagesPerSecond int `yaml:"max_messages_per_second"`
	// MaxMessageBytes is the largest request frame accepted; larger closes with 1009.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// PingInterval is how often the server pings each client.
	PingInterval time.Duration `yaml:"ping_interval"`
	// PongTimeout is how long after a ping the client has to answer before it is
	// disconnected. It must be shorter than PingInterval.
	PongTimeout time.Duration `yaml:"pong_timeout"`
	// WriteTimeout bounds one socket write; a client that cannot take bytes for that long
	// is disconnected.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// CloseGrace is how long the server waits for a client's close reply after sending a
	// close frame before it drops the TCP connection.
	CloseGrace time.Duration `yaml:"close_grace"`
}

// Validate reports nonsensical settings. Zero values are valid (they mean the default).
func (c *Config) Validate() error {
	var errs []error
	neg := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("stream: %s must not be negative, got %d", name, v))
		}
	}
	neg("max_clients", int64(c.MaxClients))
	neg("client_queue_bytes", int64(c.ClientQueueBytes))
	neg("max_subscriptions", int64(c.MaxSubscriptions))
	neg("max_messages_per_second", int64(c.MaxMessagesPerSecond))
	neg("max_message_bytes", int64(c.MaxMessageBytes))
	neg("ping_interval", int64(c.PingInterval))
	neg("pong_timeout", int64(c.PongTimeout))
	neg("write_timeout", int64(c.WriteTimeout))
	neg("close_grace", int64(c.CloseGrace))
	if c.ClientQueueBytes > 0 && c.ClientQueueBytes < minClientQueueBytes {
		errs = append(errs, fmt.Errorf("stream: client_queue_bytes must be at least %d, got %d",
			minClientQueueBytes, c.ClientQueueBytes))
	}
	d := c.withDefaults()
	if d.PongTimeout >= d.PingInterval {
		errs = append(errs, fmt.Errorf("stream: pong_timeout (%s) must be shorter than ping_interval (%s)",
			d.PongTimeout, d.PingInterval))
	}
	for i, t := range c.Tokens {
		if t == "" {
			errs = append(errs, fmt.Errorf("stream: tokens[%d] is empty", i))
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero (and invalid negative) fields replaced by defaults.
func (c Config) withDefaults() Config {
	if c.ClientQueueBytes <= 0 {
		c.ClientQueueBytes = DefaultClientQueueBytes
	}
	if c.ClientQueueBytes < minClientQueueBytes {
		c.ClientQueueBytes = minClientQueueBytes
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.MaxMessagesPerSecond <= 0 {
		c.MaxMessagesPerSecond = DefaultMaxMessagesPerSecond
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.PongTimeout >= c.PingInterval {
		c.PongTimeout = c.PingInterval / 2
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = DefaultCloseGrace
	}
	if c.MaxClients < 0 {
		c.MaxClients = 0
	}
	return c
}
