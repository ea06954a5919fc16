//go:build integration

package main

// Integration tests of the separate services (tickflow sink, tickflow normalize) against the
// real Kafka and ClickHouse 18.16 of the integration tier (bash deploy/ci/services.sh up):
// SIGKILL storms, a frozen zombie sink, and ClickHouse stopped under load. Input comes from
// testdata/loadgen (its own process), produced straight to the unified topics (sink tests)
// or to the raw topic as Binance frames (normalizer test). Every test uses a fresh ClickHouse
// database whose stored offsets are seeded at the topics' current ends, its own consumer
// group and its own symbol names, so the shared topics' older data never mixes in.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/clickhouse"
	"github.com/tickflow/tickflow/transport"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// svcEnv is the real servers and the binaries of one test.
type svcEnv struct {
	t       *testing.T
	bin     string
	loadgen string
	kafka   string
	chAddr  string
	db      string
	dsn     string
	run     string // unique per test run: symbols, groups
	topics  []string
	conn    driver.Conn
	logDir  string
}

func newSvcEnv(t *testing.T, name string) *svcEnv {
	t.Helper()
	e := &svcEnv{t: t, kafka: envOr("TICKFLOW_KAFKA", "127.0.0.1:19092"), chAddr: envOr("TICKFLOW_CLICKHOUSE", "127.0.0.1:19000"),
		run: strings.ToUpper(strconv.FormatInt(time.Now().UnixNano()/1e6%(36*36*36*36*36), 36)), logDir: t.TempDir()}
	e.db = "tf_" + name + "_" + strings.ToLower(e.run)
	e.dsn = "clickhouse://" + e.chAddr + "/" + e.db
	e.bin = buildBinary(t)
	e.loadgen = filepath.Join(t.TempDir(), "loadgen")
	if out, err := exec.Command("go", "build", "-o", e.loadgen, "./testdata/loadgen").CombinedOutput(); err != nil {
		t.Fatalf("build loadgen: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := transport.EnsureTopics(ctx, []string{e.kafka}, transport.Topics([]string{"binance"}, transport.TopicDefaults{})); err != nil {
		t.Fatalf("kafka at %s (bash deploy/ci/services.sh up): %v", e.kafka, err)
	}
	// A fresh database whose stored offsets start at the topics' current ends.
	store, err := clickhouse.Open(ctx, clickhouse.Config{Addr: e.chAddr, Database: e.db})
	if err != nil {
		t.Fatalf("clickhouse at %s (bash deploy/ci/services.sh up): %v", e.chAddr, err)
	}
	e.topics = sink.Topics(store)
	var b sink.Batch
	for _, topic := range e.topics {
		ends, err := transport.EndOffsets(ctx, []string{e.kafka}, topic)
		if err != nil {
			t.Fatal(err)
		}
		for p, end := range ends {
			b.Offsets = append(b.Offsets, transport.Offset{Topic: topic, Partition: p, Next: end})
		}
	}
	if _, err := store.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	e.conn, err = ch.Open(&ch.Options{Addr: []string{e.chAddr}, Auth: ch.Auth{Database: e.db, Username: "default"},
		DialTimeout: 5 * time.Second, ReadTimeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = e.conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+e.db)
		} else {
			t.Logf("kept database %s and logs in %s", e.db, e.logDir)
		}
		e.conn.Close()
	})
	return e
}

// proc is a child process with its stderr in a file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	addr    string // metrics address
	stdout  bytes.Buffer
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done is closed
}

func (e *svcEnv) start(name string, args ...string) *proc {
	e.t.Helper()
	return e.startEnv(name, nil, args...)
}

// startEnv is start with extra environment variables (KEY=VALUE).
func (e *svcEnv) startEnv(name string, env []string, args ...string) *proc {
	e.t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	for i, a := range args {
		if a == "--metrics-addr" {
			p.addr = args[i+1]
		}
	}
	bin := e.bin
	if name == "loadgen" {
		bin = e.loadgen
	}
	p.cmd = exec.Command(bin, args...)
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout = &p.stdout
	p.logPath = filepath.Join(e.logDir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	f, err := os.Create(p.logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	p.cmd.Stderr = f
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); f.Close(); close(p.done) }()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and requires a clean exit (status 0) within d.
func (p *proc) term(t *testing.T, d time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s: exit after SIGTERM: %v\n%s", p.name, p.err, p.logTail())
		}
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v of SIGTERM\n%s", p.name, d, p.logTail())
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	return tail(string(b), 3000)
}

