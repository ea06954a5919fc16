package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/sink/clickhouse"
	"github.com/tickflow/tickflow/transport"
)

func init() {
	commands["bench-kafka"] = command{"throughput through a real Kafka into ClickHouse: the sink alone or normalizer + sink, from a preloaded topic, ids checked", cmdBenchKafka}
}

// benchKafkaConfig holds the flags of `tickflow bench-kafka`.
type benchKafkaConfig struct {
	brokers    string
	chAddr     string
	mode       string
	events     int
	symbols    int
	conns      int
	batchRows  int
	batchDelay time.Duration
	timeout    time.Duration
	minRate    float64
	keep       bool
	noViews    bool
	logLevel   string
	reportOut  string
	chPIDFile  string
	kafkaPID   string
	profileDir string
	profileFor time.Duration
	insertPar  int
}

// benchKafkaReport is what `tickflow bench-kafka` prints (and writes as JSON with --report).
type benchKafkaReport struct {
	Mode        string `json:"mode"`
	CandleViews bool   `json:"candle_views"`
	Database    string `json:"database"`
	Events      int    `json:"events"`
	Symbols     int    `json:"symbols"`
	// PreloadPerSec is how fast the preload was produced and acknowledged.
	PreloadPerSec float64 `json:"preload_per_sec"`
	// StartupSeconds is from starting the processes to the first stored row of the run.
	StartupSeconds float64 `json:"startup_seconds"`
	// CatchUpSeconds is from the first to the last stored row of the run (polled every
	// 100ms); PerSec the rate of the rows stored after the first observation (0: the run was
	// too short, everything landed at once).
	CatchUpSeconds float64 `json:"catch_up_seconds"`
	PerSec         float64 `json:"per_sec"`
	// OverallPerSec counts the startup too.
	OverallPerSec float64 `json:"overall_per_sec"`
	// Cores is the CPU each process used during the catch-up, in cores (CPU s / wall s).
	Cores map[string]float64 `json:"cores"`
	// SinkBatches and SinkAvgRows are the sink's writes during the whole run.
	SinkBatches float64 `json:"sink_batches"`
	SinkAvgRows float64 `json:"sink_avg_rows"`
	// Stored is how many of the run's trades are stored, OtherRows the trades of other
	// producers the sink stored meanwhile (the topics are shared); Missing and Duplicates
	// are the run's trade ids stored never and more than once.
	Stored     uint64 `json:"stored"`
	OtherRows  uint64 `json:"other_rows"`
	Missing    int64  `json:"missing"`
	Duplicates int64  `json:"duplicates"`
}

