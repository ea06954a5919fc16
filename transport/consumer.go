package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// Special start offsets for Consumer.Assign.
const (
	// OffsetOldest starts at the oldest retained record.
	OffsetOldest int64 = kafka.FirstOffset
	// OffsetNewest starts after the newest record (live data only).
	OffsetNewest int64 = kafka.LastOffset
)

// ConsumerConfig configures a Consumer. Zero values mean defaults.
type ConsumerConfig struct {
	Brokers []string
	// MaxWait is how long a fetch waits for new data (default 500ms). A fetch returns as soon
	// as data arrives (MinBytes is 1), so this does not add latency. kafka-go also uses it as
	// the socket deadline of the fetch: a short value makes a busy broker's answers time out
	// and the reader reconnect in a loop.
	MaxWait time.Duration
	// MaxBytes is the most bytes fetched per request per partition (default 32 MiB, above the
	// largest raw frame).
	MaxBytes int
	// QueueSize is how many fetched messages may wait for Poll (default 20000).
	QueueSize int
	// Name labels this consumer's metrics (e.g. "sink", "normalizer").
	Name string
}

func (c *ConsumerConfig) setDefaults() {
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 32 << 20
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 20000
	}
}

// Consumer reads assigned topic partitions from explicit offsets. Poll is for one
// goroutine; Lag and Close are safe from any.
type Consumer struct {
	cfg ConsumerConfig
	log *slog.Logger

	ch     chan Message
	errc   chan error
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	readers map[TopicPartition]*kafka.Reader

	consumed *prometheus.CounterVec
	batch    []Message
}

// NewConsumer returns a consumer with nothing assigned. It does no I/O.
func NewConsumer(cfg ConsumerConfig, reg prometheus.Registerer, log *slog.Logger) *Consumer {
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	c := &Consumer{
		cfg:     cfg,
		log:     log,
		ch:      make(chan Message, cfg.QueueSize),
		errc:    make(chan error, 1),
		readers: map[TopicPartition]*kafka.Reader{},
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "tickflow_transport_consumed_records_total",
			Help:        "Records returned by Poll.",
			ConstLabels: prometheus.Labels{"consumer": cfg.Name},
		}, []string{"topic"}),
	}
	if reg != nil {
		reg.MustRegister(c.consumed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "tickflow_transport_consumer_lag_records",
			Help:        "Records between the consumer position and the partition ends.",
			ConstLabels: prometheus.Labels{"consumer": cfg.Name},
		}, func() float64 { return float64(c.Lag()) }))
	}
	return c
}

// Assign starts reading the given partitions from the given next offsets (or OffsetOldest /
// OffsetNewest). It may be called once.
func (c *Consumer) Assign(offsets []Offset) error {
	if len(c.cfg.Brokers) == 0 {
		return errors.New("transport: consumer needs at least one broker address")
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, o := range offsets {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:        c.cfg.Brokers,
			Topic:          o.Topic,
			Partition:      o.Partition,
			MinBytes:       1,
			MaxBytes:       c.cfg.MaxBytes,
			MaxWait:        c.cfg.MaxWait,
			QueueCapacity:  1000,
			ReadBackoffMin: 10 * time.Millisecond,
			ReadBackoffMax: 500 * time.Millisecond,
			StartOffset:    kafka.FirstOffset,
		})
		if err := r.SetOffset(o.Next); err != nil {
			cancel()
			return fmt.Errorf("transport: seek %s/%d to %d: %w", o.Topic, o.Partition, o.Next, err)
		}
		tp := TopicPartition{o.Topic, o.Partition}
		c.mu.Lock()
		c.readers[tp] = r
		c.mu.Unlock()
		c.wg.Add(1)
		go c.fetchLoop(ctx, r, tp)
	}
	return nil
}

func (c *Consumer) fetchLoop(ctx context.Context, r *kafka.Reader, tp TopicPartition) {
	defer c.wg.Done()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("fetch failed; retrying", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		msg := Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key,
			Value: m.Value, Time: m.Time.UnixNano()}
		select {
		case c.ch <- msg:
		case <-ctx.Done():
			return
		}
	}
}

// Poll returns up to max messages, blocking until at least one is available or ctx ends.
// Messages of one partition come in offset order. The returned slice is reused by the next
// Poll; the messages' Key and Value are owned by the caller.
func (c *Consumer) Poll(ctx context.Context, max int) ([]Message, error) {
	c.batch = c.batch[:0]
	select {
	case m := <-c.ch:
		c.batch = append(c.batch, m)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(c.batch) < max {
		select {
		case m := <-c.ch:
			c.batch = append(c.batch, m)
		default:
			c.count()
			return c.batch, nil
		}
	}
	c.count()
	return c.batch, nil
}

// PollTimeout is Poll that returns an empty batch after d without data.
func (c *Consumer) PollTimeout(ctx context.Context, max int, d time.Duration) ([]Message, error) {
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	b, err := c.Poll(tctx, max)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return c.batch[:0], nil
	}
	return b, err
}

func (c *Consumer) count() {
	if len(c.batch) == 0 {
		return
	}
	topic, n := c.batch[0].Topic, 0
	for i := range c.batch {
		if c.batch[i].Topic != topic {
			c.consumed.WithLabelValues(topic).Add(float64(n))
			topic, n = c.batch[i].Topic, 0
		}
		n++
	}
	c.consumed.WithLabelValues(topic).Add(float64(n))
}

// Lag returns the records between the readers' positions and the partition ends, as of the
// last fetches, plus records fetched but not yet polled.
func (c *Consumer) Lag() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lag int64
	for _, r := range c.readers {
		if l := r.Lag(); l > 0 {
			lag += l
		}
	}
	return lag + int64(len(c.ch))
}

// Close stops all readers.
func (c *Consumer) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	// kafka-go's Reader.Close waits for its fetch in flight: close them all at once.
	errs := make([]error, 0, len(c.readers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range c.readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.Close()
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
