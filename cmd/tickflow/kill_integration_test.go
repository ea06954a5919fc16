//go:build integration

package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the tickflow binary once for the integration tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tickflow")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build tickflow: %v", err)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return freePort()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestIntegration_KillRestart runs the simulator as its own process with frame faults
// (drops, duplicates, garbled frames) and kills the pipeline with SIGKILL at random moments
// (TICKFLOW_KILLS times, default 20), restarting it on the same data dir each time. Then it
// stops trading, lets the pipeline drain, stops it with SIGTERM (exit 0 within 10 s) and
// checks: the stored trade ids equal the simulator's generated ids from the first captured
// id of each symbol on — 0 missing, 0 duplicates — and every disconnect window recorded as
// an integrity event is no wider than kill-to-reconnect plus 1 s.
func TestIntegration_KillRestart(t *testing.T) {
	bin := buildBinary(t)
	kills := envInt("TICKFLOW_KILLS", 20)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	tradeLog := filepath.Join(dir, "trades.log")
	simAddr, ctlAddr := freeAddr(t), freeAddr(t)

	sim := exec.Command(bin, "sim", "--addr", simAddr, "--control-addr", ctlAddr, "--trade-log", tradeLog,
		"--symbols", "8", "--rate", "400", "--seed", "3",
		"--drop-rate", "0.002", "--dup-rate", "0.002", "--malformed-rate", "0.001", "--log-level", "warn")
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sim.Process.Signal(syscall.SIGTERM); sim.Wait() }()
	waitFor(t, 20*time.Second, "simulator", func() bool { _, err := httpGet(ctlAddr, "/stats"); return err == nil })

	runArgs := []string{"run", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0",
		"--binance-ws", "ws://" + simAddr, "--binance-rest", "http://" + simAddr,
		"--tail-check-every", "2s", "--checkpoint-every", "500ms", "--log-level", "warn",
		// Every restart re-snapshots every book (a new connection has no continuity): at the
		// default depth (weight 50 each) 20 restarts a minute exceed the venue's weight budget
		// and the collector rightly waits for the next window. Restart storms want shallow
		// snapshots.
		"--binance-depth-limit", "100"}
	var stderr bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, runArgs...)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var killTimes []int64
	startupKills := 0
	for i := 0; i < kills; i++ {
		cmd := start()
		// Random moments: a quarter while starting (recovery of the broker log, the store's WAL
		// and checkpoints), the rest while ingesting — the sink commits every ~200 ms and the
		// normalizer checkpoints every 500 ms, so these land mid-commit too.
		if rng.IntN(4) == 0 {
			startupKills++
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		} else {
			info := readRunInfo(t, dataDir, cmd.Process.Pid, 60*time.Second)
			waitFor(t, 30*time.Second, "readiness", func() bool { _, err := httpGet(info.HTTPAddr, "/readyz"); return err == nil })
			time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		}
		killTimes = append(killTimes, time.Now().UnixNano())
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
	}
	t.Logf("killed the pipeline %d times (%d while starting)", kills, startupKills)

	// Final run: drain everything.
	cmd := start()
	info := readRunInfo(t, dataDir, cmd.Process.Pid, 60*time.Second)
	waitFor(t, 30*time.Second, "readiness", func() bool { _, err := httpGet(info.HTTPAddr, "/readyz"); return err == nil })
	time.Sleep(3 * time.Second) // trade a little with the final run
	resp, err := http.Post("http://"+ctlAddr+"/stop-trading", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var stats struct{ Trades, Dropped, Duplicated, Malformed int64 }
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	t.Logf("simulator: %+v", stats)

	logBytes, err := os.ReadFile(tradeLog)
	if err != nil {
		t.Fatal(err)
	}
	unified := unifiedOf(t, simAddr)
	generated := tradeLogIDs(t, logBytes, unified)
	if int64(len(generated)) != stats.Trades {
		t.Fatalf("trade log has %d ids, simulator says %d", len(generated), stats.Trades)
	}

	// Drain: the store's count stops moving at the expected total (tail checks find trades
	// lost at the very end of activity).
	var stored [][]string
	waitFor(t, 3*time.Minute, "the store to hold every trade from the first captured id on", func() bool {
		rows, err := query(info.HTTPAddr, "SELECT symbol, trade_id FROM trades")
		if err != nil {
			return false
		}
		stored = rows
		return len(missingFrom(generated, rows)) == 0
	})

	// `tickflow sql` answers while the pipeline runs (DuckDB admits one process per file, so
	// the CLI goes through the running process).
	live, err := exec.Command(bin, "sql", "--data-dir", dataDir, "SELECT count(*) FROM trades").Output()
	if err != nil {
		t.Fatalf("tickflow sql while running: %v", err)
	}
	if rows := parseCSV(string(live)); len(rows) != 1 || rows[0][0] != strconv.Itoa(len(stored)) {
		t.Fatalf("tickflow sql while running = %q, want %d", live, len(stored))
	}

	stopStart := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pipeline exited with %v after SIGTERM; stderr:\n%s", err, tail(stderr.String(), 3000))
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("pipeline did not stop within 10s of SIGTERM")
	}
	t.Logf("SIGTERM to exit: %s", time.Since(stopStart).Round(time.Millisecond))

	// Read the store file directly now that the process is gone.
	out, err := exec.Command(bin, "sql", "--data-dir", dataDir, "SELECT symbol, trade_id FROM trades").Output()
	if err != nil {
		t.Fatalf("tickflow sql: %v", err)
	}
	stored = parseCSV(string(out))
	want := expectedFromFirstCaptured(generated, stored)
	missing, dups, extra := compareIDs(t, want, stored)
	t.Logf("generated %d, expected from first capture %d, stored %d", len(generated), len(want), len(stored))
	if missing != 0 || dups != 0 || extra != 0 {
		t.Fatalf("stored vs generated: %d missing, %d duplicates, %d unknown", missing, dups, extra)
	}

	// Disconnect windows.
	out, err = exec.Command(bin, "sql", "--data-dir", dataDir,
		"SELECT DISTINCT epoch_ns(from_time), epoch_ns(to_time) FROM integrity WHERE type = 'disconnect' ORDER BY 1").Output()
	if err != nil {
		t.Fatalf("tickflow sql: %v", err)
	}
	windows := parseCSV(string(out))
	if len(windows) == 0 {
		t.Fatal("no disconnect windows recorded after the kills")
	}
	// A window must start at the kill that ended its connection (the last frame received
	// lies within 1 s before it: nothing lost earlier is hidden) and end at the reconnect, so
	// it is no wider than that kill-to-reconnect plus 1 s. Runs killed while starting, before
	// their collector connected, extend the outage: such a window spans several kills.
	multi := 0
	for _, w := range windows {
		from, _ := strconv.ParseInt(w[0], 10, 64)
		to, _ := strconv.ParseInt(w[1], 10, 64)
		k := firstAtOrAfter(killTimes, from-int64(time.Second))
		if k == 0 || k > to {
			t.Errorf("disconnect window %v..%v does not start at a kill", time.Unix(0, from), time.Unix(0, to))
			continue
		}
		if width, allowed := time.Duration(to-from), time.Duration(to-k)+time.Second; width > allowed {
			t.Errorf("disconnect window %s wider than kill-to-reconnect %s + 1s", width, time.Duration(to-k))
		}
		if lastBefore(killTimes, to) != k {
			multi++
		}
	}
	t.Logf("%d disconnect windows (%d spanning runs killed before they connected), each within kill-to-reconnect + 1s",
		len(windows), multi)
}