func cmdBenchKafka(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-kafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c benchKafkaConfig
	fs.StringVar(&c.brokers, "kafka-brokers", "127.0.0.1:19092", "the Kafka cluster (deploy/ci/kafka.sh)")
	fs.StringVar(&c.chAddr, "clickhouse-addr", "127.0.0.1:19000", "ClickHouse native protocol address (deploy/ci/clickhouse.sh); the run uses a fresh database tickflow_bench_<id>")
	fs.StringVar(&c.mode, "mode", "sink", "sink: unified trades preloaded into "+transport.TopicTrades+", tickflow sink stores them; e2e: raw Binance trade frames preloaded into "+transport.RawTopic("binance")+", tickflow normalize and tickflow sink as separate processes")
	fs.IntVar(&c.events, "events", 2_000_000, "trades to preload")
	fs.IntVar(&c.symbols, "symbols", 200, "instruments the trades are spread over")
	fs.IntVar(&c.conns, "connections", 4, "e2e: collector connections the raw frames come from (raw topic partitions are keyed by connection)")
	fs.IntVar(&c.batchRows, "batch-rows", 0, "passed to tickflow sink --batch-rows (0: the sink's default for ClickHouse)")
	fs.DurationVar(&c.batchDelay, "batch-delay", 0, "passed to tickflow sink --batch-delay (0: the sink's default for ClickHouse)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "fail when the run has not stored every trade by then")
	fs.Float64Var(&c.minRate, "min-per-sec", 0, "fail unless the catch-up rate reaches this (0: no check)")
	fs.BoolVar(&c.noViews, "drop-candle-views", false, "drop the candle materialized view (clickhouse.CandleFeedView) of the bench database before the run (measures what candles cost)")
	fs.BoolVar(&c.keep, "keep", false, "keep the database after the run (default: dropped)")
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level of the normalize and sink processes (their logs go to stderr)")
	fs.StringVar(&c.reportOut, "report", "", "also write the report as JSON to this file")
	fs.StringVar(&c.chPIDFile, "clickhouse-pid-file", "/tmp/tickflow-ci/clickhouse/clickhouse.pid", "ClickHouse server's pid file, for its CPU in the report (missing: not reported)")
	fs.IntVar(&c.insertPar, "insert-parallelism", 0, "passed to the sink's DSN as insert_parallelism (0: the store's default)")
	fs.StringVar(&c.profileDir, "profile-dir", "", "write CPU profiles of the sink and normalizer processes (from their /debug/pprof/profile, starting 3 s into the run) to <dir>/<process>.pprof")
	fs.DurationVar(&c.profileFor, "profile-for", 10*time.Second, "how long --profile-dir profiles each process")
	fs.StringVar(&c.kafkaPID, "kafka-pid-file", "/tmp/tickflow-ci/kafka/kafka.pid", "Kafka broker's pid file, for its CPU in the report (missing: not reported)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tickflow bench-kafka [--mode sink|e2e] [--events N] [flags]\n\nPreloads N trades into a real Kafka, then runs the sink (and for e2e the normalizer) as\nseparate processes into a fresh ClickHouse database and measures until every trade is\nstored; then checks every trade id is stored exactly once. The e2e normalizer resumes from\nthe venue's latest checkpoint on the shared raw topic: raw records other runs left after it\nare normalized too (reported as other rows); use a quiet broker for clean numbers. Every run\nleaves its records in the shared topics until their retention (a 5M-trade run: ~1-2 GB):\nuse a test broker (deploy/ci/kafka.sh caps each partition at 1 GiB).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.mode != "sink" && c.mode != "e2e" {
		return fmt.Errorf("--mode %q: want sink or e2e", c.mode)
	}
	if c.events <= 0 || c.symbols <= 0 || c.conns <= 0 || c.conns > c.symbols {
		return errors.New("--events, --symbols and --connections must be positive, --connections at most --symbols")
	}
	log, err := newLogger(stderr, "info")
	if err != nil {
		return err
	}
	rep, err := benchKafka(ctx, c, log, stderr)
	if rep != nil {
		printBenchKafka(stdout, rep)
		if c.reportOut != "" {
			b, _ := json.MarshalIndent(rep, "", "  ")
			if werr := os.WriteFile(c.reportOut, append(b, '\n'), 0o644); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	if err == nil && c.minRate > 0 && rep.PerSec < c.minRate {
		err = fmt.Errorf("catch-up rate %.0f/s below --min-per-sec %.0f", rep.PerSec, c.minRate)
	}
	return err
}

func printBenchKafka(w io.Writer, r *benchKafkaReport) {
	fmt.Fprintf(w, "mode %s: %d trades over %d symbols, database %s, candle views %t\n", r.Mode, r.Events,
		r.Symbols, r.Database, r.CandleViews)
	fmt.Fprintf(w, "preload: %.0f records/s\n", r.PreloadPerSec)
	if r.PerSec > 0 {
		fmt.Fprintf(w, "startup %.1fs, catch-up %.2fs: %.0f trades/s (overall %.0f/s)\n", r.StartupSeconds,
			r.CatchUpSeconds, r.PerSec, r.OverallPerSec)
	} else {
		fmt.Fprintf(w, "startup %.1fs, everything stored at once (too few --events to measure the rate; overall %.0f/s)\n",
			r.StartupSeconds, r.OverallPerSec)
	}
	names := make([]string, 0, len(r.Cores))
	for n := range r.Cores {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", n, r.Cores[n]))
	}
	fmt.Fprintf(w, "cores during catch-up: %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(w, "sink: %.0f batches, %.0f rows on average\n", r.SinkBatches, r.SinkAvgRows)
	fmt.Fprintf(w, "stored %d of %d (other rows %d): %d missing, %d duplicates\n", r.Stored, r.Events,
		r.OtherRows, r.Missing, r.Duplicates)
}

// benchKafkaRun is one run's identity: its database, symbols and groups.
type benchKafkaRun struct {
	id     string
	db     string
	venue  string   // unified venue of the run's trades
	prefix string   // symbol prefix of the run (unified symbols start with it)
	names  []string // unified symbols
	perSym []int64  // trades per symbol: ids 1..perSym[i]
}

func newBenchKafkaRun(c benchKafkaConfig) *benchKafkaRun {
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	r := &benchKafkaRun{id: id, db: "tickflow_bench_" + id, venue: "benchkafka",
		prefix: "K" + strings.ToUpper(id) + "X"}
	if c.mode == "e2e" {
		r.venue = "binance"
	}
	r.perSym = make([]int64, c.symbols)
	for i := range c.symbols {
		r.names = append(r.names, r.prefix+strconv.Itoa(i))
		if c.mode == "e2e" {
			r.names[i] += "-USDT" // the Binance parser's unified symbol of base <name>, quote USDT
		}
	}
	for i := range c.events {
		r.perSym[i%c.symbols]++
	}
	return r
}

func benchKafka(ctx context.Context, c benchKafkaConfig, log *slog.Logger, stderr io.Writer) (*benchKafkaReport, error) {
	run := newBenchKafkaRun(c)
	brokers := splitList(c.brokers)
	rep := &benchKafkaReport{Mode: c.mode, CandleViews: !c.noViews, Database: run.db, Events: c.events, Symbols: c.symbols,
		Cores: map[string]float64{}}
	log = log.With("run", run.id)

	// A fresh database whose stored offsets are the unified topics' ends: the sink (a group
	// member reading the stored offsets) starts where the preload begins, not at the history
	// other runs left in the shared topics.
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics([]string{"binance"}, transport.TopicDefaults{})); err != nil {
		return nil, fmt.Errorf("%w (is Kafka running at %s? deploy/ci/kafka.sh start)", err, c.brokers)
	}
	store, err := clickhouse.Open(ctx, clickhouse.Config{Addr: c.chAddr, Database: run.db})
	if err != nil {
		return nil, fmt.Errorf("%w (is ClickHouse running at %s? deploy/ci/clickhouse.sh start)", err, c.chAddr)
	}
	conn, err := ch.Open(&ch.Options{Addr: []string{c.chAddr}, Auth: ch.Auth{Database: run.db}})
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	defer func() {
		if !c.keep {
			if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+run.db); err != nil {
				log.Warn("drop bench database", "err", err)
			}
		}
		_ = conn.Close()
	}()
	if c.noViews {
		if err := conn.Exec(ctx, "DROP TABLE "+clickhouse.CandleFeedView); err != nil {
			return nil, errors.Join(fmt.Errorf("drop candle view: %w", err), store.Close())
		}
	}
	var start []transport.Offset
	for _, topic := range sink.Topics(store) {
		ends, err := transport.EndOffsets(ctx, brokers, topic)
		if err != nil {
			return nil, errors.Join(err, store.Close())
		}
		for p, next := range ends {
			start = append(start, transport.Offset{Topic: topic, Partition: p, Next: next})
		}
	}
	if _, err := store.Write(ctx, &sink.Batch{Offsets: start}); err != nil {
		return nil, errors.Join(fmt.Errorf("seed the stored offsets: %w", err), store.Close())
	}
	if err := store.Close(); err != nil {
		return nil, err
	}

	t0 := time.Now()
	if c.mode == "sink" {
		err = preloadUnified(ctx, brokers, run, c)
	} else {
		err = preloadRaw(ctx, brokers, run, c)
	}
	if err != nil {
		return nil, err
	}
	records := c.events
	if c.mode == "e2e" {
		records += 3 * c.conns // connect, subscribe and exchangeInfo per connection
	}
	rep.PreloadPerSec = float64(records) / time.Since(t0).Seconds()
	log.Info("preloaded", "records", records, "per_sec", int(rep.PreloadPerSec))

	// The processes under test.
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	type proc struct {
		name string
		cmd  *exec.Cmd
		done chan struct{} // closed when the process exited; err is then its Wait error
		err  error
	}
	var procs []*proc
	defer func() {
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	}()
	startProc := func(name string, args ...string) error {
		cmd := exec.Command(self, args...)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
		go func() { p.err = p.cmd.Wait(); close(p.done) }()
		procs = append(procs, p)
		return nil
	}
	sinkMetrics, normMetrics := freePort(), freePort()
	tStart := time.Now()
	if c.mode == "e2e" {
		if err := startProc("normalize", "normalize", "--kafka-brokers", c.brokers, "--venues", "binance",
			"--group", "tickflow-bench-"+run.id+"-normalizer", "--metrics-addr", normMetrics,
			"--log-level", c.logLevel); err != nil {
			return nil, err
		}
	}
	dsnParams := ""
	if c.insertPar > 0 {
		dsnParams = "?insert_parallelism=" + strconv.Itoa(c.insertPar)
	}
	sinkArgs := []string{"sink", "--kafka-brokers", c.brokers, "--clickhouse-dsn",
		"clickhouse://" + c.chAddr + "/" + run.db + dsnParams, "--group", "tickflow-bench-" + run.id + "-sink",
		"--metrics-addr", sinkMetrics, "--log-level", c.logLevel}
	if c.batchRows > 0 {
		sinkArgs = append(sinkArgs, "--batch-rows", strconv.Itoa(c.batchRows))
	}
	if c.batchDelay > 0 {
		sinkArgs = append(sinkArgs, "--batch-delay", c.batchDelay.String())
	}
	if err := startProc("sink", sinkArgs...); err != nil {
		return nil, err
	}
	if c.profileDir != "" {
		addrs := map[string]string{"sink": sinkMetrics}
		if c.mode == "e2e" {
			addrs["normalize"] = normMetrics
		}
		profiled := profileProcs(ctx, c.profileDir, c.profileFor, addrs, log)
		defer func() { <-profiled }()
	}
	// The servers' CPU is reported too (they share the machine with the processes).
	external := map[string]int{}
	for _, p := range []struct{ name, file string }{{"clickhouse-server", c.chPIDFile}, {"kafka", c.kafkaPID}} {
		if b, err := os.ReadFile(p.file); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && procCPU(pid) > 0 {
				external[p.name] = pid
			}
		}
	}

	// Wait for the first and the last stored trade of the run.
	countQ := "SELECT count() FROM trades WHERE venue = ? AND startsWith(symbol, ?)"
	var tFirst, tDone time.Time
	deadline := time.Now().Add(c.timeout)
	cpuAt := func() map[string]float64 {
		m := map[string]float64{}
		for _, p := range procs {
			m[p.name] = procCPU(p.cmd.Process.Pid)
		}
		for name, pid := range external {
			m[name] = procCPU(pid)
		}
		return m
	}
	var cpuFirst map[string]float64
	var n, nFirst uint64
	for {
		if err := conn.QueryRow(ctx, countQ, run.venue, run.prefix).Scan(&n); err != nil {
			return nil, fmt.Errorf("count stored trades: %w", err)
		}
		now := time.Now()
		if n > 0 && tFirst.IsZero() {
			tFirst, nFirst, cpuFirst = now, n, cpuAt()
		}
		if n >= uint64(c.events) {
			tDone = now
			break
		}
		for _, p := range procs {
			select {
			case <-p.done:
				return nil, fmt.Errorf("%s exited before the run was stored: %v", p.name, p.err)
			default:
			}
		}
		if now.After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("stored %d of %d trades after %v", n, c.events, time.Since(tStart).Round(time.Second))
		}
		time.Sleep(100 * time.Millisecond)
	}
	cpuDone := cpuAt()
	rep.StartupSeconds = tFirst.Sub(tStart).Seconds()
	rep.CatchUpSeconds = tDone.Sub(tFirst).Seconds()
	if rep.CatchUpSeconds > 0 {
		// The rows seen at tFirst were written before the window: not counted in it.
		rep.PerSec = float64(uint64(c.events)-nFirst) / rep.CatchUpSeconds
		for name, v := range cpuDone {
			rep.Cores[name] = (v - cpuFirst[name]) / rep.CatchUpSeconds
		}
	}
	rep.OverallPerSec = float64(c.events) / tDone.Sub(tStart).Seconds()
	if body, err := httpGetBody(sinkMetrics, "/metrics"); err == nil {
		rep.SinkBatches = promSum(body, "tickflow_sink_batch_rows_count")
		if rep.SinkBatches > 0 {
			rep.SinkAvgRows = promSum(body, "tickflow_sink_batch_rows_sum") / rep.SinkBatches
		}
	}
	return rep, verifyBenchKafka(ctx, conn, run, rep)
}

