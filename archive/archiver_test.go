package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
	"go.uber.org/goleak"
)

// TestMain doubles as the archiver child process of TestArchiverKill.
func TestMain(m *testing.M) {
	if os.Getenv("TICKFLOW_ARCHIVE_CHILD") != "" {
		os.Exit(childArchiver())
	}
	goleak.VerifyTestMain(m,
		// kafka-go keeps idle connection reapers on its default transport.
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}

func childArchiver() int {
	ctx, stop := signalContext()
	defer stop()
	a, err := New(Config{Dir: os.Getenv("TICKFLOW_ARCHIVE_DIR"), Brokers: []string{os.Getenv("TICKFLOW_ARCHIVE_BROKER")},
		Venues: []string{"binance"}, FlushEvery: 20 * time.Millisecond, FlushBytes: 4 << 10, GuardEvery: 50 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signalNotify(ch)
	go func() {
		<-ch
		cancel()
	}()
	return ctx, cancel
}

// startBroker starts an embedded broker with the binance raw topic (2 partitions).
func startBroker(t *testing.T) []string {
	t.Helper()
	b, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	specs := transport.Topics([]string{"binance"}, transport.TopicDefaults{RawPartitions: 2})
	if err := transport.EnsureTopics(ctx, brokers, specs[:1]); err != nil {
		t.Fatal(err)
	}
	return brokers
}

// produce writes records n0..n1-1 as raw envelopes spread over 4 connection slots; the
// frame holds the record number.
func produce(t *testing.T, p *transport.Producer, n0, n1 int) {
	t.Helper()
	if err := produceErr(p, n0, n1); err != nil {
		t.Fatal(err)
	}
}

func produceErr(p *transport.Producer, n0, n1 int) error {
	var failed atomic.Pointer[error]
	for i := n0; i < n1; i++ {
		conn := "c" + strconv.Itoa(i%4)
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: conn, Epoch: 1, Seq: uint64(i + 1),
			RecvTime: time.Now().UnixNano(), Frame: []byte(fmt.Sprintf(`{"n":%d}`, i))}
		if err := p.Produce(context.Background(), transport.RawTopic("binance"), rec.Key(nil), md.AppendRaw(nil, &rec),
			func(err error) {
				if err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}); err != nil {
			return err
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		return err
	}
	if f := failed.Load(); f != nil {
		return *f
	}
	return nil
}

// archivedNumbers reads every archived record of both partitions, checks that offsets are
// contiguous from 0 without holes, and returns the record numbers seen.
func archivedNumbers(t *testing.T, root string) (map[int]int, int) {
	t.Helper()
	seen := map[int]int{}
	total := 0
	dec := md.NewDecoder()
	for _, p := range []int{0, 1} {
		r, err := OpenPartition(root, "binance", p)
		if err != nil {
			t.Fatal(err)
		}
		if hs := r.Holes(); len(hs) > 0 {
			t.Fatalf("partition %d has holes %+v", p, hs)
		}
		want := int64(0)
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Offset != want {
				t.Fatalf("partition %d: offset %d after %d: duplicate or hole", p, rec.Offset, want-1)
			}
			want++
			var raw md.RawRecord
			if err := dec.DecodeRaw(&raw, rec.Envelope); err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(raw.Frame), `{"n":`), "}"))
			seen[n]++
			total++
		}
		r.Close()
	}
	return seen, total
}

