package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// PartitionSource is a [Source] over a fixed set of partitions, started from given offsets;
// Lag reports the records behind the partition ends and Close stops it.
type PartitionSource interface {
	Source
	Lag() int64
	Close() error
}

// OpenSource starts a [PartitionSource] reading exactly the given partitions, each from its
// next offset (or transport.OffsetOldest).
type OpenSource func(offsets []transport.Offset) (PartitionSource, error)

// GroupRunner runs a [Runner] as a consumer-group member (ADR 0009): for every generation it
// re-derives the store's state ([Reloader]), reads the stored offsets of the partitions
// assigned to it, consumes them from there and writes under the assignment's lease. A batch
// in flight when the generation ends is written if the lease still holds and dropped
// otherwise; a write the lease refuses ([ErrFenced]) drops the batch and rejoins the group.
// Offsets are never committed to Kafka.
//
// Run is for one goroutine.
type GroupRunner struct {
	r    *Runner
	open OpenSource
	log  *slog.Logger

	mu  sync.Mutex
	cur PartitionSource

	fenced   prometheus.Counter
	dropped  prometheus.Counter
	reloads  prometheus.Counter
	reloadMs prometheus.Histogram
}

// NewGroupRunner returns a GroupRunner writing to store with the batching of cfg. It does no
// I/O and starts no goroutines; it registers the Runner's metrics and its own
// (tickflow_sink_fenced_writes_total, tickflow_sink_dropped_messages_total,
// tickflow_sink_reloads_total, tickflow_sink_reload_seconds,
// tickflow_transport_consumer_lag_records{consumer="sink"}) with cfg.Registerer.
func NewGroupRunner(store Store, open OpenSource, cfg Config) (*GroupRunner, error) {
	if open == nil {
		return nil, errors.New("sink: new group runner: nil source opener")
	}
	r, err := NewRunner(noSource{}, store, cfg)
	if err != nil {
		return nil, err
	}
	g := &GroupRunner{r: r, open: open, log: r.log,
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickflow_sink_fenced_writes_total",
			Help: "Writes refused because the generation ended or the group lease expired (ADR 0009)."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickflow_sink_dropped_messages_total",
			Help: "Messages of batches dropped unwritten because the writer was fenced (their new owner writes them)."}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickflow_sink_reloads_total",
			Help: "Assignments taken over: store state re-derived from the stored rows."}),
		reloadMs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickflow_sink_reload_seconds",
			Help: "Time to re-derive the store's state and read its offsets on an assignment.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 8)}),
	}
	if cfg.Registerer != nil {
		lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickflow_transport_consumer_lag_records",
			Help: "Records between the consumer position and the partition ends.", ConstLabels: prometheus.Labels{"consumer": "sink"}},
			func() float64 {
				g.mu.Lock()
				defer g.mu.Unlock()
				if g.cur == nil {
					return 0
				}
				return float64(g.cur.Lag())
			})
		for _, c := range []prometheus.Collector{g.fenced, g.dropped, g.reloads, g.reloadMs, lag} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("sink: register group metrics: %w", err)
			}
		}
	}
	return g, nil
}

// Run takes part in group until ctx is done, then writes the batch in flight (if the lease
// holds), leaves the group and returns nil. It returns an error when a batch cannot be
// written (after Config.WriteAttempts) or a source cannot be opened.
func (g *GroupRunner) Run(ctx context.Context, group *transport.Group) error {
	return group.Run(ctx, g.generation)
}

func (g *GroupRunner) generation(a *transport.Assignment) error {
	ctx := a.Context()
	log := g.log.With("generation", a.Generation)
	if err := a.WaitLease(); err != nil {
		return nil // the generation ended before it started
	}
	wctx := WithGuard(ctx, a.Check)
	start := time.Now()
	offs, err := g.takeOver(wctx, a)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	g.reloads.Inc()
	g.reloadMs.Observe(time.Since(start).Seconds())
	src, err := g.open(offs)
	if err != nil {
		return fmt.Errorf("sink: open partitions of generation %d: %w", a.Generation, err)
	}
	g.mu.Lock()
	g.cur = src
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.cur = nil
		g.mu.Unlock()
		if err := src.Close(); err != nil {
			log.Warn("closing the generation's consumer", "err", err)
		}
	}()
	log.Info("consuming assigned partitions", "partitions", len(offs), "took_over_in", time.Since(start).Round(time.Millisecond))
	g.r.src = src
	err = g.r.Run(wctx)
	if n := g.r.drop(); n > 0 {
		// Left unwritten (fenced, or the final write failed): the partitions' next owner —
		// possibly this member again — re-reads them from the stored offsets.
		g.dropped.Add(float64(n))
	}
	switch {
	case errors.Is(err, ErrFenced):
		g.fenced.Inc()
		log.Warn("write refused: this member no longer owns its partitions; batch dropped, rejoining", "err", err)
		return nil
	case err != nil && ctx.Err() != nil:
		// The generation (or the process) ended while the store failed: nothing of the batch
		// is stored with its offsets, so whoever owns the partitions next re-reads it.
		log.Warn("final write failed as the generation ended; batch dropped", "err", err)
		return nil
	}
	return err
}

// takeOver re-derives the store's state and returns the start offsets of the assigned
// partitions, retrying while the store is unreachable and the generation lasts.
func (g *GroupRunner) takeOver(ctx context.Context, a *transport.Assignment) ([]transport.Offset, error) {
	backoff := 250 * time.Millisecond
	for {
		offs, err := g.offsets(ctx, a)
		if err == nil {
			return offs, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		g.log.Warn("taking over partitions failed; retrying", "generation", a.Generation, "err", err)
		if err := sleepCtx(ctx, backoff); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, DefaultMaxRetryBackoff)
	}
}

func (g *GroupRunner) offsets(ctx context.Context, a *transport.Assignment) ([]transport.Offset, error) {
	if rl, ok := g.r.store.(Reloader); ok {
		if err := rl.Reload(ctx); err != nil {
			return nil, fmt.Errorf("sink: re-derive store state: %w", err)
		}
	}
	stored, err := g.r.store.Offsets(ctx)
	if err != nil {
		return nil, fmt.Errorf("sink: read stored offsets: %w", err)
	}
	have := make(map[transport.TopicPartition]int64, len(stored))
	for _, o := range stored {
		have[transport.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Next
	}
	offs := make([]transport.Offset, 0, len(a.Partitions))
	for _, tp := range a.Partitions {
		next, ok := have[tp]
		if !ok {
			next = transport.OffsetOldest
		}
		offs = append(offs, transport.Offset{Topic: tp.Topic, Partition: tp.Partition, Next: next})
	}
	return offs, nil
}

// noSource is the Runner's source between generations; it is never polled.
type noSource struct{}

func (noSource) Poll(ctx context.Context, _ int) ([]transport.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// Topics returns the unified topics a Runner over store consumes: trades and integrity
// events, plus books (updates and statuses) and BBO when the store stores them
// ([KindStore]). Sorted.
func Topics(store Store) []string {
	ks := storedKinds(store)
	topics := []string{transport.TopicIntegrity, transport.TopicTrades}
	if ks.has(md.KindBookUpdate) || ks.has(md.KindBookStatus) {
		topics = append(topics, transport.TopicBooks)
	}
	if ks.has(md.KindBBO) {
		topics = append(topics, transport.TopicBBO)
	}
	sort.Strings(topics)
	return topics
}