// verifyBenchKafka checks that every trade id of the run is stored exactly once.
func verifyBenchKafka(ctx context.Context, conn driver.Conn, run *benchKafkaRun, rep *benchKafkaReport) error {
	rows, err := conn.Query(ctx, `SELECT symbol, count(), uniqExact(trade_id_num), min(trade_id_num), max(trade_id_num)
		FROM trades WHERE venue = ? AND startsWith(symbol, ?) GROUP BY symbol`, run.venue, run.prefix)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer rows.Close()
	want := make(map[string]int64, len(run.names))
	for i, n := range run.names {
		want[n] = run.perSym[i]
	}
	var problems []string
	for rows.Next() {
		var sym string
		var cnt, uniq, lo, hi uint64
		if err := rows.Scan(&sym, &cnt, &uniq, &lo, &hi); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		w, ok := want[sym]
		if !ok {
			problems = append(problems, "unexpected symbol "+sym)
			continue
		}
		delete(want, sym)
		rep.Stored += cnt
		rep.Duplicates += int64(cnt - uniq)
		if lo != 1 || int64(hi) != w || int64(uniq) != w {
			rep.Missing += w - int64(uniq)
			problems = append(problems, fmt.Sprintf("%s: ids %d..%d, %d distinct, want 1..%d", sym, lo, hi, uniq, w))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for sym, w := range want {
		rep.Missing += w
		problems = append(problems, sym+": nothing stored")
	}
	var total uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM trades").Scan(&total); err == nil {
		rep.OtherRows = total - rep.Stored
	}
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("... %d more", len(problems)-10))
		}
		return fmt.Errorf("verify: %d missing, %d duplicates: %s", rep.Missing, rep.Duplicates, strings.Join(problems, "; "))
	}
	return nil
}

