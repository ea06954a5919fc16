package transport

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestConsumerPollOrderStartsAndLag produces to a 3-partition topic and checks that a
// consumer started at OffsetOldest returns every record once in per-partition offset order
// even when Poll's max splits fetched chunks, that one started at an explicit offset skips
// what is before it, that one started at OffsetNewest sees only later records, and that Lag
// returns to 0 once everything was polled.
func TestConsumerPollOrderStartsAndLag(t *testing.T) {
	const topic = "consume.test"
	brokers := startTopics(t, TopicSpec{Name: topic, Partitions: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := NewProducer(ProducerConfig{Brokers: brokers}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			if err := p.Produce(ctx, topic, []byte(fmt.Sprintf("k%d", i%7)), []byte(fmt.Sprintf("v%05d", i)), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 3000)

	newest := NewConsumer(ConsumerConfig{Brokers: brokers, MaxWait: 100 * time.Millisecond}, nil, nil)
	defer newest.Close()
	if err := newest.Assign([]Offset{{topic, 0, OffsetNewest}, {topic, 1, OffsetNewest}, {topic, 2, OffsetNewest}}); err != nil {
		t.Fatal(err)
	}

	all := NewConsumer(ConsumerConfig{Brokers: brokers, MaxWait: 100 * time.Millisecond}, nil, nil)
	defer all.Close()
	if err := all.Assign([]Offset{{topic, 0, OffsetOldest}, {topic, 1, OffsetOldest}, {topic, 2, OffsetOldest}}); err != nil {
		t.Fatal(err)
	}
	poll := func(c *Consumer, want int, max int) []Message {
		t.Helper()
		var got []Message
		for len(got) < want {
			msgs, err := c.Poll(ctx, max)
			if err != nil {
				t.Fatalf("poll after %d of %d: %v", len(got), want, err)
			}
			if len(msgs) > max {
				t.Fatalf("poll returned %d messages, max %d", len(msgs), max)
			}
			for _, m := range msgs {
				m.Key, m.Value = append([]byte(nil), m.Key...), append([]byte(nil), m.Value...)
				got = append(got, m)
			}
		}
		return got
	}
	got := poll(all, 3000, 37)
	seen := map[string]bool{}
	next := map[int]int64{}
	for _, m := range got {
		if seen[string(m.Value)] {
			t.Fatalf("%s returned twice", m.Value)
		}
		seen[string(m.Value)] = true
		if m.Offset != next[m.Partition] {
			t.Fatalf("partition %d: offset %d after %d", m.Partition, m.Offset, next[m.Partition]-1)
		}
		next[m.Partition]++
		if m.Time == 0 {
			t.Fatalf("message %s without a timestamp", m.Value)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for all.Lag() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if l := all.Lag(); l != 0 {
		t.Fatalf("lag %d after consuming everything", l)
	}

	// Explicit start: partition 0 from its offset 10 on.
	from := NewConsumer(ConsumerConfig{Brokers: brokers, MaxWait: 100 * time.Millisecond}, nil, nil)
	defer from.Close()
	if err := from.Assign([]Offset{{topic, 0, 10}}); err != nil {
		t.Fatal(err)
	}
	part0 := poll(from, int(next[0])-10, 1000)
	if part0[0].Offset != 10 || part0[len(part0)-1].Offset != next[0]-1 {
		t.Fatalf("explicit start: offsets %d..%d, want 10..%d", part0[0].Offset, part0[len(part0)-1].Offset, next[0]-1)
	}

	// Once the newest consumer has resolved its start offsets it sees only what comes next.
	resolved := func() bool {
		newest.mu.Lock()
		defer newest.mu.Unlock()
		for _, st := range newest.parts {
			if st.next < 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !resolved(); {
		if time.Now().After(deadline) {
			t.Fatal("OffsetNewest never resolved")
		}
		time.Sleep(10 * time.Millisecond)
	}
	produce(3000, 3100)
	later := poll(newest, 100, 1000)
	for _, m := range later {
		var i int
		if _, err := fmt.Sscanf(string(m.Value), "v%d", &i); err != nil || i < 3000 {
			t.Fatalf("newest consumer returned old record %s", m.Value)
		}
	}
}

// TestConsumerAssignErrors: bad assignments are refused with a clear error.
func TestConsumerAssignErrors(t *testing.T) {
	c := NewConsumer(ConsumerConfig{}, nil, nil)
	if err := c.Assign([]Offset{{"t", 0, 0}}); err == nil {
		t.Fatal("assign without brokers succeeded")
	}
	c = NewConsumer(ConsumerConfig{Brokers: []string{"127.0.0.1:1"}}, nil, nil)
	if err := c.Assign([]Offset{{"t", 0, -7}}); err == nil {
		t.Fatal("assign at offset -7 succeeded")
	}
	c.Close()
}
