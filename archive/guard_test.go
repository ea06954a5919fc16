package archive

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// startBrokerHandle is startBroker that also returns the broker (to apply retention now).
func startBrokerHandle(t *testing.T) (*transport.Embedded, []string) {
	t.Helper()
	b, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir(), RetentionInterval: time.Hour}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics([]string{"binance"}, transport.TopicDefaults{RawPartitions: 1})[:1]); err != nil {
		t.Fatal(err)
	}
	return b, brokers
}

// writeAt produces n raw records with Kafka timestamp ts to partition 0.
func writeAt(t *testing.T, brokers []string, n int, ts time.Time) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: transport.RawTopic("binance"), BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: "c0", Epoch: 1, Seq: uint64(i + 1),
			RecvTime: ts.UnixNano(), Frame: []byte("{}")}
		msgs[i] = kafka.Message{Key: rec.Key(nil), Value: md.AppendRaw(nil, &rec), Time: ts}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

func span0(t *testing.T, brokers []string) Span {
	t.Helper()
	sp, err := RawOffsets(context.Background(), brokers, "binance")
	if err != nil {
		t.Fatal(err)
	}
	return sp[0]
}

// TestGuardHoldsRetentionOnBroker: records older than the configured retention survive the
// broker's retention while the archive has not got them, and go once it has (ADR 0010).
func TestGuardHoldsRetentionOnBroker(t *testing.T) {
	b, brokers := startBrokerHandle(t)
	old := time.Now().Add(-48 * time.Hour)
	writeAt(t, brokers, 10, old)
	a, err := New(Config{Dir: t.TempDir(), Brokers: brokers, Venues: []string{"binance"}})
	if err != nil {
		t.Fatal(err)
	}
	pw := &partWriter{next: -1, durableNext: -1}
	v := &venueState{name: "binance", parts: map[int]*partWriter{0: pw},
		guard: &guard{venue: "binance", brokers: brokers, base: 24 * time.Hour, margin: time.Hour, enabled: true}}
	venues := map[string]*venueState{"binance": v}
	ctx := context.Background()

	// Nothing archived, records retained: keep everything.
	a.guardAll(ctx, venues)
	if got := retentionMs(t, brokers); got != "-1" {
		t.Fatalf("retention.ms %s with an unknown archive position, want -1", got)
	}
	applySettled(b)
	if sp := span0(t, brokers); sp.First != 0 || sp.End != 10 {
		t.Fatalf("retained %+v, want offsets 0..9 kept", sp)
	}
	// Archived up to offset 2 (the 48h-old records after it not yet): age + margin.
	pw.next, pw.durableNext, pw.lastKafkaTime = 3, 3, old.UnixNano()
	a.guardAll(ctx, venues)
	if got := retentionMs(t, brokers); got < "176400000" || len(got) != len("176400000") {
		t.Fatalf("retention.ms %s while 48h behind, want at least 49h (176400000)", got)
	}
	applySettled(b)
	if sp := span0(t, brokers); sp.First != 0 {
		t.Fatalf("broker deleted unarchived records: log start %d", sp.First)
	}
	if h := testutil.ToFloat64(a.m.headroom.WithLabelValues("binance")); h > -23*3600 {
		t.Fatalf("headroom %v s while 48h behind a 24h retention, want about -86400", h)
	}
	// Archive caught up: the configured retention again, and the broker deletes them.
	pw.next, pw.durableNext = 10, 10
	a.guardAll(ctx, venues)
	if got := retentionMs(t, brokers); got != "86400000" {
		t.Fatalf("retention.ms %s once caught up, want 86400000", got)
	}
	applyUntil(t, b, brokers, 10)
}

// applySettled applies retention twice, 100ms apart (the broker applies it on its own
// goroutine), before a check that nothing was deleted.
func applySettled(b *transport.Embedded) {
	b.ApplyRetention()
	time.Sleep(100 * time.Millisecond)
	b.ApplyRetention()
	time.Sleep(50 * time.Millisecond)
}

// applyUntil applies retention until the log start reaches first (the broker applies it on
// its own goroutine).
func applyUntil(t *testing.T, b *transport.Embedded, brokers []string, first int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.ApplyRetention()
		sp := span0(t, brokers)
		if sp.First == first {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log start %d after applying retention, want %d", sp.First, first)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestArchiverRecordsHole: without the guard, records deleted by retention before the
// archiver saw them become a hole in the index and are counted, never silently skipped.
func TestArchiverRecordsHole(t *testing.T) {
	b, brokers := startBrokerHandle(t)
	writeAt(t, brokers, 30, time.Now().Add(-48*time.Hour))
	applyUntil(t, b, brokers, 30) // 24h retention: all 30 deleted before any archiver ran
	writeAt(t, brokers, 10, time.Now())
	root := t.TempDir()
	reg := prometheus.NewRegistry()
	a, err := New(Config{Dir: root, Brokers: brokers, Venues: []string{"binance"}, NoGuard: true, FlushEvery: 10 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := OpenPartition(root, "binance", 0)
		if err != nil {
			t.Fatal(err)
		}
		last := r.Last()
		hs := r.Holes()
		r.Close()
		if last == 39 {
			if len(hs) != 1 || hs[0].First != 0 || hs[0].Last != 29 {
				t.Fatalf("holes %+v, want one hole 0..29", hs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive last offset %d after 30s, want 39", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if lost := testutil.ToFloat64(a.m.lost.WithLabelValues("binance")); lost != 30 {
		t.Fatalf("tickflow_archive_lost_records_total %v, want 30", lost)
	}
}

// TestArchiverRefusesRecreatedTopic: an archive ahead of the topic's end (the topic was
// recreated) is an error that says what to do, not a silent skip of the new records.
func TestArchiverRefusesRecreatedTopic(t *testing.T) {
	_, brokers := startBrokerHandle(t)
	writeAt(t, brokers, 3, time.Now())
	root := t.TempDir()
	pw := newTestPartition(t, partitionDir(root, "binance", 0))
	for off := int64(0); off < 10; off++ {
		if _, err := pw.add(off, hour0, envelope(uint64(off)+1, hour0), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.flush(); err != nil {
		t.Fatal(err)
	}
	pw.close()
	a, err := New(Config{Dir: root, Brokers: brokers, Venues: []string{"binance"}})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background())
	if !errors.Is(err, ErrTopicRecreated) || !strings.Contains(err.Error(), "move that venue's archive directory aside") {
		t.Fatalf("Run: %v, want ErrTopicRecreated with the remedy", err)
	}
}
