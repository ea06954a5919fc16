package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// MaxWait is how long the broker holds a fetch waiting for new data (default 500ms). A
	// fetch returns as soon as data arrives (MinBytes is 1), so this does not add latency.
	MaxWait time.Duration
	// MaxBytes is the most bytes fetched per request per partition (default 4 MiB; Kafka
	// returns a larger first record batch anyway, so multi-MB frames never stall). Fetch
	// responses are built whole by the broker and held until polled, so this bounds memory:
	// at 32 MiB a lagging consumer's fetches held ~140 MB in the embedded broker alone.
	MaxBytes int
	// QueueSize is how many fetch responses (chunks of messages) may wait for Poll (default
	// two per assigned partition, at least 8). Fetchers wait while the queue is full.
	QueueSize int
	// Name labels this consumer's metrics (e.g. "sink", "normalizer").
	Name string
}

func (c *ConsumerConfig) setDefaults() {
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 4 << 20
	}
}

// Consumer reads assigned topic partitions from explicit offsets. Poll is for one
// goroutine; Lag and Close are safe from any.
//
// Each assigned partition has a fetch goroutine that sends fetch requests through kafka-go's
// protocol Client and hands whole fetched chunks to Poll (one channel operation per fetch, not
// per record); a chunk's keys and values share one allocation. kafka-go's Reader, used before,
// passed every record through two channels and allocated its key and value separately.
type Consumer struct {
	cfg    ConsumerConfig
	log    *slog.Logger
	client *kafka.Client

	ch     chan []Message
	cancel context.CancelFunc
	wg     sync.WaitGroup
	queued atomic.Int64 // messages fetched and not yet returned by Poll

	mu    sync.Mutex
	parts map[TopicPartition]*partitionState

	consumed *prometheus.CounterVec
	batch    []Message
	left     []Message // rest of the chunk the last Poll took from
}

// partitionState is a fetch goroutine's position and the partition's end as last seen.
type partitionState struct {
	next int64 // next offset to fetch; negative until the start offset is resolved
	high int64 // high watermark of the last fetch
}

// NewConsumer returns a consumer with nothing assigned. It does no I/O.
func NewConsumer(cfg ConsumerConfig, reg prometheus.Registerer, log *slog.Logger) *Consumer {
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	c := &Consumer{
		cfg:   cfg,
		log:   log,
		parts: map[TopicPartition]*partitionState{},
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...),
			Transport: &kafka.Transport{DialTimeout: 10 * time.Second, MetadataTTL: 2 * time.Second}},
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
	if c.cancel != nil {
		return errors.New("transport: consumer already assigned")
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	queue := c.cfg.QueueSize
	if queue <= 0 { // a few chunks per partition keep every fetcher busy
		queue = max(8, 2*len(offsets))
	}
	c.ch = make(chan []Message, queue)
	for _, o := range offsets {
		if o.Next < 0 && o.Next != OffsetOldest && o.Next != OffsetNewest {
			cancel()
			return fmt.Errorf("transport: seek %s/%d to %d: not an offset", o.Topic, o.Partition, o.Next)
		}
		tp := TopicPartition{o.Topic, o.Partition}
		st := &partitionState{next: o.Next, high: -1}
		c.mu.Lock()
		c.parts[tp] = st
		c.mu.Unlock()
		c.wg.Add(1)
		go c.fetchLoop(ctx, tp, o.Next)
	}
	return nil
}