// benchProducer produces a preload and counts failures.
type benchProducer struct {
	p      *transport.Producer
	failed atomic.Int64
	done   transport.DoneFunc
}

func newBenchProducer(brokers []string) (*benchProducer, error) {
	p, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers, BatchSize: 10_000},
		nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	bp := &benchProducer{p: p}
	bp.done = func(err error) {
		if err != nil {
			bp.failed.Add(1)
		}
	}
	return bp, nil
}

// close flushes and reports failed records.
func (bp *benchProducer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := bp.p.Close(ctx); err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	if n := bp.failed.Load(); n > 0 {
		return fmt.Errorf("preload: %d records failed to produce", n)
	}
	return nil
}

// preloadUnified produces the run's trades, md-encoded, to the trades topic keyed by
// instrument as the normalizer does: symbol i gets ids and provenance seqs 1..perSym[i].
func preloadUnified(ctx context.Context, brokers []string, run *benchKafkaRun, c benchKafkaConfig) error {
	bp, err := newBenchProducer(brokers)
	if err != nil {
		return err
	}
	epoch := uint64(time.Now().UnixNano())
	next := make([]uint64, c.symbols)
	keys := make([][]byte, c.symbols)
	for i, n := range run.names {
		keys[i] = []byte(run.venue + "/" + n)
	}
	base := time.Now().UnixNano()
	for k := range c.events {
		i := k % c.symbols
		next[i]++
		id := next[i]
		t := int64(base) + int64(k)*1000
		tr := md.Trade{Header: md.Header{Venue: run.venue, Symbol: run.names[i], ExchTime: t - 2_000_000,
			SendTime: t - 1_000_000, RecvTime: t, Prov: md.Provenance{Epoch: epoch, Seq: id}, ParserVersion: 1},
			ID: md.NumericID(id), Price: md.Decimal{Mant: 6_500_000 + int64(id%1000), Scale: 2},
			Qty: md.Decimal{Mant: 1 + int64(id%50), Scale: 5}, Side: md.Side(1 + id%2)}
		// The value is owned by the producer until acknowledged: a fresh buffer per record.
		if err := bp.p.Produce(ctx, transport.TopicTrades, keys[i], md.AppendTrade(nil, &tr), bp.done); err != nil {
			return errors.Join(fmt.Errorf("preload: %w", err), bp.close())
		}
	}
	return bp.close()
}