func retentionMs(t *testing.T, brokers []string) string {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	res, err := cl.DescribeConfigs(context.Background(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: transport.RawTopic("binance"), ConfigNames: []string{"retention.ms"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "retention.ms" {
				return e.ConfigValue
			}
		}
	}
	t.Fatal("retention.ms not described")
	return ""
}

// TestArchiverKill SIGKILLs an archiver process at random moments while records are
// produced, restarts it each time, then lets it finish: the archive must hold every
// produced record exactly once, with contiguous offsets (no duplicates, no holes), and the
// retention guard must have returned the topic to its configured retention.
func TestArchiverKill(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process kill test")
	}
	brokers := startBroker(t)
	root := t.TempDir()
	p, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "TICKFLOW_ARCHIVE_CHILD=1", "TICKFLOW_ARCHIVE_DIR="+root, "TICKFLOW_ARCHIVE_BROKER="+brokers[0])
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	const perRound, rounds = 1500, 6
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for round := 0; round < rounds; round++ {
		cmd := start()
		// Produce in small batches while the archiver runs, and kill it mid-ingest.
		done := make(chan error, 1)
		go func(n0 int) {
			for i := n0; i < n0+perRound; i += 50 {
				if err := produceErr(p, i, i+50); err != nil {
					done <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
			done <- nil
		}(n)
		n += perRound
		time.Sleep(time.Duration(30+rng.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	cmd := start()
	produce(t, p, n, n+perRound)
	n += perRound
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, total := archivedNumbers(t, root)
		if total == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive holds %d of %d records after 60s", total, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a guard round after catching up
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("archiver exit after SIGTERM: %v", err)
	}
	seen, total := archivedNumbers(t, root)
	if total != n || len(seen) != n {
		t.Fatalf("archived %d records, %d distinct; want %d", total, len(seen), n)
	}
	for i := 0; i < n; i++ {
		if seen[i] != 1 {
			t.Fatalf("record %d archived %d times", i, seen[i])
		}
	}
	if got := retentionMs(t, brokers); got != strconv.FormatInt(DefaultRawRetention.Milliseconds(), 10) {
		t.Fatalf("raw retention.ms %s after the archive caught up, want the configured %d", got, DefaultRawRetention.Milliseconds())
	}
	t.Logf("%d records over %d SIGKILLs: all archived once, offsets contiguous", n, rounds)
}

// TestGuardRetention: the retention the guard asks for, per archive state.
func TestGuardRetention(t *testing.T) {
	now := time.Unix(1795307795, 0)
	g := &guard{base: 24 * time.Hour, margin: time.Hour}
	pw := func(pending, last int64, durableNext int64) *partWriter {
		p := &partWriter{durableNext: durableNext, lastKafkaTime: last}
		if pending != 0 {
			p.n, p.firstKT = 1, pending
		}
		return p
	}
	tests := []struct {
		name  string
		parts map[int]*partWriter
		spans map[int]span
		want  string
	}{
		{"caught up: configured retention", map[int]*partWriter{0: pw(0, now.UnixNano(), 10)}, map[int]span{0: {0, 10}}, "86400000"},
		{"empty partition never archived: no constraint", map[int]*partWriter{0: pw(0, 0, -1)}, map[int]span{0: {0, 0}}, "86400000"},
		{"unknown position with records: keep everything", map[int]*partWriter{0: pw(0, 0, -1)}, map[int]span{0: {0, 5}}, "-1"},
		{"behind by 2 days: age + margin", map[int]*partWriter{0: pw(0, now.Add(-48*time.Hour).UnixNano(), 3)}, map[int]span{0: {0, 10}},
			strconv.FormatInt((49 * time.Hour).Milliseconds(), 10)},
		{"buffered records 30h old, other partition fine", map[int]*partWriter{0: pw(now.Add(-30*time.Hour).UnixNano(), 0, 3), 1: pw(0, now.UnixNano(), 7)},
			map[int]span{0: {0, 9}, 1: {0, 7}}, strconv.FormatInt((31 * time.Hour).Milliseconds(), 10)},
		{"retained records all deleted: nothing to protect", map[int]*partWriter{0: pw(0, 0, -1)}, map[int]span{0: {7, 7}}, "86400000"},
		{"behind by 1h: still the configured retention", map[int]*partWriter{0: pw(0, now.Add(-time.Hour).UnixNano(), 3)}, map[int]span{0: {0, 10}}, "86400000"},
	}
	for _, tc := range tests {
		if got := g.retentionFor(protectFrom(tc.parts, tc.spans), now); got != tc.want {
			t.Errorf("%s: retention.ms %s, want %s", tc.name, got, tc.want)
		}
	}
}
