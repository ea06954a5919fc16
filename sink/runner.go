package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// Runner consumes unified-event messages from a [Source], decodes them, batches them by
// count, bytes and time, and writes each batch to a [Store] together with the offsets it
// consumed. It runs on the goroutine that calls Run; nothing else may use it meanwhile.
type Runner struct {
	src   Source
	store Store
	cfg   Config
	log   *slog.Logger
	m     *metrics
	dec   *md.Decoder
	kinds kindSet // the kinds store stores; others are dead-lettered

	batch    Batch
	msgs     int       // messages in batch (events + dead-lettered)
	bytes    int       // value bytes in batch
	started  time.Time // arrival of the batch's first message
	logged   map[string]struct{}
	sleepFor func(ctx context.Context, d time.Duration) error
}

// NewRunner returns a Runner reading from src and writing to store. The caller sets src's
// start offsets from store.Offsets before. It does no I/O and starts no goroutines; it
// registers the metrics with cfg.Registerer and fails if that fails.
func NewRunner(src Source, store Store, cfg Config) (*Runner, error) {
	if src == nil || store == nil {
		return nil, errors.New("sink: new runner: nil source or store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withStoreLimits(store).withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("sink: register metrics: %w", err)
	}
	return &Runner{
		src:      src,
		store:    store,
		cfg:      cfg,
		log:      cfg.Logger,
		m:        m,
		dec:      md.NewDecoder(),
		kinds:    storedKinds(store),
		logged:   make(map[string]struct{}),
		sleepFor: sleepCtx,
	}, nil
}

// Run consumes and writes until ctx is cancelled, then writes the batch in flight (bounded by
// Config.FlushTimeout) and returns nil. It returns an error when the source fails or a batch
// cannot be written after Config.WriteAttempts tries; the batch in flight is written first
// when the source failed. Messages that cannot be decoded never stop it: they are counted,
// logged once per reason and handed to Config.DeadLetter.
func (r *Runner) Run(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return r.flushFinal(ctx)
		}
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if r.msgs > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, r.started.Add(r.cfg.MaxDelay))
		}
		msgs, err := r.src.Poll(pollCtx, r.cfg.MaxRows-r.msgs)
		cancel()
		for i := range msgs {
			r.add(&msgs[i])
			if r.full() {
				if werr := r.flush(ctx); werr != nil {
					return r.abort(ctx, werr)
				}
			}
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return r.flushFinal(ctx)
		case errors.Is(err, context.DeadlineExceeded) && pollCtx.Err() != nil:
			// The batch's MaxDelay passed while polling: flushed below.
		default:
			if werr := r.flushFinal(ctx); werr != nil {
				return errors.Join(fmt.Errorf("sink: poll: %w", err), werr)
			}
			return fmt.Errorf("sink: poll: %w", err)
		}
		if r.msgs > 0 && !time.Now().Before(r.started.Add(r.cfg.MaxDelay)) {
			if werr := r.flush(ctx); werr != nil {
				return r.abort(ctx, werr)
			}
		}
	}
}

// abort handles a failed flush inside Run: when ctx was cancelled meanwhile (which may be
// why the write failed) it still makes the final flush; otherwise it returns the error.
func (r *Runner) abort(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return r.flushFinal(ctx)
	}
	return err
}

// flushFinal writes the batch in flight with a fresh deadline, ignoring ctx's cancellation.
func (r *Runner) flushFinal(ctx context.Context) error {
	if r.msgs == 0 {
		return nil
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FlushTimeout)
	defer cancel()
	if err := r.flush(fctx); err != nil {
		return fmt.Errorf("sink: final flush: %w", err)
	}
	return nil
}

func (r *Runner) full() bool {
	return r.msgs >= r.cfg.MaxRows || r.bytes >= r.cfg.MaxBytes
}

// add decodes one message into the batch, or hands it to the dead-letter hook.
func (r *Runner) add(msg *transport.Message) {
	if r.msgs == 0 {
		r.started = time.Now()
	}
	r.msgs++
	r.bytes += len(msg.Value)
	r.batch.Advance(msg.Topic, msg.Partition, msg.Offset)
	reason, err := decodeInto(r.dec, &r.batch, r.kinds, msg.Value)
	if err == nil {
		return
	}
	r.m.decodeErrors[reason].Inc()
	if _, ok := r.logged[reason]; !ok && len(r.logged) < maxReasonLogged {
		r.logged[reason] = struct{}{}
		r.log.Warn("undecodable message sent to dead letter (logged once per reason)",
			"reason", reason, "topic", msg.Topic, "partition", msg.Partition,
			"offset", msg.Offset, "err", err)
	}
	if r.cfg.DeadLetter != nil {
		detail := err.Error()
		if len(detail) > decodeErrorDetailMaxLen {
			detail = detail[:decodeErrorDetailMaxLen]
		}
		r.cfg.DeadLetter(*msg, reason+": "+detail)
	}
}

// flush writes the batch, retrying failed writes with backoff. On success the batch is reset.
func (r *Runner) flush(ctx context.Context) error {
	rows := r.batch.Len()
	backoff := r.cfg.RetryBackoff
	var res WriteResult
	var err error
	for attempt := 1; ; attempt++ {
		if err := CheckGuard(ctx); err != nil { // a fenced writer never writes (ADR 0009)
			return fmt.Errorf("sink: write batch of %d events: %w", rows, err)
		}
		start := time.Now()
		res, err = r.store.Write(ctx, &r.batch)
		if err == nil {
			r.m.writeSeconds.Observe(time.Since(start).Seconds())
			break
		}
		r.m.writeErrors.Inc()
		if errors.Is(err, ErrFenced) {
			return fmt.Errorf("sink: write batch of %d events: %w", rows, err)
		}
		r.log.Error("store write failed", "attempt", attempt, "rows", rows, "err", err)
		if attempt >= r.cfg.WriteAttempts || ctx.Err() != nil {
			return fmt.Errorf("sink: write batch of %d events (attempt %d): %w", rows, attempt, err)
		}
		if serr := r.sleepFor(ctx, backoff); serr != nil {
			return fmt.Errorf("sink: write batch of %d events (attempt %d): %w", rows, attempt,
				errors.Join(err, serr))
		}
		backoff = min(2*backoff, DefaultMaxRetryBackoff)
	}
	now := time.Now()
	r.m.batchRows.Observe(float64(r.msgs))
	r.m.messages.Add(float64(r.msgs))
	r.m.lastWrite.Set(float64(now.UnixNano()) / 1e9)
	ns := now.UnixNano()
	observe(&r.m.trades, res.Written.Trades, res.Duplicates.Trades, ns, r.batch.Trades,
		func(t *md.Trade) int64 { return t.RecvTime })
	observe(&r.m.integrity, res.Written.Integrity, res.Duplicates.Integrity, ns,
		r.batch.Integrity, func(e *md.Integrity) int64 { return e.RecvTime })
	observe(&r.m.books, res.Written.Books, res.Duplicates.Books, ns, r.batch.Books,
		func(u *md.BookUpdate) int64 { return u.RecvTime })
	observe(&r.m.bookStatus, res.Written.BookStatus, res.Duplicates.BookStatus, ns,
		r.batch.BookStatus, func(st *md.BookStatus) int64 { return st.RecvTime })
	observe(&r.m.bbo, res.Written.BBOs, res.Duplicates.BBOs, ns, r.batch.BBOs,
		func(q *md.BBO) int64 { return q.RecvTime })
	r.m.levels.Add(float64(res.Levels))
	r.batch.Reset()
	r.msgs, r.bytes = 0, 0
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