// fetchLoop fetches one partition from next on until ctx ends.
func (c *Consumer) fetchLoop(ctx context.Context, tp TopicPartition, next int64) {
	defer c.wg.Done()
	var lastErr string
	retry := func(what string, err error) bool {
		if ctx.Err() != nil {
			return false
		}
		// Log a failure once per kind, not once per retry.
		if msg := what + ": " + err.Error(); msg != lastErr {
			lastErr = msg
			c.log.Warn("fetch failed; retrying", "consumer", c.cfg.Name, "topic", tp.Topic, "partition", tp.Partition, "what", what, "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
			return true
		}
	}
	for next < 0 { // OffsetOldest / OffsetNewest: ask the broker
		off, err := c.listOffset(ctx, tp, next)
		if err == nil {
			next = off
			c.setNext(tp, next)
			break
		}
		if !retry("list offsets", err) {
			return
		}
	}
	sizeHint := 0 // messages in the last chunk: the next one is sized for them
	for {
		fctx, cancel := context.WithTimeout(ctx, c.cfg.MaxWait+30*time.Second)
		res, err := c.client.Fetch(fctx, &kafka.FetchRequest{Topic: tp.Topic, Partition: tp.Partition, Offset: next,
			MinBytes: 1, MaxBytes: int64(c.cfg.MaxBytes), MaxWait: c.cfg.MaxWait})
		cancel()
		if err == nil && res.Error != nil {
			err = res.Error
			closeRecords(res.Records)
			if errors.Is(err, kafka.OffsetOutOfRange) {
				// The records at next were deleted by retention: continue at the oldest left.
				if first, lerr := c.listOffset(ctx, tp, OffsetOldest); lerr == nil && first > next {
					c.log.Error("records deleted by retention before they were consumed; skipping them",
						"consumer", c.cfg.Name, "topic", tp.Topic, "partition", tp.Partition, "from", next, "to", first)
					next = first
					c.setNext(tp, next)
					continue
				}
			}
		}
		if err != nil {
			if !retry("fetch", err) {
				return
			}
			continue
		}
		lastErr = ""
		chunk, rerr := readChunk(res.Records, tp, next, sizeHint)
		closeRecords(res.Records)
		sizeHint = len(chunk)
		c.setHigh(tp, res.HighWatermark)
		if rerr != nil && len(chunk) == 0 {
			if !retry("read records", rerr) {
				return
			}
			continue
		}
		if len(chunk) == 0 {
			continue
		}
		next = chunk[len(chunk)-1].Offset + 1
		c.queued.Add(int64(len(chunk)))
		select {
		case c.ch <- chunk:
			c.setNext(tp, next)
		case <-ctx.Done():
			c.queued.Add(-int64(len(chunk)))
			return
		}
	}
}

// readChunk reads a fetch response's records at or after next into messages whose keys
// and values share one arena (Kafka may return a batch starting before next).
// The message slice starts with room for hint messages plus an eighth (fetches of a busy
// partition are alike; growing a 50,000-message chunk by doubling cost the sink ~10% of its
// CPU in copies and GC).
func readChunk(rr kafka.RecordReader, tp TopicPartition, next int64, hint int) ([]Message, error) {
	var msgs []Message
	var arena []byte
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return msgs, nil
			}
			return msgs, err
		}
		if rec.Offset < next {
			continue
		}
		kl, vl := bytesLen(rec.Key), bytesLen(rec.Value)
		if cap(arena)-len(arena) < kl+vl {
			arena = make([]byte, 0, max(64<<10, kl+vl))
		}
		m := Message{Topic: tp.Topic, Partition: tp.Partition, Offset: rec.Offset, Time: rec.Time.UnixNano()}
		if rec.Key != nil {
			m.Key, arena, err = readInto(arena, rec.Key, kl)
			if err != nil {
				return msgs, err
			}
		}
		if rec.Value != nil {
			m.Value, arena, err = readInto(arena, rec.Value, vl)
			if err != nil {
				return msgs, err
			}
		}
		if msgs == nil {
			msgs = make([]Message, 0, max(64, hint+hint/8))
		}
		msgs = append(msgs, m)
	}
}

// closeRecords releases a fetch response's buffers (the RecordReader kafka-go returns
// is an io.Closer).
func closeRecords(rr kafka.RecordReader) {
	if cl, ok := rr.(io.Closer); ok {
		_ = cl.Close()
	}
}

func bytesLen(b kafka.Bytes) int {
	if b == nil {
		return 0
	}
	return b.Len()
}

// readInto reads n bytes of b onto arena (which has room) and returns them, full-capacity
// capped so an append by the caller cannot overwrite the next message.
func readInto(arena []byte, b kafka.Bytes, n int) ([]byte, []byte, error) {
	start := len(arena)
	arena = arena[:start+n]
	if _, err := io.ReadFull(b, arena[start:]); err != nil {
		return nil, arena[:start], err
	}
	return arena[start : start+n : start+n], arena, nil
}

// listOffset resolves OffsetOldest or OffsetNewest for tp.
func (c *Consumer) listOffset(ctx context.Context, tp TopicPartition, which int64) (int64, error) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := c.client.ListOffsets(lctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{tp.Topic: {{Partition: tp.Partition, Timestamp: which}}}})
	if err != nil {
		return 0, err
	}
	for _, p := range res.Topics[tp.Topic] {
		if p.Partition != tp.Partition {
			continue
		}
		if p.Error != nil {
			return 0, p.Error
		}
		if which == OffsetOldest {
			return p.FirstOffset, nil
		}
		return p.LastOffset, nil
	}
	return 0, fmt.Errorf("transport: list offsets of %s/%d: partition missing from the answer", tp.Topic, tp.Partition)
}

func (c *Consumer) setNext(tp TopicPartition, next int64) {
	c.mu.Lock()
	c.parts[tp].next = next
	c.mu.Unlock()
}

func (c *Consumer) setHigh(tp TopicPartition, high int64) {
	c.mu.Lock()
	c.parts[tp].high = high
	c.mu.Unlock()
}

// Poll returns up to max messages, blocking until at least one is available or ctx ends.
// Messages of one partition come in offset order. The returned slice is reused by the next
// Poll; the messages' Key and Value are owned by the caller.
func (c *Consumer) Poll(ctx context.Context, max int) ([]Message, error) {
	c.batch = c.batch[:0]
	if max <= 0 {
		max = 1
	}
	if len(c.left) == 0 {
		select {
		case c.left = <-c.ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for len(c.batch) < max {
		if len(c.left) == 0 {
			select {
			case c.left = <-c.ch:
			default:
			}
			if len(c.left) == 0 {
				break
			}
		}
		n := min(max-len(c.batch), len(c.left))
		c.batch = append(c.batch, c.left[:n]...)
		clear(c.left[:n]) // the chunk must not keep returned messages' buffers alive
		c.left = c.left[n:]
	}
	c.queued.Add(-int64(len(c.batch)))
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

// Lag returns the records between the fetch positions and the partition ends, as of the
// last fetches, plus records fetched but not yet polled.
func (c *Consumer) Lag() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lag int64
	for _, st := range c.parts {
		if st.next >= 0 && st.high > st.next {
			lag += st.high - st.next
		}
	}
	return lag + c.queued.Load()
}

// Close stops all fetchers. Fetches in flight are abandoned at once.
func (c *Consumer) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	if t, ok := c.client.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
	return nil
}
