package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	// Linger is how long a partition's first buffered record waits for more before its batch
	// is sent (default 2ms; kafka-go's Writer default of 1s would add a second of latency).
	// While a partition's request is in flight, records accumulate without waiting.
	Linger time.Duration
	// BatchSize is the most records in one produce request per partition (default 4000).
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
		c.BatchSize = 4000
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

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Producer is an asynchronous, ordered, acks=all Kafka producer. Safe for concurrent use.
//
// Records are partitioned by key with Kafka's murmur2 (the Java client's default, so other
// clients agree on key -> partition) and buffered per partition. Each partition has one
// sender goroutine and at most one request in flight, so records of a partition are written
// in the order they were produced, retries included. A batch is sent when the partition's
// first buffered record has waited Linger, when it reaches BatchSize or BatchBytes, or at
// once when the previous request of the partition completes with records waiting. The
// producer is built on kafka-go's protocol Client rather than its Writer: the Writer looks
// up topic metadata for every record and allocates a BatchSize-long slice and a goroutine for
// every batch, which at 100k records/s cost more CPU than the records themselves.
type Producer struct {
	cfg    ProducerConfig
	client *kafka.Client
	codec  compress.Compression
	log    *slog.Logger
	m      *producerMetrics

	mu       sync.Mutex
	cond     *sync.Cond
	inflight int64
	max      int64
	closed   bool

	topicsMu sync.RWMutex
	topics   map[string]*topicWriter
	initMu   sync.Mutex // serializes metadata lookups of new topics

	quit chan struct{}
	wg   sync.WaitGroup
}

// topicWriter holds a topic's partition writers, indexed by partition id.
type topicWriter struct {
	parts    []*partitionWriter
	ids      []int // 0..n-1, for the balancer
	balancer kafka.Murmur2Balancer
	balMu    sync.Mutex // Murmur2Balancer's round-robin for nil keys is not concurrency-safe
}

// record is one buffered record.
type record struct {
	key, value []byte
	headers    []kafka.Header
	done       DoneFunc
	size       int64
}