// preloadRaw produces the run's trades as the collector writes them: raw Binance combined
// stream trade frames (the simulator's format) in md.RawRecords, preceded per connection by
// its connect and subscribe markers and an exchangeInfo response listing its symbols. The
// symbols are spread over c.conns connections (raw partitions are keyed by connection).
func preloadRaw(ctx context.Context, brokers []string, run *benchKafkaRun, c benchKafkaConfig) error {
	bp, err := newBenchProducer(brokers)
	if err != nil {
		return err
	}
	topic := transport.RawTopic("binance")
	type connState struct {
		rec md.RawRecord
		key []byte
	}
	epoch := uint64(time.Now().UnixNano())
	conns := make([]*connState, c.conns)
	for k := range conns {
		cs := &connState{rec: md.RawRecord{Venue: "binance", Conn: fmt.Sprintf("bench-%s-%d", run.id, k), Epoch: epoch}}
		cs.key = cs.rec.Key(nil)
		conns[k] = cs
	}
	natives := make([]string, c.symbols)
	lower := make([]string, c.symbols)
	for i, n := range run.names {
		base := strings.TrimSuffix(n, "-USDT")
		natives[i] = base + "USDT"
		lower[i] = strings.ToLower(natives[i])
	}
	produce := func(cs *connState, typ md.RawType, dir md.Direction, meta, frame []byte) error {
		cs.rec.Seq++
		cs.rec.Type, cs.rec.Dir, cs.rec.Meta, cs.rec.Frame = typ, dir, meta, frame
		cs.rec.RecvTime = time.Now().UnixNano()
		return bp.p.Produce(ctx, topic, cs.key, md.AppendRaw(nil, &cs.rec), bp.done)
	}
	for k, cs := range conns {
		var infos, subs []string
		for i := k; i < c.symbols; i += c.conns {
			base := strings.TrimSuffix(run.names[i], "-USDT")
			infos = append(infos, fmt.Sprintf(`{"symbol":"%s","status":"TRADING","baseAsset":"%s","quoteAsset":"USDT","filters":[`+
				`{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},`+
				`{"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"}]}`, natives[i], base))
			subs = append(subs, natives[i])
		}
		for _, st := range []struct {
			typ         md.RawType
			dir         md.Direction
			meta, frame string
		}{
			{md.RawConnect, md.DirLocal, "url=ws://bench-kafka/stream", ""},
			{md.RawSubscribe, md.DirLocal, "symbols=" + strings.Join(subs, ","), ""},
			{md.RawREST, md.DirIn, "200 /api/v3/exchangeInfo", `{"timezone":"UTC","serverTime":1795307795368,"symbols":[` + strings.Join(infos, ",") + `]}`},
		} {
			if err := produce(cs, st.typ, st.dir, []byte(st.meta), []byte(st.frame)); err != nil {
				return errors.Join(fmt.Errorf("preload: %w", err), bp.close())
			}
		}
	}
	next := make([]int64, c.symbols)
	var frame bytes.Buffer
	for k := range c.events {
		i := k % c.symbols
		next[i]++
		id := next[i]
		ms := time.Now().UnixMilli()
		frame.Reset()
		fmt.Fprintf(&frame, `{"stream":"%s@trade","data":{"e":"trade","E":%d,"s":"%s","t":%d,"p":"65000.%02d000000","q":"0.%05d000","T":%d,"m":%t,"M":true}}`,
			lower[i], ms, natives[i], id, id%100, 1+id%50, ms, id%2 == 0)
		if err := produce(conns[i%c.conns], md.RawFrame, md.DirIn, nil, bytes.Clone(frame.Bytes())); err != nil {
			return errors.Join(fmt.Errorf("preload: %w", err), bp.close())
		}
	}
	return bp.close()
}

// profileProcs fetches a CPU profile of d from each process's /debug/pprof/profile (addrs:
// process name -> ops address), starting 3 s from now, into dir/<name>.pprof. The returned
// channel is closed when all are written (or failed, which is logged).
func profileProcs(ctx context.Context, dir string, d time.Duration, addrs map[string]string, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for name, addr := range addrs {
		wg.Go(func() {
			if err := fetchProfile(ctx, filepath.Join(dir, name+".pprof"), addr, d); err != nil {
				log.Warn("cpu profile", "process", name, "err", err)
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

func fetchProfile(ctx context.Context, path, addr string, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(3 * time.Second):
	}
	secs := max(1, int(d.Seconds()))
	body, err := httpGetBodyWithin(addr, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs),
		time.Duration(secs)*time.Second+30*time.Second)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(body), 0o644)
}