// scrape returns the sum of a metric's samples on the process's /metrics (error when down).
func (p *proc) scrape(name string) (float64, error) {
	body, err := httpGet(p.addr, "/metrics")
	if err != nil {
		return 0, err
	}
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest != "" && rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s not found", name)
	}
	return sum, nil
}

func (p *proc) metric(name string) float64 {
	v, _ := p.scrape(name)
	return v
}

// loadReport is testdata/loadgen's report.
type loadReport struct {
	Acked     int64            `json:"acked"`
	Failed    int64            `json:"failed"`
	PerSymbol map[string]int64 `json:"per_symbol"`
	Seconds   float64          `json:"seconds"`
	Rate      float64          `json:"rate"`
}

func (e *svcEnv) stopLoad(p *proc) loadReport {
	e.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(90 * time.Second):
		e.t.Fatal("loadgen did not stop")
	}
	var r loadReport
	if err := json.Unmarshal(p.stdout.Bytes(), &r); err != nil {
		e.t.Fatalf("loadgen report %q: %v\n%s", p.stdout.String(), err, p.logTail())
	}
	if r.Failed != 0 {
		e.t.Fatalf("loadgen: %d records failed to produce", r.Failed)
	}
	return r
}

func (r loadReport) total() int64 {
	var n int64
	for _, v := range r.PerSymbol {
		n += v
	}
	return n
}

func (e *svcEnv) sinkArgs(group, metrics string, extra ...string) []string {
	return append([]string{"sink", "--kafka-brokers", e.kafka, "--clickhouse-dsn", e.dsn, "--group", group,
		"--metrics-addr", metrics, "--session-timeout", "6s", "--heartbeat-interval", "1s", "--log-level", "warn"}, extra...)
}

// count returns count() and uniqExact of the (symbol, id) pairs stored for the symbols.
func (e *svcEnv) count(where string, idCol string) (rows, distinct uint64, err error) {
	err = e.conn.QueryRow(context.Background(),
		"SELECT count(), uniqExact(symbol, "+idCol+") FROM trades WHERE "+where).Scan(&rows, &distinct)
	return rows, distinct, err
}

// checkIDs compares the stored (symbol, id) pairs with ids 1..n per symbol of the report.
func (e *svcEnv) checkIDs(where, idCol string, want loadReport) {
	e.t.Helper()
	rows, err := e.conn.Query(context.Background(), "SELECT symbol, "+idCol+", count() FROM trades WHERE "+where+" GROUP BY symbol, "+idCol)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]map[uint64]uint64{}
	dups := 0
	for rows.Next() {
		var sym string
		var id, n uint64
		if err := rows.Scan(&sym, &id, &n); err != nil {
			e.t.Fatal(err)
		}
		if got[sym] == nil {
			got[sym] = map[uint64]uint64{}
		}
		got[sym][id] = n
		if n > 1 {
			dups += int(n - 1)
		}
	}
	missing, extra := 0, 0
	for sym, n := range want.PerSymbol {
		for id := uint64(1); id <= uint64(n); id++ {
			if _, ok := got[sym][id]; !ok {
				missing++
			}
		}
		for id := range got[sym] {
			if id < 1 || id > uint64(n) {
				extra++
			}
		}
	}
	for sym := range got {
		if _, ok := want.PerSymbol[sym]; !ok {
			extra += len(got[sym])
		}
	}
	e.t.Logf("ids: produced %d, missing %d, duplicates %d, unexpected %d", want.total(), missing, dups, extra)
	if missing != 0 || dups != 0 || extra != 0 {
		e.t.Fatalf("stored ids != produced ids: %d missing, %d duplicates, %d unexpected", missing, dups, extra)
	}
}