// partitionWriter buffers one partition's records and sends them, one request at a time.
type partitionWriter struct {
	p         *Producer
	topic     string
	partition int

	mu    sync.Mutex
	buf   []record
	bytes int64
	first time.Time // arrival of buf[0]
	wake  chan struct{}

	enc recordEncoder // used by the sender goroutine only
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
	p := &Producer{cfg: cfg, codec: codec, log: log, max: cfg.MaxInFlightBytes, m: newProducerMetrics(reg),
		topics: map[string]*topicWriter{}, quit: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.client = &kafka.Client{
		Addr:    kafka.TCP(cfg.Brokers...),
		Timeout: cfg.WriteTimeout,
		// Its own transport: kafka-go's default one is process-wide and caches topic metadata,
		// so topics created a moment ago would look unknown to it for seconds.
		Transport: &kafka.Transport{DialTimeout: 10 * time.Second, MetadataTTL: 2 * time.Second},
	}
	return p, nil
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
	tw, err := p.topic(ctx, topic)
	if err != nil {
		return err
	}
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

	rec := record{key: key, value: value, done: done, size: size}
	if len(headers) > 0 {
		rec.headers = make([]kafka.Header, len(headers))
		for i, h := range headers {
			rec.headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
		}
	}
	tw.partition(key).add(rec)
	return nil
}

// topic returns the writer of topic, looking its partitions up on first use.
func (p *Producer) topic(ctx context.Context, topic string) (*topicWriter, error) {
	p.topicsMu.RLock()
	tw := p.topics[topic]
	p.topicsMu.RUnlock()
	if tw != nil {
		return tw, nil
	}
	p.initMu.Lock()
	defer p.initMu.Unlock()
	p.topicsMu.RLock()
	tw = p.topics[topic]
	p.topicsMu.RUnlock()
	if tw != nil {
		return tw, nil
	}
	n, err := p.partitionCount(ctx, topic)
	if err != nil {
		return nil, err
	}
	tw = &topicWriter{parts: make([]*partitionWriter, n), ids: make([]int, n)}
	for i := range n {
		tw.ids[i] = i
		pw := &partitionWriter{p: p, topic: topic, partition: i, wake: make(chan struct{}, 1)}
		tw.parts[i] = pw
		p.wg.Add(1)
		go pw.run()
	}
	p.topicsMu.Lock()
	p.topics[topic] = tw
	p.topicsMu.Unlock()
	return tw, nil
}

// partitionCount asks the cluster how many partitions topic has, retrying for a while: a
// topic created a moment ago may not be in every broker's metadata yet.
func (p *Producer) partitionCount(ctx context.Context, topic string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		md, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil {
			for _, t := range md.Topics {
				if t.Name == topic && t.Error == nil && len(t.Partitions) > 0 {
					return len(t.Partitions), nil
				}
				if t.Name == topic && t.Error != nil {
					err = t.Error
				}
			}
			if err == nil {
				err = kafka.UnknownTopicOrPartition
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("transport: produce to %s: partitions unknown (create the topic first): %w", topic, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// partition picks key's partition writer with Kafka's murmur2 partitioner.
func (tw *topicWriter) partition(key []byte) *partitionWriter {
	if len(tw.parts) == 1 {
		return tw.parts[0]
	}
	if key != nil {
		return tw.parts[tw.balancer.Balance(kafka.Message{Key: key}, tw.ids...)]
	}
	tw.balMu.Lock()
	i := tw.balancer.Balance(kafka.Message{}, tw.ids...)
	tw.balMu.Unlock()
	return tw.parts[i]
}

// add buffers rec and wakes the sender when the buffer was empty or a batch is full.
func (pw *partitionWriter) add(rec record) {
	pw.mu.Lock()
	wasEmpty := len(pw.buf) == 0
	if wasEmpty {
		pw.first = time.Now()
	}
	pw.buf = append(pw.buf, rec)
	pw.bytes += rec.size
	full := len(pw.buf) >= pw.p.cfg.BatchSize || pw.bytes >= pw.p.cfg.BatchBytes
	pw.mu.Unlock()
	if wasEmpty || full {
		select {
		case pw.wake <- struct{}{}:
		default:
		}
	}
}

// run is the partition's sender: it takes batches off the buffer and sends them in order.
func (pw *partitionWriter) run() {
	defer pw.p.wg.Done()
	var batch, spare []record
	for {
		select {
		case <-pw.wake:
		case <-pw.p.quit:
			return
		}
		for {
			pw.mu.Lock()
			if len(pw.buf) == 0 {
				pw.mu.Unlock()
				break
			}
			full := len(pw.buf) >= pw.p.cfg.BatchSize || pw.bytes >= pw.p.cfg.BatchBytes
			if wait := pw.p.cfg.Linger - time.Since(pw.first); !full && wait > 0 {
				pw.mu.Unlock()
				select {
				case <-time.After(wait):
				case <-pw.wake: // full now, or a spurious wake: recheck
				case <-pw.p.quit:
					return
				}
				continue
			}
			// Take at most BatchSize records and BatchBytes bytes (always at least one).
			n, bytes := 0, int64(0)
			for n < len(pw.buf) && n < pw.p.cfg.BatchSize && (n == 0 || bytes+pw.buf[n].size <= pw.p.cfg.BatchBytes) {
				bytes += pw.buf[n].size
				n++
			}
			batch = append(spare[:0], pw.buf[:n]...)
			rest := copy(pw.buf, pw.buf[n:])
			clear(pw.buf[rest:])
			pw.buf = pw.buf[:rest]
			pw.bytes -= bytes
			if rest > 0 {
				// The rest has waited already: it goes out as soon as this request completes.
				pw.first = time.Now().Add(-pw.p.cfg.Linger)
			}
			pw.mu.Unlock()
			pw.send(batch)
			clear(batch)
			spare = batch[:0]
		}
	}
}

// send writes batch with retries and completes its records.
func (pw *partitionWriter) send(batch []record) {
	p := pw.p
	var err error
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = pw.write(batch)
		if err == nil || attempt >= p.cfg.MaxAttempts || !retriable(err) {
			break
		}
		select {
		case <-time.After(backoff):
		case <-p.quit:
			err = errors.Join(err, ErrClosed)
			attempt = p.cfg.MaxAttempts
		}
		if attempt >= p.cfg.MaxAttempts {
			break
		}
		backoff = min(2*backoff, time.Second)
	}
	p.complete(pw.topic, batch, err)
}

// write sends one produce request for batch and returns its error.
func (pw *partitionWriter) write(batch []record) error {
	p := pw.p
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.WriteTimeout)
	defer cancel()
	pw.enc.reset(batch)
	res, err := p.client.Produce(ctx, &kafka.ProduceRequest{
		Topic:        pw.topic,
		Partition:    pw.partition,
		RequiredAcks: kafka.RequireAll,
		Compression:  p.codec,
		Records:      &pw.enc,
	})
	pw.enc.reset(nil)
	if err != nil {
		return err
	}
	if res.Error != nil {
		return res.Error
	}
	for _, rerr := range res.RecordErrors {
		return rerr
	}
	return nil
}

// retriable reports whether a failed request may succeed when sent again: network errors
// and Kafka errors Kafka marks retriable (leader changes, timeouts, ...).
func retriable(err error) bool {
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	return !errors.Is(err, ErrClosed)
}

func (p *Producer) complete(topic string, batch []record, err error) {
	var total, valueBytes int64
	for i := range batch {
		total += batch[i].size
		valueBytes += int64(len(batch[i].value))
	}
	if err != nil {
		p.m.errors(topic).Add(float64(len(batch)))
		p.log.Error("produce failed", "topic", topic, "records", len(batch), "err", err)
	} else {
		c := p.m.counters(topic)
		c.records.Add(float64(len(batch)))
		c.bytes.Add(float64(valueBytes))
	}
	for i := range batch {
		if batch[i].done != nil {
			batch[i].done(err)
		}
	}
	p.mu.Lock()
	p.inflight -= total
	p.m.inflight.Set(float64(p.inflight))
	p.cond.Broadcast()
	p.mu.Unlock()
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

// Close flushes within ctx and closes the producer. Records not acknowledged by then fail
// with ErrClosed.
func (p *Producer) Close(ctx context.Context) error {
	ferr := p.Flush(ctx)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ferr
	}
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	close(p.quit)
	p.wg.Wait()
	// Fail what the senders left buffered.
	p.topicsMu.RLock()
	for _, tw := range p.topics {
		for _, pw := range tw.parts {
			pw.mu.Lock()
			left := pw.buf
			pw.buf, pw.bytes = nil, 0
			pw.mu.Unlock()
			if len(left) > 0 {
				p.complete(pw.topic, left, ErrClosed)
			}
		}
	}
	p.topicsMu.RUnlock()
	if t, ok := p.client.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
	return ferr
}

// recordEncoder hands a batch's records to kafka-go's request encoder one at a time,
// reusing one Record and two readers (the encoder is done with a record before it asks for
// the next), so encoding allocates nothing per record.
type recordEncoder struct {
	batch      []record
	i          int
	now        time.Time // the records' create time (Kafka's time-based retention reads it)
	rec        kafka.Record
	key, value bytesReadCloser
}

func (e *recordEncoder) reset(batch []record) {
	e.batch, e.i, e.rec, e.now = batch, 0, kafka.Record{}, time.Now()
}

// ReadRecord implements kafka.RecordReader.
func (e *recordEncoder) ReadRecord() (*kafka.Record, error) {
	if e.i >= len(e.batch) {
		return nil, io.EOF
	}
	r := &e.batch[e.i]
	e.i++
	e.rec = kafka.Record{Time: e.now, Headers: r.headers}
	if r.key != nil {
		e.key.Reset(r.key)
		e.rec.Key = &e.key
	}
	if r.value != nil {
		e.value.Reset(r.value)
		e.rec.Value = &e.value
	}
	return &e.rec, nil
}

type bytesReadCloser struct{ bytes.Reader }

func (*bytesReadCloser) Close() error { return nil }
