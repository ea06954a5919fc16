package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// startTopics starts an embedded broker with the given topics and returns its brokers.
func startTopics(t testing.TB, specs ...TopicSpec) []string {
	t.Helper()
	b, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := []string{b.Addr()}
	if err := EnsureTopics(ctx, brokers, specs); err != nil {
		t.Fatal(err)
	}
	return brokers
}

// readAll reads every record of topic's partitions from the start up to their end offsets.
func readAll(t *testing.T, brokers []string, topic string) map[int][]kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := EndOffsets(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]kafka.Message{}
	for part, end := range ends {
		if end == 0 {
			continue
		}
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, part)
		if err != nil {
			t.Fatal(err)
		}
		for int64(len(out[part])) < end {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			batch := conn.ReadBatch(1, 64<<20)
			for {
				m, err := batch.ReadMessage()
				if err != nil {
					break
				}
				out[part] = append(out[part], m)
			}
			_ = batch.Close()
			if _, err := conn.Seek(int64(len(out[part])), kafka.SeekAbsolute); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
	}
	return out
}

// TestProducerOrderPartitionsAndCompletion produces from several goroutines to an
// 8-partition topic and checks: every record is acknowledged exactly once, each key lands on
// the partition Kafka's murmur2 partitioner (Java client default) picks, records of one key
// are stored in produce order, headers survive, and records carry a create time (Kafka's
// time-based retention reads it; kafka-go's Writer sends 0).
func TestProducerOrderPartitionsAndCompletion(t *testing.T) {
	const topic = "order.test"
	brokers := startTopics(t, TopicSpec{Name: topic, Partitions: 8})
	// Small batches and linger so batching boundaries fall everywhere.
	p, err := NewProducer(ProducerConfig{Brokers: brokers, BatchSize: 7, Linger: time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const writers, perWriter, keysPerWriter = 4, 3000, 5
	var mu sync.Mutex
	doneCount := map[string]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				key := []byte(fmt.Sprintf("w%d/k%d", w, i%keysPerWriter))
				val := []byte(fmt.Sprintf("%s#%06d", key, i))
				var hdr []Header
				if i%100 == 0 {
					hdr = []Header{{Key: "reason", Value: []byte("h" + string(val))}}
				}
				err := p.ProduceWithHeaders(ctx, topic, key, val, hdr, func(err error) {
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("record %s failed: %v", val, err)
					}
					doneCount[string(val)]++
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(doneCount) != writers*perWriter {
		t.Fatalf("%d records completed, want %d", len(doneCount), writers*perWriter)
	}
	for v, n := range doneCount {
		if n != 1 {
			t.Fatalf("record %s completed %d times", v, n)
		}
	}

	ids := []int{0, 1, 2, 3, 4, 5, 6, 7}
	var bal kafka.Murmur2Balancer
	lastSeq := map[string]int{}
	total, headers := 0, 0
	for part, msgs := range readAll(t, brokers, topic) {
		for _, m := range msgs {
			total++
			if want := bal.Balance(kafka.Message{Key: m.Key}, ids...); want != part {
				t.Fatalf("key %s on partition %d, murmur2 says %d", m.Key, part, want)
			}
			var seq int
			if _, err := fmt.Sscanf(string(m.Value[bytes.IndexByte(m.Value, '#')+1:]), "%d", &seq); err != nil {
				t.Fatal(err)
			}
			if prev, ok := lastSeq[string(m.Key)]; ok && seq <= prev {
				t.Fatalf("key %s: %d stored after %d", m.Key, seq, prev)
			}
			lastSeq[string(m.Key)] = seq
			if seq%100 == 0 {
				if len(m.Headers) != 1 || m.Headers[0].Key != "reason" || string(m.Headers[0].Value) != "h"+string(m.Value) {
					t.Fatalf("record %s headers = %v", m.Value, m.Headers)
				}
				headers++
			}
			if m.Time.Before(start.Add(-time.Second)) || m.Time.After(time.Now().Add(time.Second)) {
				t.Fatalf("record %s create time %v, want about now", m.Value, m.Time)
			}
		}
	}
	if total != writers*perWriter || headers != writers*perWriter/100 {
		t.Fatalf("stored %d records (%d with headers), want %d (%d)", total, headers, writers*perWriter, writers*perWriter/100)
	}
}

// TestProducerFailsAfterAttempts points a producer at a broker that goes away: buffered
// records must fail (done with an error, exactly once) rather than hang, and the in-flight
// bytes must return to zero.
func TestProducerFailsAfterAttempts(t *testing.T) {
	const topic = "fail.test"
	b, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers := []string{b.Addr()}
	if err := EnsureTopics(ctx, brokers, []TopicSpec{{Name: topic, Partitions: 2}}); err != nil {
		t.Fatal(err)
	}
	p, err := NewProducer(ProducerConfig{Brokers: brokers, MaxAttempts: 3, WriteTimeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Resolve the topic while the broker is up, then stop it.
	if err := p.Produce(ctx, topic, []byte("k"), []byte("first"), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b.Close()
	var failed, acked atomic.Int64
	for i := range 20 {
		if err := p.Produce(ctx, topic, []byte(fmt.Sprint(i)), []byte("v"), func(err error) {
			if err == nil {
				acked.Add(1)
			} else {
				failed.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush did not finish: %v", err)
	}
	if failed.Load() != 20 || acked.Load() != 0 {
		t.Fatalf("failed %d acked %d, want 20/0", failed.Load(), acked.Load())
	}
	if p.InFlightBytes() != 0 {
		t.Fatalf("in-flight bytes %d after all records failed", p.InFlightBytes())
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, topic, nil, []byte("late"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("produce after close: %v, want ErrClosed", err)
	}
}

// TestProducerUnknownTopic: producing to a topic that does not exist fails with a message
// that says what to do, instead of blocking forever.
func TestProducerUnknownTopic(t *testing.T) {
	brokers := startTopics(t, TopicSpec{Name: "exists", Partitions: 1})
	p, err := NewProducer(ProducerConfig{Brokers: brokers, WriteTimeout: 500 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	err = p.Produce(context.Background(), "missing.topic", nil, []byte("v"), nil)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("create the topic")) {
		t.Fatalf("produce to a missing topic: %v", err)
	}
}
