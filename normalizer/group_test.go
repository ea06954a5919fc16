package normalizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/collectors/binance"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

type groupMember struct {
	reg    *prometheus.Registry
	prod   *transport.Producer
	cancel context.CancelFunc
	done   chan error
}

func (br *broker) startGroupMember(t *testing.T) *groupMember {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	m := &groupMember{reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	conns := []collectors.Connector{binance.Connector{}}
	g, err := transport.NewGroup(transport.GroupConfig{Brokers: br.brokers, GroupID: "normalizer-test",
		Topics: GroupTopics(conns), Balancer: transport.BalancerWholeTopic,
		SessionTimeout: 6 * time.Second, HeartbeatInterval: 300 * time.Millisecond}, m.reg, log)
	if err != nil {
		t.Fatal(err)
	}
	if m.prod, err = transport.NewProducer(transport.ProducerConfig{Brokers: br.brokers}, nil, log); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		m.done <- RunGroup(ctx, g, Config{Brokers: br.brokers, CheckpointEvery: 100 * time.Millisecond},
			conns, m.prod, NewMetrics(m.reg), log)
	}()
	return m
}

func (m *groupMember) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			t.Fatalf("normalizer group member: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("normalizer group member did not stop")
	}
	if err := m.prod.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// waitCheckpointAt waits for a venue checkpoint covering the raw topic's current ends.
func (br *broker) waitCheckpointAt(t *testing.T, ctx context.Context) state {
	t.Helper()
	ends, err := transport.EndOffsets(ctx, br.brokers, transport.RawTopic(venue))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := LatestCheckpoint(ctx, br.brokers, venue); err == nil && b != nil {
			var st state
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			caught := true
			for p, end := range ends {
				if end > 0 && st.Offsets[p] != end {
					caught = false
				}
			}
			if caught {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint reached the raw ends %v", ends)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunGroupMovesVenue: a venue's raw topic is normalized by one group member; when that
// member leaves, another takes the venue over from its checkpoint. Every trade is emitted
// exactly once across the move, and the new owner's checkpoint generations lie above the
// old owner's (GenFloor), so their book checkpoint records can never be confused.
func TestRunGroupMovesVenue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	br := startBroker(t, ctx)
	const e1 = uint64(1795307790000000000)
	var b rawBuilder
	b.epochStart(e1)
	b.connect(ms(1))
	b.add(md.RawREST, md.DirIn, ms(3), "200 /api/v3/exchangeInfo", exchangeInfo)
	b.add(md.RawFrame, md.DirOut, ms(4), "", `{"id":1,"method":"SUBSCRIBE","params":["btcusdt@trade"]}`)
	for id := uint64(100); id < 150; id++ {
		btc(&b, ms(10+int(id)), id)
	}
	br.writeRaw(t, ctx, b.recs)

	m1 := br.startGroupMember(t)
	st1 := br.waitCheckpointAt(t, ctx)
	if st1.Gen < 1<<32 {
		t.Fatalf("first owner's checkpoint generation %#x: want the group generation in the high half", st1.Gen)
	}
	m2 := br.startGroupMember(t)
	time.Sleep(500 * time.Millisecond) // m2 joins; the whole topic stays with one member
	m1.stop(t)                         // the venue moves to m2
	b.recs = b.recs[:0]
	for id := uint64(150); id < 200; id++ {
		btc(&b, ms(10+int(id)), id)
	}
	br.writeRaw(t, ctx, b.recs)
	st2 := br.waitCheckpointAt(t, ctx)
	if st2.Gen>>32 <= st1.Gen>>32 {
		t.Fatalf("new owner's checkpoint generation %#x not above the old owner's %#x", st2.Gen, st1.Gen)
	}
	m2.stop(t)

	_, count := decodeTrades(t, br.readTopic(t, ctx, transport.TopicTrades))
	var want []tradeKey
	for id := uint64(100); id < 200; id++ {
		want = append(want, tradeKey{"BTC-USDT", id})
	}
	checkOnce(t, "after the venue moved", count, want)
	if got := metricSum(t, m2.reg, "tickflow_transport_group_generations_total", nil); got < 2 {
		t.Fatalf("m2 generations_total = %v, want at least 2 (joined, then took the venue over)", got)
	}
}

// TestNormalizerGuardRefusesCheckpoint: a normalizer whose guard refuses (a group member
// whose lease expired) writes no checkpoint and stops with the guard's error.
func TestNormalizerGuardRefusesCheckpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	br := startBroker(t, ctx)
	var b rawBuilder
	b.epochStart(1795307790000000000)
	b.connect(ms(1))
	br.writeRaw(t, ctx, b.recs)
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: br.brokers}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(ctx)
	n := New(Config{Brokers: br.brokers, CheckpointEvery: 50 * time.Millisecond,
		Guard: func() error { return fmt.Errorf("frozen: %w", transport.ErrLeaseExpired) }},
		binance.Connector{}, prod, nil, slog.New(slog.DiscardHandler))
	err = n.Run(ctx)
	if !errors.Is(err, transport.ErrLeaseExpired) {
		t.Fatalf("Run = %v, want the guard's ErrLeaseExpired", err)
	}
	if ck, err := LatestCheckpoint(ctx, br.brokers, venue); err != nil || ck != nil {
		t.Fatalf("checkpoint %q, %v: want none written", ck, err)
	}
}
