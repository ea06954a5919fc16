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
	"github.com/segmentio/kafka-go/compress"
)

// ErrFull is returned by TryProduce when the in-flight byte bound is reached.
var ErrFull = errors.New("transport: producer in-flight limit reached")

// ErrClosed is returned when producing on a closed producer.
var ErrClosed = errors.New("transport: producer closed")

// ProducerConfig configures a Producer. The zero value of every field means its default.
type ProducerConfig struct {
	Brokers []string
	// Linger is how long a batch waits for more records (default 2ms; kafka-go's default of
	// 1s would add a second of latency).
	Linger time.Duration
	// BatchSize is the most records in one produce request per partition (default 2000).
	BatchSize int
	// BatchBytes is the most bytes in one request per partition (default 16 MiB, so multi-MB
	// raw frames fit; the broker's message.max.bytes must be at least as large).
	BatchBytes int64
	// MaxInFlightBytes bounds bytes produced and not yet acknowledged (default 64 MiB).
	MaxInFlightBytes int64
	// Compression: "", "none", "lz4", "snappy", "zstd", "gzip" (default none: loopback).
	Compression string
	// MaxAttempts per batch before the records fail (default 10).
	MaxAttempts int
	// WriteTimeout per request (default 10s).
	WriteTimeout time.Duration
}

func (c *ProducerConfig) setDefaults() {
	if c.Linger <= 0 {
		c.Linger = 2 * time.Millisecond
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 2000
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 16 << 20
	}
	if c.MaxInFlightBytes <= 0 {
		c.MaxInFlightBytes = 64 << 20
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
}

// Validate reports configuration errors.
func (c *ProducerConfig) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("transport: producer needs at least one broker address (--kafka-brokers host:port)")
	}
	if _, err := compressionCodec(c.Compression); err != nil {
		return err
	}
	return nil
}

func compressionCodec(name string) (compress.Compression, error) {
	switch name {
	case "", "none":
		return 0, nil
	case "gzip":
		return compress.Gzip, nil
	case "snappy":
		return compress.Snappy, nil
	case "lz4":
		return compress.Lz4, nil
	case "zstd":
		return compress.Zstd, nil
	}
	return 0, fmt.Errorf("transport: unknown compression %q (use none, lz4, snappy, zstd or gzip)", name)
}

// DoneFunc is called once per record when it is acknowledged (err == nil) or finally failed.
// It runs on a producer goroutine and must not block.
type DoneFunc func(err error)

type pending struct {
	done DoneFunc
	size int64
}

// Producer is an asynchronous, ordered, acks=all Kafka producer. Safe for concurrent use.
type Producer struct {
	w   *kafka.Writer
	log *slog.Logger
	m   *producerMetrics

	mu       sync.Mutex
	cond     *sync.Cond
	inflight int64
	max      int64
	closed   bool

	pool sync.Pool // *pending
}

// NewProducer returns a producer. It does no I/O.
func NewProducer(cfg ProducerConfig, reg prometheus.Registerer, log *slog.Logger) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	codec, _ := compressionCodec(cfg.Compression)
	if log == nil {
		log = slog.Default()
	}
	p := &Producer{log: log, max: cfg.MaxInFlightBytes, m: newProducerMetrics(reg)}
	p.cond = sync.NewCond(&p.mu)
	p.pool.New = func() any { return new(pending) }
	p.w = &kafka.Writer{
		Addr:            kafka.TCP(cfg.Brokers...),
		Balancer:        &kafka.Murmur2Balancer{}, // same key->partition as the Java client
		MaxAttempts:     cfg.MaxAttempts,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: time.Second,
		BatchSize:       cfg.BatchSize,
		BatchBytes:      cfg.BatchBytes,
		BatchTimeout:    cfg.Linger,
		WriteTimeout:    cfg.WriteTimeout,
		RequiredAcks:    kafka.RequireAll,
		Async:           true,
		Compression:     codec,
		Completion:      p.complete,
		// Its own transport: kafka-go's default one is process-wide and caches topic metadata,
		// so topics created a moment ago would look unknown to it for seconds.
		Transport: &kafka.Transport{DialTimeout: 10 * time.Second, MetadataTTL: 2 * time.Second},
	}
	return p, nil
}

