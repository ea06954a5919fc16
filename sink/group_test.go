package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// sharedDB is a database several stores write, like one ClickHouse database shared by the
// members of a sink group: rows and offsets, no transactions between them.
type sharedDB struct {
	mu      sync.Mutex
	trades  []md.Trade
	offsets map[transport.TopicPartition]int64
	writes  int
	skipped int // re-read trades skipped by watermark
}

// dbView is one member's Store on a sharedDB: its watermarks are a cache derived from the
// rows (Reload), as in the ClickHouse store. Two writes in three "lose" their offsets (rows
// landed, the offsets INSERT did not: allowed by ADR 0007), so a new owner re-reads rows
// that are already stored and must skip them by watermark.
type dbView struct {
	db       *sharedDB
	wm       Watermarks
	reloads  int
	guardErr int
}

func (v *dbView) Reload(ctx context.Context) error {
	v.db.mu.Lock()
	defer v.db.mu.Unlock()
	v.wm.Reset()
	for i := range v.db.trades {
		t := &v.db.trades[i]
		k := Key{Venue: t.Venue, Symbol: t.Symbol, Kind: md.KindTrade, ParserVersion: t.ParserVersion}
		if p, ok := v.wm.Get(k); !ok || t.Prov.Compare(p) > 0 {
			v.wm.Load(k, t.Prov)
		}
	}
	v.reloads++
	return nil
}