// waitRows waits until where holds n distinct ids.
func (e *svcEnv) waitRows(where, idCol string, n int64, d time.Duration) {
	e.t.Helper()
	var last uint64
	waitFor(e.t, d, fmt.Sprintf("%d trades stored", n), func() bool {
		_, distinct, err := e.count(where, idCol)
		last = distinct
		return err == nil && int64(distinct) >= n
	})
	_ = last
}

// lag returns the records of the sink's topics not yet covered by the stored offsets.
func (e *svcEnv) lag(stored map[transport.TopicPartition]int64) (int64, error) {
	var lag int64
	for _, topic := range e.topics {
		ends, err := transport.EndOffsets(context.Background(), []string{e.kafka}, topic)
		if err != nil {
			return 0, err
		}
		for p, end := range ends {
			lag += end - stored[transport.TopicPartition{Topic: topic, Partition: p}]
		}
	}
	return lag, nil
}

// storedOffsets reads the database's stored offsets.
func (e *svcEnv) storedOffsets() (map[transport.TopicPartition]int64, error) {
	rows, err := e.conn.Query(context.Background(), "SELECT topic, partition, argMax(next_offset, version) FROM offsets GROUP BY topic, partition")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[transport.TopicPartition]int64{}
	for rows.Next() {
		var topic string
		var p int32
		var next int64
		if err := rows.Scan(&topic, &p, &next); err != nil {
			return nil, err
		}
		out[transport.TopicPartition{Topic: topic, Partition: int(p)}] = next
	}
	return out, rows.Err()
}

// totalPartitions is the number of partitions of the sink's topics.
func (e *svcEnv) totalPartitions() int {
	n := 0
	for _, topic := range e.topics {
		ps, err := transport.Partitions(context.Background(), []string{e.kafka}, topic)
		if err != nil {
			e.t.Fatal(err)
		}
		n += len(ps)
	}
	return n
}

// TestIntegrationSinkKill: the sink service is killed with SIGKILL (TICKFLOW_KILLS times,
// default 20) while trades stream into the unified topic at 10k/s, each time after it has
// started writing, and restarted; a final run drains and stops on SIGTERM. ClickHouse then
// holds every produced id exactly once.
func TestIntegrationSinkKill(t *testing.T) {
	e := newSvcEnv(t, "sinkkill")
	kills := envInt("TICKFLOW_KILLS", 20)
	group := "itest-sinkkill-" + e.run
	venue := "ksink" + strings.ToLower(e.run)
	where := "venue = '" + venue + "'"
	lg := e.start("loadgen", "-brokers", e.kafka, "-venue", venue, "-prefix", "K"+e.run+"-", "-symbols", "16", "-rate", "10000")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	start := time.Now()
	for i := range kills {
		p := e.start("sink", e.sinkArgs(group, freeAddr(t))...)
		base := p.metric("tickflow_sink_messages_total")
		waitFor(t, 60*time.Second, fmt.Sprintf("sink run %d to write", i+1), func() bool {
			return p.metric("tickflow_sink_messages_total") > base
		})
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond) // mid-batch or mid-INSERT
		p.kill(t)
	}
	t.Logf("killed the sink %d times in %v", kills, time.Since(start).Round(time.Second))
	final := e.start("sink", e.sinkArgs(group, freeAddr(t))...)
	waitFor(t, 60*time.Second, "final sink ready", func() bool { _, err := httpGet(final.addr, "/readyz"); return err == nil })
	if n := final.metric("tickflow_sink_reloads_total"); n < 1 {
		t.Fatalf("sink ready with %v take-overs: /readyz must wait for the first assignment", n)
	}
	time.Sleep(2 * time.Second)
	rep := e.stopLoad(lg)
	t.Logf("loadgen: %d trades at %.0f/s", rep.total(), rep.Rate)
	e.waitRows(where, "seq", rep.total(), 3*time.Minute)
	time.Sleep(time.Second) // anything more (a duplicate) would land now
	final.term(t, 20*time.Second)
	e.checkIDs(where, "seq", rep)
}