func (p *Producer) complete(msgs []kafka.Message, err error) {
	var total int64
	for i := range msgs {
		pd, _ := msgs[i].WriterData.(*pending)
		if pd == nil {
			continue
		}
		total += pd.size
		if err != nil {
			p.m.errors(msgs[i].Topic).Inc()
		} else {
			c := p.m.counters(msgs[i].Topic)
			c.records.Inc()
			c.bytes.Add(float64(len(msgs[i].Value)))
		}
		if pd.done != nil {
			pd.done(err)
		}
		pd.done = nil
		p.pool.Put(pd)
	}
	if err != nil {
		p.log.Error("produce failed", "records", len(msgs), "err", err)
	}
	p.mu.Lock()
	p.inflight -= total
	p.m.inflight.Set(float64(p.inflight))
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Produce sends one record. key and value are owned by the producer until done runs.
// It blocks while the in-flight bound is reached or ctx is done.
func (p *Producer) Produce(ctx context.Context, topic string, key, value []byte, done DoneFunc) error {
	return p.produce(ctx, topic, key, value, nil, done, true)
}

// ProduceWithHeaders is Produce with record headers (used for dead-letter reasons).
func (p *Producer) ProduceWithHeaders(ctx context.Context, topic string, key, value []byte, headers []Header, done DoneFunc) error {
	return p.produce(ctx, topic, key, value, headers, done, true)
}

// TryProduce is Produce that returns ErrFull instead of blocking.
func (p *Producer) TryProduce(topic string, key, value []byte, done DoneFunc) error {
	return p.produce(context.Background(), topic, key, value, nil, done, false)
}

func (p *Producer) produce(ctx context.Context, topic string, key, value []byte, headers []Header, done DoneFunc, block bool) error {
	size := int64(len(key) + len(value) + 64)
	p.mu.Lock()
	for !p.closed && p.inflight > 0 && p.inflight+size > p.max {
		if !block {
			p.mu.Unlock()
			return ErrFull
		}
		if ctx.Err() != nil {
			p.mu.Unlock()
			return ctx.Err()
		}
		p.waitLocked(ctx)
	}
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.inflight += size
	p.m.inflight.Set(float64(p.inflight))
	p.mu.Unlock()

	pd := p.pool.Get().(*pending)
	pd.done, pd.size = done, size
	msg := kafka.Message{Topic: topic, Key: key, Value: value, WriterData: pd}
	for _, h := range headers {
		msg.Headers = append(msg.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	err := p.w.WriteMessages(context.Background(), msg)
	if err != nil {
		p.mu.Lock()
		p.inflight -= size
		p.cond.Broadcast()
		p.mu.Unlock()
		return fmt.Errorf("transport: produce to %s: %w", topic, err)
	}
	return nil
}

// waitLocked waits on the condition, waking up periodically to observe ctx.
func (p *Producer) waitLocked(ctx context.Context) {
	t := time.AfterFunc(50*time.Millisecond, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	p.cond.Wait()
	t.Stop()
}

// InFlightBytes returns the bytes produced and not yet acknowledged.
func (p *Producer) InFlightBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight
}

// Flush waits until every record produced so far is acknowledged or failed, or ctx ends.
func (p *Producer) Flush(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inflight > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("transport: flush with %d bytes in flight: %w", p.inflight, err)
		}
		p.waitLocked(ctx)
	}
	return nil
}

// Close flushes within ctx and closes the producer. Records not acknowledged by then fail.
func (p *Producer) Close(ctx context.Context) error {
	ferr := p.Flush(ctx)
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	cerr := p.w.Close()
	return errors.Join(ferr, cerr)
}
