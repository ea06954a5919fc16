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

func TestRunnerWithDuckDBBooks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e2e-books.duckdb")
	var msgs []transport.Message
	var off [2]int64
	add := func(topic string, part int, v []byte) {
		msgs = append(msgs, transport.Message{Topic: topic, Partition: part, Offset: off[part], Value: v})
		off[part]++
	}
	for i := range uint64(600) {
		sym := []string{"BTC-USDT", "ETH-USDT"}[i%2]
		seq := i/2 + 1
		u := mkBook("binance", sym, seq, seq, seq == 1,
			[]md.Level{lvl(1000-int64(seq%7), int64(seq)), lvl(990, int64(seq%3))},
			[]md.Level{lvl(1010+int64(seq%5), int64(seq))})
		add(transport.TopicBooks, 0, md.AppendBookUpdate(nil, &u))
		if seq == 100 && sym == "BTC-USDT" {
			st := mkStatus("binance", sym, seq, md.BookInvalid, md.IntegrityGap, seq)
			add(transport.TopicBooks, 0, md.AppendBookStatus(nil, &st))
		}
		q := mkBBO("binance", sym, seq)
		add(transport.TopicBBO, 1, md.AppendBBO(nil, &q))
	}
	s := openAt(t, path)
	runUntilDrained(t, &sliceSource{msgs: msgs}, s)
	check := func() {
		t.Helper()
		for _, c := range []struct {
			q    string
			want int64
		}{
			{"SELECT count(*) FROM book_updates", 600},
			{"SELECT count(*) FROM book_levels", 1800},
			{"SELECT count(*) FROM book_status", 1},
			{"SELECT count(*) FROM bbo", 600},
			{"SELECT count(*) FROM coverage_gaps WHERE stream = 'book' AND to_time IS NULL", 1},
		} {
			if n := queryInt(t, s, c.q); n != c.want {
				t.Fatalf("%s = %d, want %d", c.q, n, c.want)
			}
		}
		offs, err := s.Offsets(context.Background())
		if err != nil || len(offs) != 2 || offs[0].Topic != transport.TopicBBO ||
			offs[0].Next != 600 || offs[1].Next != 601 {
			t.Fatalf("offsets %v, %v", offs, err)
		}
	}
	check()
	// The last BTC message (seq 300) is after the invalid status: the rebuilt book says so.
	rows := queryRows(t, s, `SELECT count(*), bool_and(valid), max(book_seq)
		FROM book_at('binance', 'BTC-USDT', TIMESTAMP '2026-01-02', 0)`)
	if rows[0][0].(int64) < 2 || rows[0][1] != false || rows[0][2] != uint64(300) {
		t.Fatalf("book_at: %v", rows)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Restart: the source replays the last 300 messages (an uncommitted tail).
	s = openAt(t, path)
	runUntilDrained(t, &sliceSource{msgs: msgs[len(msgs)-300:]}, s)
	check()
}
