package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/transport"
)

// Defaults of [Config]; the zero value of a field means its default.
const (
	DefaultMaxRows          = 50000
	DefaultMaxBytes         = 16 << 20
	DefaultMaxDelay         = 200 * time.Millisecond
	DefaultFlushTimeout     = 10 * time.Second
	DefaultWriteAttempts    = 5
	DefaultRetryBackoff     = 250 * time.Millisecond
	DefaultMaxRetryBackoff  = 10 * time.Second
	maxReasonLogged         = 64 // distinct decode-error reasons logged at most
	decodeErrorDetailMaxLen = 200
)

// Config configures a [Runner]. The zero value means defaults everywhere.
type Config struct {
	// MaxRows cuts a batch at this many messages. Default 50000, or the store's
	// ([BatchSizer]; the same for MaxBytes and MaxDelay).
	MaxRows int
	// MaxBytes cuts a batch when its messages' values reach this many bytes. Default 16 MiB.
	MaxBytes int
	// MaxDelay cuts a batch this long after its first message arrived. Default 200ms.
	MaxDelay time.Duration
	// FlushTimeout bounds the final write when Run's context is cancelled. Default 10s.
	FlushTimeout time.Duration
	// WriteAttempts is how often one batch is tried before Run gives up and returns the
	// error (a Store leaves nothing behind on error, so a retry is safe). Default 5.
	WriteAttempts int
	// RetryBackoff is the pause after the first failed write, doubled after each further
	// failure up to 10s. Default 250ms.
	RetryBackoff time.Duration

	// DeadLetter, if set, receives every message that cannot be decoded, with a reason
	// ("truncated: md: decode trade: ..."). cmd wires it to the dead-letter topic. It is
	// called on the Runner's goroutine and must not block for long; m is owned by the hook.
	DeadLetter func(m transport.Message, reason string)
	// Logger receives the Runner's logs. Default: discard.
	Logger *slog.Logger
	// Registerer registers the Runner's metrics. Default: not registered.
	Registerer prometheus.Registerer
}

// Validate reports invalid settings.
func (c Config) Validate() error {
	var errs []error
	if c.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("sink: max rows %d < 0", c.MaxRows))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("sink: max bytes %d < 0", c.MaxBytes))
	}
	if c.MaxDelay < 0 {
		errs = append(errs, fmt.Errorf("sink: max delay %v < 0", c.MaxDelay))
	}
	if c.FlushTimeout < 0 {
		errs = append(errs, fmt.Errorf("sink: flush timeout %v < 0", c.FlushTimeout))
	}
	if c.WriteAttempts < 0 {
		errs = append(errs, fmt.Errorf("sink: write attempts %d < 0", c.WriteAttempts))
	}
	if c.RetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("sink: retry backoff %v < 0", c.RetryBackoff))
	}
	return errors.Join(errs...)
}

// withStoreLimits fills the batch limits left zero from store's, if it is a [BatchSizer].
func (c Config) withStoreLimits(store Store) Config {
	bs, ok := store.(BatchSizer)
	if !ok {
		return c
	}
	l := bs.BatchLimits()
	if c.MaxRows == 0 {
		c.MaxRows = l.MaxRows
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = l.MaxBytes
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = l.MaxDelay
	}
	return c
}

func (c Config) withDefaults() Config {
	if c.MaxRows == 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = DefaultMaxDelay
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	if c.WriteAttempts == 0 {
		c.WriteAttempts = DefaultWriteAttempts
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