// TestIntegrationSinkZombie: two sink members share the partitions; one is frozen with
// SIGSTOP until the group has given all its partitions to the other (session timeout 6 s),
// the other writes on them for a while, then the frozen one is resumed with its batch in
// memory. Three rounds, alternating the victim. The zombie's lease has expired: it must
// refuse to write (lease denials), drop its batch and rejoin. ClickHouse holds every
// produced id exactly once.
func TestIntegrationSinkZombie(t *testing.T) {
	e := newSvcEnv(t, "zombie")
	group := "itest-zombie-" + e.run
	venue := "kzomb" + strings.ToLower(e.run)
	where := "venue = '" + venue + "'"
	total := e.totalPartitions()
	lg := e.start("loadgen", "-brokers", e.kafka, "-venue", venue, "-prefix", "Z"+e.run+"-", "-symbols", "16", "-rate", "8000")
	members := []*proc{e.start("sink-a", e.sinkArgs(group, freeAddr(t))...), e.start("sink-b", e.sinkArgs(group, freeAddr(t))...)}
	assigned := func(p *proc) float64 { return p.metric("tickflow_transport_group_assigned_partitions") }
	waitFor(t, 60*time.Second, "both members to own partitions and write", func() bool {
		return assigned(members[0]) > 0 && assigned(members[1]) > 0 &&
			members[0].metric("tickflow_sink_messages_total") > 0 && members[1].metric("tickflow_sink_messages_total") > 0
	})
	var denials float64
	for round := range 3 {
		victim, other := members[round%2], members[(round+1)%2]
		waitFor(t, 60*time.Second, "both members to share the partitions", func() bool {
			a, b := assigned(victim), assigned(other)
			return a > 0 && b > 0 && int(a+b) == total
		})
		before := victim.metric("tickflow_transport_group_lease_denials_total")
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		frozen := time.Now()
		if err := victim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "the other member to own every partition", func() bool {
			return int(assigned(other)) == total
		})
		took := time.Since(frozen)
		time.Sleep(2 * time.Second) // the new owner writes on the zombie's partitions
		gens := victim.metric("tickflow_transport_group_generations_total")
		if err := victim.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		// Its old generation's gauge still shows partitions: wait for a new generation.
		waitFor(t, 60*time.Second, "the zombie to rejoin with partitions", func() bool {
			return victim.metric("tickflow_transport_group_generations_total") > gens && assigned(victim) > 0
		})
		d := victim.metric("tickflow_transport_group_lease_denials_total") - before
		denials += d
		t.Logf("round %d: %s frozen %v until the group moved its partitions, then resumed: %v lease denials, fenced writes %v",
			round+1, victim.name, took.Round(100*time.Millisecond), d, victim.metric("tickflow_sink_fenced_writes_total"))
	}
	time.Sleep(2 * time.Second)
	rep := e.stopLoad(lg)
	t.Logf("loadgen: %d trades at %.0f/s", rep.total(), rep.Rate)
	drain := time.Now()
	e.waitRows(where, "seq", rep.total(), 3*time.Minute)
	t.Logf("drained in %v", time.Since(drain).Round(100*time.Millisecond))
	time.Sleep(time.Second)
	for _, m := range members {
		m.term(t, 20*time.Second)
	}
	e.checkIDs(where, "seq", rep)
	if denials == 0 {
		t.Fatal("no zombie ever refused a write: the test did not exercise fencing")
	}
}

