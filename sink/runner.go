package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// Runner consumes unified-event messages from a [Source], decodes them, batches them by
// count, bytes and time, and writes each batch to a [Store] together with the offsets it
// consumed. It runs on the goroutine that calls Run; nothing else may use it meanwhile.
//
// One batch is written while the next is decoded: a full batch goes to a write goroutine
// and the Runner fills a second one, waiting for the write before handing that one over.
// Writes stay one at a time and in order, and once a write has failed no later batch is
// written before it (its offsets would skip the failed batch's messages).
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

	// The batch handed to the write goroutine: written is non-nil while the write runs and
	// receives its result; prev keeps the batch until it is written (also after a failure).
	prev     Batch
	prevMsgs int
	written  chan error
	failed   error                   // prev's write failed with this; prev is unwritten
	stopPoll context.CancelCauseFunc // ends the current Run's polls when a write fails
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

// Run consumes and writes until ctx is cancelled, then writes the batches in flight (bounded
// by Config.FlushTimeout) and returns nil. It returns an error when the source fails or a
// batch cannot be written after Config.WriteAttempts tries; the batches in flight are written
// first when the source failed. Messages that cannot be decoded never stop it: they are
// counted, logged once per reason and handed to Config.DeadLetter.
func (r *Runner) Run(ctx context.Context) error {
	pctx, stopPoll := context.WithCancelCause(ctx)
	defer stopPoll(nil)
	r.stopPoll = stopPoll
	for {
		if ctx.Err() != nil {
			return r.flushFinal(ctx)
		}
		if pctx.Err() != nil { // a write failed
			return r.abort(ctx, r.waitWrite())
		}
		pollCtx, cancel := pctx, context.CancelFunc(func() {})
		if r.msgs > 0 {
			pollCtx, cancel = context.WithDeadline(pctx, r.started.Add(r.cfg.MaxDelay))
		}
		msgs, err := r.src.Poll(pollCtx, r.cfg.MaxRows-r.msgs)
		cancel()
		for i := range msgs {
			r.add(&msgs[i])
			if r.full() {
				if werr := r.handOver(ctx); werr != nil {
					return r.abort(ctx, werr)
				}
			}
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return r.flushFinal(ctx)
		case pctx.Err() != nil:
			return r.abort(ctx, r.waitWrite())
		case errors.Is(err, context.DeadlineExceeded) && pollCtx.Err() != nil:
			// The batch's MaxDelay passed while polling: handed over below.
		default:
			if werr := r.flushFinal(ctx); werr != nil {
				return errors.Join(fmt.Errorf("sink: poll: %w", err), werr)
			}
			return fmt.Errorf("sink: poll: %w", err)
		}
		if r.msgs > 0 && !time.Now().Before(r.started.Add(r.cfg.MaxDelay)) {
			if werr := r.handOver(ctx); werr != nil {
				return r.abort(ctx, werr)
			}
		}
	}
}

// handOver waits for the write in flight, then starts writing the batch just filled on
// another goroutine and starts filling the other one. It returns the failed write's error
// instead (the batches stay as they are).
func (r *Runner) handOver(ctx context.Context) error {
	if err := r.waitWrite(); err != nil {
		return err
	}
	r.batch, r.prev = r.prev, r.batch
	r.prevMsgs, r.msgs, r.bytes = r.msgs, 0, 0
	done := make(chan error, 1)
	r.written = done
	wctx, cancel := lingerCtx(ctx, r.cfg.FlushTimeout)
	go func() {
		defer cancel()
		err := r.flush(wctx, &r.prev, r.prevMsgs)
		if err != nil {
			r.stopPoll(err)
		}
		done <- err
	}()
	return nil
}

// waitWrite waits for the write in flight, if any, and returns the error of the handed-over
// batch that is still unwritten (nil when there is none).
func (r *Runner) waitWrite() error {
	if r.written != nil {
		r.failed = <-r.written
		r.written = nil
		if r.failed == nil {
			r.prevMsgs = 0
		}
	}
	return r.failed
}

// lingerCtx returns a context with ctx's values that ends d after ctx ends (or when its
// cancel is called): a write in flight when the Runner is stopped gets as long to finish as
// the final flush.
func lingerCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var t *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		t = time.AfterFunc(d, cancel)
	})
	return lctx, func() {
		stop()
		mu.Lock()
		if t != nil {
			t.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// abort handles a failed write inside Run: when ctx was cancelled meanwhile (which may be
// why the write failed) it still makes the final flush; otherwise it returns the error.
func (r *Runner) abort(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return r.flushFinal(ctx)
	}
	return err
}

// flushFinal waits for the write in flight and writes what is unwritten — a handed-over batch
// whose write failed, then the batch being filled — with a fresh deadline, ignoring ctx's
// cancellation. Nothing after a batch that still fails is written.
func (r *Runner) flushFinal(ctx context.Context) error {
	werr := r.waitWrite()
	if werr == nil && r.msgs == 0 {
		return nil
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FlushTimeout)
	defer cancel()
	if werr != nil {
		if err := r.flush(fctx, &r.prev, r.prevMsgs); err != nil {
			return fmt.Errorf("sink: final flush: %w", err)
		}
		r.failed, r.prevMsgs = nil, 0
	}
	if r.msgs == 0 {
		return nil
	}
	if err := r.flush(fctx, &r.batch, r.msgs); err != nil {
		return fmt.Errorf("sink: final flush: %w", err)
	}
	r.msgs, r.bytes = 0, 0
	return nil
}

// drop discards the unwritten batches after Run returned and returns how many messages they
// held (their partitions' next owner re-reads them from the stored offsets).
func (r *Runner) drop() int {
	_ = r.waitWrite()
	n := r.msgs + r.prevMsgs
	r.batch.Reset()
	r.prev.Reset()
	r.msgs, r.bytes, r.prevMsgs, r.failed = 0, 0, 0, nil
	return n
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

// flush writes b (msgs messages), retrying failed writes with backoff. On success b is reset.
func (r *Runner) flush(ctx context.Context, b *Batch, msgs int) error {
	rows := b.Len()
	backoff := r.cfg.RetryBackoff
	var res WriteResult
	var err error
	for attempt := 1; ; attempt++ {
		if err := CheckGuard(ctx); err != nil { // a fenced writer never writes (ADR 0009)
			return fmt.Errorf("sink: write batch of %d events: %w", rows, err)
		}
		start := time.Now()
		res, err = r.store.Write(ctx, b)
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
	r.m.batchRows.Observe(float64(msgs))
	r.m.messages.Add(float64(msgs))
	r.m.lastWrite.Set(float64(now.UnixNano()) / 1e9)
	ns := now.UnixNano()
	observe(&r.m.trades, res.Written.Trades, res.Duplicates.Trades, ns, b.Trades,
		func(t *md.Trade) int64 { return t.RecvTime })
	observe(&r.m.integrity, res.Written.Integrity, res.Duplicates.Integrity, ns,
		b.Integrity, func(e *md.Integrity) int64 { return e.RecvTime })
	observe(&r.m.books, res.Written.Books, res.Duplicates.Books, ns, b.Books,
		func(u *md.BookUpdate) int64 { return u.RecvTime })
	observe(&r.m.bookStatus, res.Written.BookStatus, res.Duplicates.BookStatus, ns,
		b.BookStatus, func(st *md.BookStatus) int64 { return st.RecvTime })
	observe(&r.m.bbo, res.Written.BBOs, res.Duplicates.BBOs, ns, b.BBOs,
		func(q *md.BBO) int64 { return q.RecvTime })
	r.m.levels.Add(float64(res.Levels))
	b.Reset()
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
