package transport

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// kafka-go keeps idle connection reapers on its default transport.
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}

func TestEmbeddedProduceConsumeAndRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := StartEmbedded(EmbeddedConfig{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers := []string{b.Addr()}
	if err := EnsureTopics(ctx, brokers, Topics([]string{"binance"}, TopicDefaults{})); err != nil {
		t.Fatal(err)
	}
	// Creating again is a no-op.
	if err := EnsureTopics(ctx, brokers, Topics([]string{"binance"}, TopicDefaults{})); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	parts, err := Partitions(ctx, brokers, RawTopic("binance"))
	if err != nil || len(parts) != 4 {
		t.Fatalf("partitions = %v, %v; want 4", parts, err)
	}

	reg := prometheus.NewRegistry()
	p, err := NewProducer(ProducerConfig{Brokers: brokers}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	var acked, failed atomic.Int64
	for i := 0; i < n; i++ {
		key := []byte(fmt.Sprintf("binance/k%d", i%3))
		val := []byte(fmt.Sprintf("%s#%06d", key, i))
		if err := p.Produce(ctx, TopicTrades, key, val, func(err error) {
			if err != nil {
				failed.Add(1)
			} else {
				acked.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if acked.Load() != n || failed.Load() != 0 {
		t.Fatalf("acked %d failed %d, want %d/0", acked.Load(), failed.Load(), n)
	}
	ends, err := EndOffsets(ctx, brokers, TopicTrades)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != n {
		t.Fatalf("end offsets sum %d, want %d", total, n)
	}

	read := func(brokers []string) map[string][]string {
		c := NewConsumer(ConsumerConfig{Brokers: brokers, Name: "test"}, nil, nil)
		defer c.Close()
		var offs []Offset
		for p := range ends {
			offs = append(offs, Offset{Topic: TopicTrades, Partition: p, Next: OffsetOldest})
		}
		if err := c.Assign(offs); err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		cnt := 0
		for cnt < n {
			ms, err := c.Poll(ctx, 1000)
			if err != nil {
				t.Fatalf("poll after %d: %v", cnt, err)
			}
			for _, m := range ms {
				got[string(m.Key)] = append(got[string(m.Key)], string(m.Value))
				cnt++
			}
		}
		return got
	}
	check := func(got map[string][]string) {
		t.Helper()
		for k, vs := range got {
			for i := 1; i < len(vs); i++ {
				if vs[i] <= vs[i-1] {
					t.Fatalf("key %s out of order: %s after %s", k, vs[i], vs[i-1])
				}
			}
		}
		if len(got) != 3 {
			t.Fatalf("keys = %d, want 3", len(got))
		}
	}
	check(read(brokers))

	// Restart on the same data dir: everything is still there.
	b.Close()
	b2, err := StartEmbedded(EmbeddedConfig{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	check(read([]string{b2.Addr()}))
}

func TestTryProduceFull(t *testing.T) {
	b, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := EnsureTopics(ctx, []string{b.Addr()}, []TopicSpec{{Name: "t", Partitions: 1}}); err != nil {
		t.Fatal(err)
	}
	p, err := NewProducer(ProducerConfig{Brokers: []string{b.Addr()}, MaxInFlightBytes: 1000, Linger: 200 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	var full bool
	for i := 0; i < 100; i++ {
		if err := p.TryProduce("t", nil, make([]byte, 100), nil); err == ErrFull {
			full = true
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("TryProduce never reported ErrFull with a 1000-byte bound")
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if p.InFlightBytes() != 0 {
		t.Fatalf("in flight after flush = %d", p.InFlightBytes())
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := NewProducer(ProducerConfig{}, nil, nil); err == nil {
		t.Fatal("producer without brokers accepted")
	}
	if _, err := NewProducer(ProducerConfig{Brokers: []string{"x:1"}, Compression: "brotli"}, nil, nil); err == nil {
		t.Fatal("unknown compression accepted")
	}
	if _, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir(), Addr: "0.0.0.0:9092"}, nil); err == nil {
		t.Fatal("non-loopback embedded address accepted")
	}
}

// TestEmbeddedRetention checks that tickflow's own retention pass deletes expired data, so
// the embedded broker's disk stays bounded (kfake does not re-arm its cleaner after a reload).
func TestEmbeddedRetention(t *testing.T) {
	dir := t.TempDir()
	b, err := StartEmbedded(EmbeddedConfig{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := TopicSpec{Name: "short", Partitions: 1, Configs: map[string]string{"retention.ms": "200", "cleanup.policy": "delete"}}
	if err := EnsureTopics(ctx, []string{b.Addr()}, []TopicSpec{spec}); err != nil {
		t.Fatal(err)
	}
	p, err := NewProducer(ProducerConfig{Brokers: []string{b.Addr()}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := p.Produce(ctx, "short", nil, make([]byte, 1000), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Reload from the data dir (the case kfake's own cleaner misses), wait past retention.
	b.Close()
	b, err = StartEmbedded(EmbeddedConfig{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	time.Sleep(400 * time.Millisecond)
	b.ApplyRetention()
	cl := &kafka.Client{Addr: kafka.TCP(b.Addr()), Timeout: 10 * time.Second}
	res, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{"short": {kafka.FirstOffsetOf(0)}}})
	if err != nil {
		t.Fatal(err)
	}
	if first := res.Topics["short"][0].FirstOffset; first != 100 {
		t.Fatalf("log start offset after retention = %d, want 100 (all records expired)", first)
	}
}