// expectedFromFirstCaptured keeps the generated ids of each symbol from the lowest stored id
// of that symbol on (the collector's capture starts at its first start).
func expectedFromFirstCaptured(generated map[string]bool, stored [][]string) map[string]bool {
	first := map[string]uint64{}
	for _, r := range stored {
		id, _ := strconv.ParseUint(r[1], 10, 64)
		if f, ok := first[r[0]]; !ok || id < f {
			first[r[0]] = id
		}
	}
	want := map[string]bool{}
	for k := range generated {
		sym, idText, _ := strings.Cut(k, "/")
		id, _ := strconv.ParseUint(idText, 10, 64)
		if f, ok := first[sym]; ok && id >= f {
			want[k] = true
		}
	}
	return want
}

func missingFrom(generated map[string]bool, stored [][]string) []string {
	want := expectedFromFirstCaptured(generated, stored)
	have := map[string]bool{}
	for _, r := range stored {
		have[r[0]+"/"+r[1]] = true
	}
	var miss []string
	for k := range want {
		if !have[k] {
			miss = append(miss, k)
		}
	}
	sort.Strings(miss)
	return miss
}

func firstAtOrAfter(ts []int64, t int64) int64 {
	var best int64
	for _, k := range ts {
		if k >= t && (best == 0 || k < best) {
			best = k
		}
	}
	return best
}

func lastBefore(ts []int64, t int64) int64 {
	var best int64
	for _, k := range ts {
		if k <= t && k > best {
			best = k
		}
	}
	return best
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
