//go:build integration

package transport

// Integration tests against a real Apache Kafka broker (KRaft), started by
// deploy/ci/kafka.sh start (or deploy/ci/services.sh up):
//
//	TICKFLOW_KAFKA=127.0.0.1:19092 go test -tags integration -run Integration ./transport/
//
// Each run works on topics of its own (a fresh venue name), so runs never see each other's
// records, and deletes them at the end.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// realBroker returns the broker address from TICKFLOW_KAFKA, skipping the test when unset.
func realBroker(t *testing.T) []string {
	t.Helper()
	addr := os.Getenv("TICKFLOW_KAFKA")
	if addr == "" {
		t.Skip("TICKFLOW_KAFKA is not set: start a real broker with deploy/ci/kafka.sh start " +
			"and set TICKFLOW_KAFKA=127.0.0.1:19092")
	}
	return []string{addr}
}

// testVenue returns a venue name no earlier run used, so its raw topic is new.
func testVenue() string {
	return "it" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

func deleteTopics(t *testing.T, brokers []string, topics ...string) {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		t.Logf("delete topics %v: %v", topics, err)
		return
	}
	for name, e := range res.Errors {
		if e != nil {
			t.Logf("delete topic %s: %v", name, e)
		}
	}
}

// topicConfigs reads the named configs of a topic from the broker.
func topicConfigs(ctx context.Context, t *testing.T, brokers []string, topic string, names ...string) map[string]string {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
	res, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: names,
		}},
	})
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	out := map[string]string{}
	for _, r := range res.Resources {
		if r.Error != nil {
			t.Fatalf("describe configs of %s: %v", topic, r.Error)
		}
		for _, e := range r.ConfigEntries {
			out[e.ConfigName] = e.ConfigValue
		}
	}
	return out
}

func TestIntegrationKafkaTopicsAndConfigs(t *testing.T) {
	brokers := realBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	venue := testVenue()
	d := TopicDefaults{RawRetention: 36 * time.Hour, MDRetention: 5 * 24 * time.Hour}
	specs := Topics([]string{venue}, d)
	if err := EnsureTopics(ctx, brokers, specs); err != nil {
		t.Fatal(err)
	}
	defer deleteTopics(t, brokers, RawTopic(venue), ControlTopic(venue))
	// A second EnsureTopics is a no-op (TopicAlreadyExists is not an error).
	if err := EnsureTopics(ctx, brokers, specs); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}

	for _, s := range specs {
		parts, err := Partitions(ctx, brokers, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name == RawTopic(venue) && len(parts) != s.Partitions {
			// md topics may predate this run with other counts only if someone created them
			// by hand; the raw topic is new and must match exactly.
			t.Fatalf("%s: %d partitions, want %d", s.Name, len(parts), s.Partitions)
		}
	}

	raw := topicConfigs(ctx, t, brokers, RawTopic(venue), "max.message.bytes", "retention.ms", "cleanup.policy")
	want := map[string]string{
		"max.message.bytes": strconv.Itoa(16 << 20),
		"retention.ms":      strconv.FormatInt((36 * time.Hour).Milliseconds(), 10),
		"cleanup.policy":    "delete",
	}
	for k, v := range want {
		if raw[k] != v {
			t.Errorf("%s %s = %q, want %q", RawTopic(venue), k, raw[k], v)
		}
	}
	ctl := topicConfigs(ctx, t, brokers, ControlTopic(venue), "retention.ms")
	if got := ctl["retention.ms"]; got != strconv.FormatInt(time.Hour.Milliseconds(), 10) {
		t.Errorf("%s retention.ms = %q, want 1h", ControlTopic(venue), got)
	}
	// The compacted checkpoint topics (shared by every run; created by the first).
	cp := topicConfigs(ctx, t, brokers, TopicBookCheckpoints, "cleanup.policy", "max.message.bytes")
	if cp["cleanup.policy"] != "compact" || cp["max.message.bytes"] != strconv.Itoa(16<<20) {
		t.Errorf("%s configs = %v, want compact and 16 MiB", TopicBookCheckpoints, cp)
	}
	// md topics carry a retention; it is whatever the first run created them with, so only
	// check that one is set.
	md := topicConfigs(ctx, t, brokers, TopicTrades, "retention.ms", "max.message.bytes")
	if md["retention.ms"] == "" || md["max.message.bytes"] != strconv.Itoa(16<<20) {
		t.Errorf("%s configs = %v", TopicTrades, md)
	}
}