// TestIntegrationNormalizerKill: raw Binance trade frames stream into tickflow.raw.binance
// at 3k/s; the normalizer service is killed with SIGKILL (TICKFLOW_KILLS times, default 20)
// after it has started processing, and restarted from its checkpoint each time, while one
// sink member stores the unified topics in ClickHouse. Every produced trade id is stored
// exactly once (the re-emitted events after each kill are dropped by the sink's watermark).
func TestIntegrationNormalizerKill(t *testing.T) {
	e := newSvcEnv(t, "normkill")
	kills := envInt("TICKFLOW_KILLS", 20)
	prefix := "N" + e.run + "X"
	where := "venue = 'binance' AND startsWith(symbol, '" + prefix + "')"
	sinkP := e.start("sink", e.sinkArgs("itest-normkill-sink-"+e.run, freeAddr(t))...)
	ngroup := "itest-normkill-" + e.run
	normArgs := func() []string {
		return []string{"normalize", "--kafka-brokers", e.kafka, "--venues", "binance", "--group", ngroup,
			"--metrics-addr", freeAddr(t), "--checkpoint-every", "500ms", "--session-timeout", "6s",
			"--heartbeat-interval", "1s", "--log-level", "warn"}
	}
	lg := e.start("loadgen", "-mode", "raw", "-brokers", e.kafka, "-prefix", prefix, "-symbols", "8", "-rate", "3000")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	start := time.Now()
	for i := range kills {
		p := e.start("normalize", normArgs()...)
		waitFor(t, 90*time.Second, fmt.Sprintf("normalizer run %d to process records", i+1), func() bool {
			return p.metric("tickflow_normalizer_records_total") > 0
		})
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		p.kill(t)
	}
	t.Logf("killed the normalizer %d times in %v", kills, time.Since(start).Round(time.Second))
	final := e.start("normalize", normArgs()...)
	time.Sleep(2 * time.Second)
	rep := e.stopLoad(lg)
	t.Logf("loadgen: %d raw trade frames at %.0f/s", rep.total(), rep.Rate)
	e.waitRows(where, "trade_id_num", rep.total(), 4*time.Minute)
	time.Sleep(time.Second)
	final.term(t, 20*time.Second)
	sinkP.term(t, 20*time.Second)
	e.checkIDs(where, "trade_id_num", rep)
}

// rssOf returns a process's resident set size in bytes.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func clickhouseCtl(t *testing.T, op string) {
	t.Helper()
	cmd := exec.Command("bash", "../../deploy/ci/clickhouse.sh", op)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clickhouse %s: %v\n%s", op, err, out)
	}
}

