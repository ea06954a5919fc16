package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tickflow/tickflow/collectors/binance"
)

// benchConfig holds the flags of `tickflow bench`.
type benchConfig struct {
	dataDir   string
	symbols   int
	rate      float64
	duration  time.Duration
	drain     time.Duration
	channels  string
	depth     int
	reportOut string
	// Pass/fail thresholds (0 = not checked): a CI run uses them to fail on regressions.
	logLevel  string
	minEvents float64
	maxRSSMiB float64
}

// benchSample is one per-second reading of the pipeline and the simulator.
type benchSample struct {
	T            float64 `json:"t"`
	SimTrades    int64   `json:"sim_trades"`
	Frames       float64 `json:"frames"`
	Events       float64 `json:"events"`
	Levels       float64 `json:"levels"`
	Rows         float64 `json:"rows"`
	Lag          float64 `json:"lag"`
	RSS          float64 `json:"rss_bytes"`
	PipelineCPU  float64 `json:"pipeline_cpu_s"`
	SimulatorCPU float64 `json:"simulator_cpu_s"`
}

// benchReport is what `tickflow bench` prints (and writes as JSON with --report).
type benchReport struct {
	Symbols         int           `json:"symbols"`
	Rate            float64       `json:"sim_rate"`
	Duration        string        `json:"duration"`
	FramesPerSec    float64       `json:"frames_per_sec"`
	EventsPerSec    float64       `json:"events_per_sec"`
	LevelsPerSec    float64       `json:"levels_per_sec"`
	RowsPerSec      float64       `json:"rows_per_sec"`
	PipelineCores   float64       `json:"pipeline_cores"`
	SimulatorCores  float64       `json:"simulator_cores"`
	RSSStartMiB     float64       `json:"rss_start_mib"`
	RSSEndMiB       float64       `json:"rss_end_mib"`
	RSSMaxMiB       float64       `json:"rss_max_mib"`
	RSSHalfMiB      float64       `json:"rss_second_half_growth_mib"`
	MaxLag          float64       `json:"max_lag"`
	LagDrainedIn    string        `json:"lag_drained_in"`
	TradesGenerated int           `json:"trades_generated"`
	TradesExpected  int           `json:"trades_expected"`
	Missing         int           `json:"missing"`
	Duplicates      int           `json:"duplicates"`
	Samples         []benchSample `json:"samples"`
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c benchConfig
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory for the run (default: a fresh temporary directory)")
	fs.IntVar(&c.symbols, "symbols", 200, "simulated symbols")
	fs.Float64Var(&c.rate, "rate", 20000, "simulated trades per second")
	fs.DurationVar(&c.duration, "duration", 5*time.Minute, "how long the simulator trades")
	fs.DurationVar(&c.drain, "drain-timeout", 3*time.Minute, "how long to wait for the pipeline to drain after trading stops")
	fs.StringVar(&c.channels, "channels", "trade", "Binance channels to collect (trade, depth, bookTicker)")
	fs.IntVar(&c.depth, "depth-limit", 100, "REST snapshot depth when collecting depth")
	fs.StringVar(&c.reportOut, "report", "", "also write the report as JSON to this file")
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level of the simulator and pipeline processes (their logs go to stderr)")
	fs.Float64Var(&c.minEvents, "min-events-per-sec", 0, "fail unless the steady-state unified events/s reach this (0 = no check)")
	fs.Float64Var(&c.maxRSSMiB, "max-rss-mib", 0, "fail if the pipeline's RSS ever exceeds this many MiB (0 = no check)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if c.dataDir == "" {
		if c.dataDir, err = os.MkdirTemp("", "tickflow-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(c.dataDir)
	}
	simAddr, ctlAddr := freePort(), freePort()
	tradeLog := filepath.Join(c.dataDir, "sim-trades.log")
	sim := exec.CommandContext(ctx, self, "sim", "--addr", simAddr, "--control-addr", ctlAddr, "--trade-log", tradeLog,
		"--symbols", strconv.Itoa(c.symbols), "--rate", strconv.FormatFloat(c.rate, 'f', -1, 64), "--log-level", c.logLevel)
	sim.Stderr = stderr
	if err := sim.Start(); err != nil {
		return fmt.Errorf("start simulator: %w", err)
	}
	defer func() { _ = sim.Process.Kill(); _ = sim.Wait() }()
	if err := waitHTTP(ctx, ctlAddr, "/stats", 30*time.Second); err != nil {
		return fmt.Errorf("simulator did not come up: %w", err)
	}
	pipeDir := filepath.Join(c.dataDir, "pipeline")
	run := exec.CommandContext(ctx, self, "run", "--data-dir", pipeDir, "--http-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0",
		"--binance-ws", "ws://"+simAddr, "--binance-rest", "http://"+simAddr, "--binance-channels", c.channels,
		"--binance-depth-limit", strconv.Itoa(c.depth), "--log-level", c.logLevel)
	run.Stderr = stderr
	if err := run.Start(); err != nil {
		return fmt.Errorf("start pipeline: %w", err)
	}
	defer func() { _ = run.Process.Kill(); _ = run.Wait() }()
	info, err := waitRunInfo(ctx, pipeDir, run.Process.Pid, 60*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench: %d symbols at %.0f trades/s for %s (simulator pid %d, pipeline pid %d)\n",
		c.symbols, c.rate, c.duration, sim.Process.Pid, run.Process.Pid)

	var rep benchReport
	rep.Symbols, rep.Rate, rep.Duration = c.symbols, c.rate, c.duration.String()
	start := time.Now()
	sample := func() (benchSample, error) {
		body, err := httpGetBody(info.HTTPAddr, "/metrics")
		if err != nil {
			return benchSample{}, err
		}
		var st struct{ Trades int64 }
		if b, err := httpGetBody(ctlAddr, "/stats"); err == nil {
			_ = json.Unmarshal([]byte(b), &st)
		}
		s := benchSample{T: time.Since(start).Seconds(), SimTrades: st.Trades,
			Frames:      promSum(body, "tickflow_collector_frames_total", `dir="in"`),
			Events:      promSum(body, "tickflow_normalizer_events_total"),
			Levels:      promSum(body, "tickflow_normalizer_levels_total"),
			Rows:        promSum(body, "tickflow_sink_rows_written_total"),
			Lag:         promSum(body, "tickflow_transport_consumer_lag_records", `consumer="normalizer`) + promSum(body, "tickflow_transport_consumer_lag_records", `consumer="sink"`),
			RSS:         promSum(body, "process_resident_memory_bytes"),
			PipelineCPU: promSum(body, "process_cpu_seconds_total"), SimulatorCPU: procCPU(sim.Process.Pid)}
		return s, nil
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var first, last benchSample
	for time.Since(start) < c.duration {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		s, err := sample()
		if err != nil {
			continue
		}
		if first.T == 0 && s.T >= 10 { // measure steady state after a 10 s warm-up
			first = s
		}
		last = s
		rep.MaxLag = max(rep.MaxLag, s.Lag)
		rep.Samples = append(rep.Samples, s)
		fmt.Fprintf(stdout, "t=%4.0fs frames=%9.0f events=%9.0f rows=%9.0f lag=%8.0f rss=%5.0fMiB\n",
			s.T, s.Frames, s.Events, s.Rows, s.Lag, s.RSS/(1<<20))
	}
	if first.T == 0 || last.T <= first.T {
		return errors.New("bench: run too short to measure (use --duration of at least 20s)")
	}
	dt := last.T - first.T
	rep.FramesPerSec = (last.Frames - first.Frames) / dt
	rep.EventsPerSec = (last.Events - first.Events) / dt
	rep.LevelsPerSec = (last.Levels - first.Levels) / dt
	rep.RowsPerSec = (last.Rows - first.Rows) / dt
	rep.PipelineCores = (last.PipelineCPU - first.PipelineCPU) / dt
	rep.SimulatorCores = (last.SimulatorCPU - first.SimulatorCPU) / dt
	rep.RSSStartMiB, rep.RSSEndMiB = first.RSS/(1<<20), last.RSS/(1<<20)
	// RSS growth over the second half of the measured window: near 0 when RSS has levelled off.
	for _, s := range rep.Samples {
		rep.RSSMaxMiB = max(rep.RSSMaxMiB, s.RSS/(1<<20))
		if rep.RSSHalfMiB == 0 && s.T >= first.T+dt/2 {
			rep.RSSHalfMiB = last.RSS/(1<<20) - s.RSS/(1<<20)
		}
	}

	// Stop trading, let the pipeline drain, and compare ids.
	resp, err := http.Post("http://"+ctlAddr+"/stop-trading", "", nil)
	if err != nil {
		return fmt.Errorf("stop simulator trading: %w", err)
	}
	resp.Body.Close()
	drainStart := time.Now()
	for {
		s, err := sample()
		if err == nil && s.Lag == 0 && s.T > last.T+2 {
			rep.LagDrainedIn = time.Since(drainStart).Round(100 * time.Millisecond).String()
			break
		}
		if time.Since(drainStart) > c.drain {
			rep.LagDrainedIn = "not drained within " + c.drain.String()
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if strings.Contains(c.channels, "trade") {
		if err := benchCompare(info.HTTPAddr, simAddr, tradeLog, c.drain, &rep); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nframes/s %.0f  events/s %.0f  levels/s %.0f  rows/s %.0f\npipeline %.2f cores, simulator %.2f cores; RSS %.0f -> %.0f MiB (max %.0f, %+.0f MiB over the second half); max lag %.0f, drained in %s\ntrades: generated %d, expected from first capture %d, missing %d, duplicates %d\n",
		rep.FramesPerSec, rep.EventsPerSec, rep.LevelsPerSec, rep.RowsPerSec, rep.PipelineCores, rep.SimulatorCores,
		rep.RSSStartMiB, rep.RSSEndMiB, rep.RSSMaxMiB, rep.RSSHalfMiB, rep.MaxLag, rep.LagDrainedIn, rep.TradesGenerated, rep.TradesExpected, rep.Missing, rep.Duplicates)
	if c.reportOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(c.reportOut, b, 0o644); err != nil {
			return err
		}
	}
	var fails []error
	if rep.Missing != 0 || rep.Duplicates != 0 {
		fails = append(fails, fmt.Errorf("bench: %d trades missing, %d duplicated", rep.Missing, rep.Duplicates))
	}
	if strings.HasPrefix(rep.LagDrainedIn, "not drained") {
		fails = append(fails, fmt.Errorf("bench: consumer lag %s", rep.LagDrainedIn))
	}
	if c.minEvents > 0 && rep.EventsPerSec < c.minEvents {
		fails = append(fails, fmt.Errorf("bench: %.0f unified events/s, below --min-events-per-sec %.0f", rep.EventsPerSec, c.minEvents))
	}
	if c.maxRSSMiB > 0 && rep.RSSMaxMiB > c.maxRSSMiB {
		fails = append(fails, fmt.Errorf("bench: RSS reached %.0f MiB, above --max-rss-mib %.0f", rep.RSSMaxMiB, c.maxRSSMiB))
	}
	return errors.Join(fails...)
}

// benchCompare waits until the store holds every generated trade from the first captured id
// of each symbol on, then counts missing and duplicate ids.
func benchCompare(httpAddr, simAddr, tradeLog string, timeout time.Duration, rep *benchReport) error {
	body, err := httpGetBody(simAddr, "/api/v3/exchangeInfo")
	if err != nil {
		return err
	}
	insts, err := binance.ParseExchangeInfo([]byte(body), 0)
	if err != nil {
		return err
	}
	unified := map[string]string{}
	for _, in := range insts {
		unified[in.Native] = in.Symbol
	}
	f, err := os.Open(tradeLog)
	if err != nil {
		return err
	}
	defer f.Close()
	generated := map[string][]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sym, id, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(id, 10, 64)
		generated[unified[sym]] = append(generated[unified[sym]], n)
		rep.TradesGenerated++
	}
	// Binance trade ids are contiguous per symbol: per-symbol aggregates decide completeness
	// without moving every id through the query endpoint (which caps result rows).
	deadline := time.Now().Add(timeout)
	q := "SELECT symbol, min(trade_id_num), max(trade_id_num), count(*), count(DISTINCT trade_id_num) FROM trades GROUP BY symbol"
	for {
		out, err := httpGetBody(httpAddr, "/query?q="+url.QueryEscape(q))
		if err != nil {
			return err
		}
		type agg struct{ min, max, rows, distinct uint64 }
		stored := map[string]agg{}
		for i, line := range strings.Split(out, "\n") {
			f := strings.Split(line, ",")
			if i == 0 || len(f) != 5 {
				continue
			}
			var a agg
			a.min, _ = strconv.ParseUint(f[1], 10, 64)
			a.max, _ = strconv.ParseUint(f[2], 10, 64)
			a.rows, _ = strconv.ParseUint(f[3], 10, 64)
			a.distinct, _ = strconv.ParseUint(f[4], 10, 64)
			stored[f[0]] = a
		}
		rep.TradesExpected, rep.Missing, rep.Duplicates = 0, 0, 0
		for sym, ids := range generated {
			a, ok := stored[sym]
			if !ok {
				continue
			}
			var want uint64
			for _, id := range ids {
				if id >= a.min {
					want++
				}
			}
			rep.TradesExpected += int(want)
			// Stored ids lie in [min, max]; every generated id in that range must be there,
			// and none above max may be missing either.
			rep.Missing += int(want - min(want, a.distinct))
			rep.Duplicates += int(a.rows - a.distinct)
		}
		if rep.Missing == 0 || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(2 * time.Second)
	}
}

var promLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// promSum sums the samples of a metric whose labels contain every given fragment.
func promSum(body, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		m := promLine.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(m[2], l)
		}
		if ok {
			v, _ := strconv.ParseFloat(m[3], 64)
			sum += v
		}
	}
	return sum
}

// procCPU returns the CPU seconds (user+system) a process has used, from /proc.
func procCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGetBody(addr, path string) (string, error) {
	return httpGetBodyWithin(addr, path, 30*time.Second)
}

// httpGetBodyWithin is httpGetBody with its own timeout (a CPU profile takes its duration).
func httpGetBodyWithin(addr, path string, timeout time.Duration) (string, error) {
	resp, err := (&http.Client{Timeout: timeout}).Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, b)
	}
	return string(b), err
}

func waitHTTP(ctx context.Context, addr, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := httpGetBody(addr, path); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitRunInfo(ctx context.Context, dataDir string, pid int, timeout time.Duration) (runInfo, error) {
	deadline := time.Now().Add(timeout)
	for {
		info, err := loadRunInfo(dataDir)
		if err == nil && info.PID == pid {
			if _, err := httpGetBody(info.HTTPAddr, "/readyz"); err == nil {
				return info, nil
			}
		}
		if time.Now().After(deadline) {
			return info, errors.New("pipeline did not become ready")
		}
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