// TestIntegrationKafkaOrderAndCount produces 100,000 records over 16 keys with acks=all and
// reads them back from the oldest offset: every record exactly once, per key in order.
func TestIntegrationKafkaOrderAndCount(t *testing.T) {
	brokers := realBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	venue := testVenue()
	if err := EnsureTopics(ctx, brokers, Topics([]string{venue}, TopicDefaults{})); err != nil {
		t.Fatal(err)
	}
	topic := RawTopic(venue)
	defer deleteTopics(t, brokers, topic, ControlTopic(venue))

	const n, keys = 100_000, 16
	p, err := NewProducer(ProducerConfig{Brokers: brokers}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var acked, failed atomic.Int64
	done := func(err error) {
		if err != nil {
			failed.Add(1)
			return
		}
		acked.Add(1)
	}
	t0 := time.Now()
	for i := range n {
		k := i % keys
		key := []byte(fmt.Sprintf("%s/%d", venue, k))
		val := make([]byte, 16, 64)
		binary.BigEndian.PutUint64(val, uint64(k))
		binary.BigEndian.PutUint64(val[8:], uint64(i/keys)) // per-key sequence
		val = append(val, "payload-payload-payload"...)
		if err := p.Produce(ctx, topic, key, val, done); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	produced := time.Since(t0)
	if acked.Load() != n || failed.Load() != 0 {
		t.Fatalf("acked %d, failed %d; want %d, 0", acked.Load(), failed.Load(), n)
	}
	ends, err := EndOffsets(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != n {
		t.Fatalf("end offsets sum to %d, want %d", total, n)
	}

	parts, err := Partitions(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	c := NewConsumer(ConsumerConfig{Brokers: brokers, Name: "it"}, nil, nil)
	defer c.Close()
	var offs []Offset
	for _, pt := range parts {
		offs = append(offs, Offset{Topic: topic, Partition: pt, Next: OffsetOldest})
	}
	if err := c.Assign(offs); err != nil {
		t.Fatal(err)
	}
	next := make([]uint64, keys)    // next expected per-key sequence
	keyPart := make(map[uint64]int) // the partition each key lives on
	lastOff := make(map[int]int64)  // per partition, the last offset seen
	t1 := time.Now()
	got := 0
	for got < n {
		msgs, err := c.PollTimeout(ctx, 4096, 10*time.Second)
		if err != nil {
			t.Fatalf("poll after %d records: %v", got, err)
		}
		if len(msgs) == 0 {
			t.Fatalf("no record for 10s after %d of %d", got, n)
		}
		for _, m := range msgs {
			if len(m.Value) < 16 {
				t.Fatalf("short value at %s/%d@%d", m.Topic, m.Partition, m.Offset)
			}
			k := binary.BigEndian.Uint64(m.Value)
			seq := binary.BigEndian.Uint64(m.Value[8:])
			if want := fmt.Sprintf("%s/%d", venue, k); string(m.Key) != want {
				t.Fatalf("key %q carries value of key %q", m.Key, want)
			}
			if seq != next[k] {
				t.Fatalf("key %d: sequence %d, want %d (reordered, lost or duplicated)", k, seq, next[k])
			}
			next[k]++
			if p, ok := keyPart[k]; ok && p != m.Partition {
				t.Fatalf("key %d on partitions %d and %d", k, p, m.Partition)
			}
			keyPart[k] = m.Partition
			if lo, ok := lastOff[m.Partition]; ok && m.Offset != lo+1 {
				t.Fatalf("partition %d: offset %d after %d", m.Partition, m.Offset, lo)
			}
			lastOff[m.Partition] = m.Offset
			got++
		}
	}
	// Nothing more arrives.
	if msgs, err := c.PollTimeout(ctx, 10, time.Second); err != nil || len(msgs) != 0 {
		t.Fatalf("extra records after %d: %d, %v", n, len(msgs), err)
	}
	for k, s := range next {
		if s != n/keys {
			t.Errorf("key %d: %d records, want %d", k, s, n/keys)
		}
	}
	used := map[int]bool{}
	for _, p := range keyPart {
		used[p] = true
	}
	t.Logf("%d records over %d keys on %d partitions: produced in %v (%.0f/s, acks=all), consumed in %v",
		n, keys, len(used), produced.Round(time.Millisecond), float64(n)/produced.Seconds(),
		time.Since(t1).Round(time.Millisecond))
}

// TestIntegrationKafkaLargeRecord sends a 5 MB record through a raw topic (max.message.bytes
// 16 MiB there and on the broker) and reads it back intact.
func TestIntegrationKafkaLargeRecord(t *testing.T) {
	brokers := realBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	venue := testVenue()
	if err := EnsureTopics(ctx, brokers, Topics([]string{venue}, TopicDefaults{RawPartitions: 1})); err != nil {
		t.Fatal(err)
	}
	topic := RawTopic(venue)
	defer deleteTopics(t, brokers, topic, ControlTopic(venue))

	big := make([]byte, 5_000_000)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	small := []byte("after the big one")
	p, err := NewProducer(ProducerConfig{Brokers: brokers}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	for _, v := range [][]byte{big, small} {
		if err := p.Produce(ctx, topic, []byte(venue+"/0"), v, func(err error) { errc <- err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	c := NewConsumer(ConsumerConfig{Brokers: brokers}, nil, nil)
	defer c.Close()
	if err := c.Assign([]Offset{{Topic: topic, Partition: 0, Next: OffsetOldest}}); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for len(got) < 2 {
		msgs, err := c.PollTimeout(ctx, 10, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			t.Fatalf("no record for 20s (got %d of 2)", len(got))
		}
		for _, m := range msgs {
			got = append(got, slices.Clone(m.Value))
		}
	}
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2", len(got))
	}
	if sha256.Sum256(got[0]) != sha256.Sum256(big) || len(got[0]) != len(big) {
		t.Fatalf("5 MB record came back as %d bytes with another checksum", len(got[0]))
	}
	if !bytes.Equal(got[1], small) {
		t.Fatalf("second record = %q", got[1])
	}
}