// TestIntegrationClickHouseDown: trades stream into the unified topic at a high rate
// (TICKFLOW_CH_DOWN_RATE, default 50000/s) while ClickHouse is stopped for 60 s
// (deploy/ci/clickhouse.sh; restarted in cleanup even if the test fails). The sink keeps
// retrying without exiting, its RSS stays under the cap (TICKFLOW_SINK_RSS_CAP_MB, default
// 1024, with GOMEMLIMIT=512MiB and --fetch-max-bytes 1MiB: its working set — one batch and
// at most three fetched chunks per partition — does not grow with the backlog), lag rises
// during the outage and returns to 0 after it; every id is stored once.
func TestIntegrationClickHouseDown(t *testing.T) {
	e := newSvcEnv(t, "chdown")
	rate := envInt("TICKFLOW_CH_DOWN_RATE", 50000)
	capBytes := int64(envInt("TICKFLOW_SINK_RSS_CAP_MB", 1024)) << 20
	outage := time.Duration(envInt("TICKFLOW_CH_DOWN_SECONDS", 60)) * time.Second
	venue := "kdown" + strings.ToLower(e.run)
	where := "venue = '" + venue + "'"
	sinkP := e.startEnv("sink", []string{"GOMEMLIMIT=" + envOr("TICKFLOW_SINK_GOMEMLIMIT", "512MiB")},
		e.sinkArgs("itest-chdown-"+e.run, freeAddr(t), "--fetch-max-bytes", "1048576")...)
	lg := e.start("loadgen", "-brokers", e.kafka, "-venue", venue, "-prefix", "D"+e.run+"-", "-symbols", "16", "-rate", strconv.Itoa(rate))

	var mu sync.Mutex
	var maxRSS int64
	stopRSS := make(chan struct{})
	var rssWG sync.WaitGroup
	rssWG.Go(func() {
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopRSS:
				return
			case <-tk.C:
			}
			if r, err := rssOf(sinkP.cmd.Process.Pid); err == nil {
				mu.Lock()
				maxRSS = max(maxRSS, r)
				mu.Unlock()
			}
		}
	})
	defer func() { close(stopRSS); rssWG.Wait() }()

	// Steady state first: what the sink stores per second with ClickHouse up.
	waitFor(t, 60*time.Second, "the sink to write", func() bool { return sinkP.metric("tickflow_sink_messages_total") > 0 })
	m0, t0 := sinkP.metric("tickflow_sink_messages_total"), time.Now()
	time.Sleep(10 * time.Second)
	steady := (sinkP.metric("tickflow_sink_messages_total") - m0) / time.Since(t0).Seconds()
	stored, err := e.storedOffsets()
	if err != nil {
		t.Fatal(err)
	}
	lagBefore, _ := e.lag(stored)
	t.Logf("steady state: sink stores %.0f events/s (target input %d/s), lag %d", steady, rate, lagBefore)

	t.Cleanup(func() { clickhouseCtl(t, "start") }) // even if the test fails
	clickhouseCtl(t, "stop")
	down := time.Now()
	var maxLag int64
	for time.Since(down) < outage {
		time.Sleep(5 * time.Second)
		if l, err := e.lag(stored); err == nil { // stored offsets cannot move while the server is down
			maxLag = max(maxLag, l)
		}
		select {
		case <-sinkP.done:
			t.Fatalf("sink exited while ClickHouse was down: %v\n%s", sinkP.err, sinkP.logTail())
		default:
		}
	}
	clickhouseCtl(t, "start")
	up := time.Now()
	t.Logf("ClickHouse down for %v; lag rose from %d to %d records", up.Sub(down).Round(time.Second), lagBefore, maxLag)
	if maxLag <= lagBefore {
		t.Fatalf("lag did not rise during the outage (%d -> %d)", lagBefore, maxLag)
	}
	// The sink resumes under load: 10 s more input, then the input stops and the lag must
	// return to 0: the stored offsets reach the topics' ends as of that moment (later records
	// of other producers on the shared topics do not count).
	sum := func(m map[transport.TopicPartition]int64) (n int64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	waitFor(t, 3*time.Minute, "the sink to write again", func() bool {
		st, err := e.storedOffsets()
		return err == nil && sum(st) > sum(stored)
	})
	resumed := time.Since(up)
	m1, t1 := sinkP.metric("tickflow_sink_messages_total"), time.Now()
	time.Sleep(10 * time.Second)
	drainRate := (sinkP.metric("tickflow_sink_messages_total") - m1) / time.Since(t1).Seconds()
	rep := e.stopLoad(lg)
	stopped := time.Now()
	ends := map[transport.TopicPartition]int64{}
	for _, topic := range e.topics {
		es, err := transport.EndOffsets(context.Background(), []string{e.kafka}, topic)
		if err != nil {
			t.Fatal(err)
		}
		for p, end := range es {
			ends[transport.TopicPartition{Topic: topic, Partition: p}] = end
		}
	}
	behind := func(st map[transport.TopicPartition]int64) (n int64) {
		for tp, end := range ends {
			n += max(0, end-st[tp])
		}
		return n
	}
	st, _ := e.storedOffsets()
	lagAtStop := behind(st)
	t.Logf("loadgen: %d trades at %.0f/s; sink writing again %v after ClickHouse came back, then storing %.0f events/s; lag when the input stopped %d",
		rep.total(), rep.Rate, resumed.Round(100*time.Millisecond), drainRate, lagAtStop)
	waitFor(t, 5*time.Minute, "lag 0", func() bool {
		st, err := e.storedOffsets()
		return err == nil && behind(st) == 0
	})
	t.Logf("lag 0 %v after the input stopped (%v after ClickHouse came back)", time.Since(stopped).Round(time.Second), time.Since(up).Round(time.Second))
	e.waitRows(where, "seq", rep.total(), time.Minute)
	mu.Lock()
	peak := maxRSS
	mu.Unlock()
	t.Logf("sink RSS peak %d MiB (cap %d MiB)", peak>>20, capBytes>>20)
	sinkP.term(t, 20*time.Second)
	e.checkIDs(where, "seq", rep)
	if peak > capBytes {
		t.Fatalf("sink RSS peaked at %d MiB, over the %d MiB cap", peak>>20, capBytes>>20)
	}
}
