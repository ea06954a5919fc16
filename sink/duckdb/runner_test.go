package duckdb

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

// sliceSource serves a fixed list of messages from a start index, then blocks.
type sliceSource struct {
	mu   sync.Mutex
	msgs []transport.Message
	pos  int
}

func (s *sliceSource) Poll(ctx context.Context, max int) ([]transport.Message, error) {
	s.mu.Lock()
	n := min(max, len(s.msgs)-s.pos)
	out := s.msgs[s.pos : s.pos+n]
	s.pos += n
	s.mu.Unlock()
	if n > 0 {
		return out, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *sliceSource) drained() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos == len(s.msgs)
}

func runUntilDrained(t *testing.T, src *sliceSource, st sink.Store) {
	t.Helper()
	r, err := sink.NewRunner(src, st, sink.Config{MaxRows: 300, MaxDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for !src.drained() {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunnerWithDuckDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e2e.duckdb")
	var msgs []transport.Message
	for i := range 1000 {
		tr := mkTrade("binance", []string{"BTC-USDT", "ETH-USDT"}[i%2], uint64(i/2+1), uint64(i))
		msgs = append(msgs, transport.Message{Topic: transport.TopicTrades, Partition: i % 2,
			Offset: int64(i / 2), Value: md.AppendTrade(nil, &tr)})
	}
	gap := mkIntegrity("binance", "BTC-USDT", md.IntegrityGap, 1)
	gap.From, gap.To, gap.FirstID, gap.LastID = baseTime, baseTime+1, 10, 20
	msgs = append(msgs, transport.Message{Topic: transport.TopicIntegrity, Offset: 0,
		Value: md.AppendIntegrity(nil, &gap)})

	s := openAt(t, path)
	runUntilDrained(t, &sliceSource{msgs: msgs}, s)
	if n := queryInt(t, s, "SELECT count(*) FROM trades"); n != 1000 {
		t.Fatalf("%d trades", n)
	}
	if n := queryInt(t, s, "SELECT count(*) FROM coverage_gaps"); n != 1 {
		t.Fatalf("%d gaps", n)
	}
	offs, err := s.Offsets(context.Background())
	if err != nil || len(offs) != 3 || offs[1].Next != 500 || offs[2].Next != 500 || offs[0].Next != 1 {
		t.Fatalf("offsets %v, %v", offs, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Restart: the source replays the last 100 messages (an uncommitted tail after a crash).
	s = openAt(t, path)
	runUntilDrained(t, &sliceSource{msgs: msgs[900:]}, s)
	if n := queryInt(t, s, "SELECT count(*) FROM trades"); n != 1000 {
		t.Fatalf("%d trades after replay", n)
	}
}
