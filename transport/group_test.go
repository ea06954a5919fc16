package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

func TestWholeTopicBalancer(t *testing.T) {
	members := []kafka.GroupMember{
		{ID: "b", Topics: []string{"raw.x", "raw.y", "raw.z"}},
		{ID: "a", Topics: []string{"raw.x", "raw.y", "raw.z"}},
		{ID: "c", Topics: []string{"raw.q"}},
	}
	var parts []kafka.Partition
	for _, topic := range []string{"raw.x", "raw.y", "raw.z"} {
		for p := 3; p >= 0; p-- {
			parts = append(parts, kafka.Partition{Topic: topic, ID: p})
		}
	}
	got := WholeTopicBalancer{}.AssignGroups(members, parts)
	owners := map[string]string{}
	for m, topics := range got {
		for topic, ps := range topics {
			if fmt.Sprint(ps) != "[0 1 2 3]" {
				t.Errorf("member %s got %s partitions %v; want every partition, sorted", m, topic, ps)
			}
			if prev, ok := owners[topic]; ok {
				t.Errorf("topic %s assigned to %s and %s", topic, prev, m)
			}
			owners[topic] = m
		}
	}
	if len(owners) != 3 || len(got["c"]) != 0 {
		t.Fatalf("owners %v, c got %v: want 3 topics over a and b only", owners, got["c"])
	}
	if n := len(got["a"]) + len(got["b"]); n != 3 || len(got["a"]) < 1 || len(got["b"]) < 1 {
		t.Fatalf("a has %d topics, b %d: want them spread", len(got["a"]), len(got["b"]))
	}
}

func TestAssignmentLease(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m, _ := newGroupMetrics(nil, "g", func() float64 { return 0 })
	a := &Assignment{Generation: 7, ctx: ctx, sess: 10 * time.Second, margin: 2 * time.Second, m: m}
	if err := a.Check(); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("before the first heartbeat: %v, want ErrLeaseExpired", err)
	}
	a.renew(time.Now().Add(-7 * time.Second))
	if err := a.Check(); err != nil {
		t.Fatalf("heartbeat 7s ago, lease 8s: %v", err)
	}
	if r := a.remaining(); r <= 0 || r > time.Second {
		t.Fatalf("remaining %v, want within (0, 1s]", r)
	}
	// A member frozen past its lease (SIGSTOP) sees it expired as soon as it runs again.
	a.renewed = time.Now().Add(-8*time.Second - time.Millisecond)
	if err := a.Check(); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("heartbeat 8s ago, lease 8s: %v, want ErrLeaseExpired", err)
	}
	a.renew(time.Now())
	cancel()
	if err := a.Check(); err != nil {
		t.Fatalf("generation ending, handler still running, lease fresh: %v (the in-flight batch may be written)", err)
	}
	a.revoke(fmt.Errorf("handler returned: %w", ErrGenerationEnded))
	if err := a.Check(); !errors.Is(err, ErrGenerationEnded) {
		t.Fatalf("after the handler returned: %v, want ErrGenerationEnded", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	b := &Assignment{ctx: ctx2, sess: 10 * time.Second, margin: 2 * time.Second, m: m}
	b.renew(time.Now())
	b.revoke(fmt.Errorf("unknown member: %w", ErrLeaseExpired))
	b.renew(time.Now())
	if err := b.Check(); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("revoked lease: %v", err)
	}
}

// groupMember runs one Group member in the background and records what it owns.
type groupMember struct {
	mu     sync.Mutex
	parts  []TopicPartition
	gens   []*Assignment
	checks []error // Check() right after the lease started, per generation
	cancel context.CancelFunc
	done   chan error
}

func startMember(t *testing.T, brokers []string, topic string, reg prometheus.Registerer) *groupMember {
	t.Helper()
	g, err := NewGroup(GroupConfig{Brokers: brokers, GroupID: "test-group", Topics: []string{topic},
		SessionTimeout: 6 * time.Second, HeartbeatInterval: 300 * time.Millisecond}, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &groupMember{cancel: cancel, done: make(chan error, 1)}
	go func() {
		m.done <- g.Run(ctx, func(a *Assignment) error {
			err := a.WaitLease()
			if err == nil {
				err = a.Check()
			}
			m.mu.Lock()
			m.parts, m.gens, m.checks = a.Partitions, append(m.gens, a), append(m.checks, err)
			m.mu.Unlock()
			<-a.Context().Done()
			m.mu.Lock()
			m.parts = nil
			m.mu.Unlock()
			return nil
		})
	}()
	return m
}

func (m *groupMember) owned() []TopicPartition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parts
}

func (m *groupMember) stop(t *testing.T) {
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			t.Fatalf("group member: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("group member did not stop")
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGroupOnEmbeddedBroker: kafka-go's ConsumerGroup works against kfake; two members
// split the partitions, each generation's lease holds while it lasts and is over after it,
// and the survivor takes everything back when the other leaves.
func TestGroupOnEmbeddedBroker(t *testing.T) {
	b, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "group.test"
	if err := EnsureTopics(ctx, brokers, []TopicSpec{{Name: topic, Partitions: 4}}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	a := startMember(t, brokers, topic, reg)
	waitUntil(t, 30*time.Second, "member a to own all 4 partitions", func() bool { return len(a.owned()) == 4 })
	bm := startMember(t, brokers, topic, nil)
	waitUntil(t, 30*time.Second, "a and b to own 2 partitions each", func() bool {
		pa, pb := a.owned(), bm.owned()
		if len(pa) != 2 || len(pb) != 2 {
			return false
		}
		seen := map[TopicPartition]bool{}
		for _, p := range append(append([]TopicPartition{}, pa...), pb...) {
			seen[p] = true
		}
		return len(seen) == 4
	})
	a.mu.Lock()
	first := a.gens[0]
	for i, err := range a.checks {
		if err != nil {
			t.Errorf("member a, generation %d: Check after the lease started = %v", a.gens[i].Generation, err)
		}
	}
	a.mu.Unlock()
	if err := first.Check(); !errors.Is(err, ErrGenerationEnded) {
		t.Fatalf("a's first generation after the rebalance: Check = %v, want ErrGenerationEnded", err)
	}
	bm.stop(t)
	waitUntil(t, 30*time.Second, "a to own all 4 partitions again", func() bool { return len(a.owned()) == 4 })
	a.stop(t)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var gens float64
	for _, mf := range mfs {
		if mf.GetName() == "tickflow_transport_group_generations_total" {
			gens = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if gens < 3 {
		t.Fatalf("generations_total = %v, want at least 3 (alone, with b, alone again)", gens)
	}
}