func (v *dbView) Write(ctx context.Context, b *Batch) (WriteResult, error) {
	if err := CheckGuard(ctx); err != nil {
		v.guardErr++
		return WriteResult{}, err
	}
	v.db.mu.Lock()
	defer v.db.mu.Unlock()
	var res WriteResult
	for _, t := range b.Trades {
		if _, ok := v.wm.Admit(md.KindTrade, &t.Header); ok {
			v.db.trades = append(v.db.trades, t)
			res.Written.Trades++
		} else {
			res.Duplicates.Trades++
		}
	}
	v.wm.Commit()
	v.db.writes++
	v.db.skipped += res.Duplicates.Trades
	if v.db.writes%3 == 0 {
		for _, o := range b.Offsets {
			v.db.offsets[transport.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Next
		}
	}
	return res, nil
}

func (v *dbView) Offsets(context.Context) ([]transport.Offset, error) {
	v.db.mu.Lock()
	defer v.db.mu.Unlock()
	var out []transport.Offset
	for tp, n := range v.db.offsets {
		out = append(out, transport.Offset{Topic: tp.Topic, Partition: tp.Partition, Next: n})
	}
	return out, nil
}

func (v *dbView) Close() error { return nil }

type sinkMember struct {
	view   *dbView
	cancel context.CancelFunc
	done   chan error
}

func startSinkMember(t *testing.T, brokers []string, db *sharedDB) *sinkMember {
	t.Helper()
	reg := prometheus.NewRegistry()
	g, err := transport.NewGroup(transport.GroupConfig{Brokers: brokers, GroupID: "sink-test",
		Topics: []string{transport.TopicTrades}, SessionTimeout: 6 * time.Second,
		HeartbeatInterval: 300 * time.Millisecond}, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	v := &dbView{db: db}
	open := func(offs []transport.Offset) (PartitionSource, error) {
		c := transport.NewConsumer(transport.ConsumerConfig{Brokers: brokers, Name: "sink"}, nil, slog.New(slog.DiscardHandler))
		return c, c.Assign(offs)
	}
	gr, err := NewGroupRunner(v, open, Config{MaxRows: 500, MaxDelay: 20 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &sinkMember{view: v, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- gr.Run(ctx, g) }()
	return m
}

func (m *sinkMember) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			t.Fatalf("sink member: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sink member did not stop")
	}
}

// TestGroupRunnerRebalances: sink members join and leave a group on the embedded broker
// while trades are produced; partitions move between them, and a new owner re-reads rows
// whose offsets were not stored. The shared database ends with every trade exactly once,
// which holds only because each assignment re-derives the watermarks from the stored rows.
func TestGroupRunnerRebalances(t *testing.T) {
	b, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := transport.EnsureTopics(ctx, brokers, []transport.TopicSpec{{Name: transport.TopicTrades, Partitions: 4}}); err != nil {
		t.Fatal(err)
	}
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const symbols, perSymbol = 12, 600
	produce := func(from, to int) {
		for seq := from; seq < to; seq++ {
			for s := range symbols {
				sym := fmt.Sprintf("S%02d-USDT", s)
				if err := prod.Produce(ctx, transport.TopicTrades, []byte("binance/"+sym), tradeMsgOf(sym, uint64(seq+1)), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	db := &sharedDB{offsets: map[transport.TopicPartition]int64{}}
	stored := func() int {
		db.mu.Lock()
		defer db.mu.Unlock()
		return len(db.trades)
	}
	m1 := startSinkMember(t, brokers, db)
	produce(0, 150)
	m2 := startSinkMember(t, brokers, db)
	produce(150, 300)
	waitStored(t, stored, 300*symbols)
	m2.stop(t) // m1 takes over m2's partitions
	produce(300, 450)
	m3 := startSinkMember(t, brokers, db)
	produce(450, perSymbol)
	waitStored(t, stored, perSymbol*symbols)
	time.Sleep(300 * time.Millisecond) // anything extra would land now
	m1.stop(t)
	m3.stop(t)
	if err := prod.Close(ctx); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	for _, tr := range db.trades {
		seen[fmt.Sprintf("%s/%d", tr.Symbol, tr.Prov.Seq)]++
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if len(seen) != symbols*perSymbol || dups != 0 {
		t.Fatalf("stored %d distinct trades (want %d), %d duplicates (want 0)", len(seen), symbols*perSymbol, dups)
	}
	if db.skipped == 0 {
		t.Fatal("no re-read trade was skipped: the test did not exercise a take-over behind the stored rows")
	}
	if m1.view.reloads < 2 || m3.view.reloads < 1 {
		t.Fatalf("reloads: m1 %d, m3 %d; want a reload per assignment", m1.view.reloads, m3.view.reloads)
	}
}

func waitStored(t *testing.T, stored func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for stored() < want {
		if time.Now().After(deadline) {
			t.Fatalf("stored %d trades, want %d", stored(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tradeMsgOf(symbol string, seq uint64) []byte {
	tr := md.Trade{Header: md.Header{Venue: "binance", Symbol: symbol, RecvTime: time.Now().UnixNano(),
		Prov: md.Provenance{Epoch: 1, Seq: seq}, ParserVersion: 1},
		ID: md.NumericID(seq), Price: md.Decimal{Mant: 1}, Qty: md.Decimal{Mant: 1}}
	return md.AppendTrade(nil, &tr)
}

// TestRunnerFencedWriteIsNotRetried: a write the guard refuses is dropped at once — no
// store write, no retry — and Run returns an error wrapping ErrFenced.
func TestRunnerFencedWriteIsNotRetried(t *testing.T) {
	src := newFakeSource()
	store := newMemStore()
	r, err := NewRunner(src, store, Config{MaxRows: 10, WriteAttempts: 5, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	src.push(transport.TopicTrades, 0, trades(1, 10)...)
	errStale := errors.New("lease expired")
	ctx := WithGuard(context.Background(), func() error { return errStale })
	err = r.Run(ctx)
	if !errors.Is(err, ErrFenced) || !errors.Is(err, errStale) {
		t.Fatalf("Run = %v, want ErrFenced wrapping the guard's error", err)
	}
	if writes, n, _ := store.snapshot(); len(writes) != 0 || n != 0 {
		t.Fatalf("store got %d writes, %d trades; want none", len(writes), n)
	}
}
