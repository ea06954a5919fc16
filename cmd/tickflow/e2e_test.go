package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	binancesim "github.com/tickflow/tickflow/collectors/sim/binance"
)

// syncBuffer is a goroutine-safe bytes.Buffer for the simulator's trade log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

type runHandle struct {
	cancel context.CancelFunc
	done   chan error
	info   runInfo
}

func startPipeline(t *testing.T, dataDir string, extra ...string) *runHandle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0",
		"--log-level", "warn"}, extra...)
	h := &runHandle{cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- cmdRun(ctx, args, io.Discard, testWriter{t}) }()
	// run.json is removed on exit, so a fresh one belongs to this run.
	waitFor(t, 60*time.Second, "run.json", func() bool {
		select {
		case err := <-h.done:
			t.Fatalf("pipeline exited during startup: %v", err)
		default:
		}
		_, err := os.Stat(filepath.Join(dataDir, runInfoFile))
		return err == nil
	})
	h.info = readRunInfo(t, dataDir, 0, 10*time.Second)
	waitFor(t, 30*time.Second, "readiness", func() bool {
		_, err := httpGet(h.info.HTTPAddr, "/readyz")
		return err == nil
	})
	return h
}

func (h *runHandle) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("pipeline stopped with error: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pipeline did not stop within 10s")
	}
	t.Logf("pipeline stopped in %s", time.Since(start).Round(time.Millisecond))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// TestEndToEndCountsReconcile runs the whole pipeline in-process against the simulator and
// checks that every count agrees exactly: trades generated = trade frames collected =
// trades normalized = rows stored = trades delivered to a WebSocket client subscribed to
// everything, and that /metrics says the same. Then it stops the pipeline (clean shutdown
// within 10 s) and restarts it: nothing is re-consumed or stored again.
func TestEndToEndCountsReconcile(t *testing.T) {
	const total = 20000
	var tradeLog syncBuffer
	sim, err := binancesim.New(binancesim.Config{Seed: 7, Symbols: 8, TradeRate: 5000, MaxTrades: total,
		Paused: true, TradeLog: &tradeLog})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	venueFlags := []string{"--binance-ws", "ws://" + sim.Addr(), "--binance-rest", "http://" + sim.Addr(),
		"--tail-check-every", "1s", "--binance-channels", "trade"}
	h := startPipeline(t, dir, venueFlags...)
	addr := h.info.HTTPAddr

	// The collector has subscribed once the venue acknowledged its SUBSCRIBE.
	waitFor(t, 30*time.Second, "collector subscription", func() bool {
		return metric(t, addr, "tickflow_collector_frames_total", `dir="in"`) >= 1
	})

	// A WebSocket client subscribed to every trade.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]any{"op": "subscribe", "channels": []string{"trades:*:*"}, "id": 1}); err != nil {
		t.Fatal(err)
	}
	received := make(chan map[string]bool, 1)
	go func() {
		got := map[string]bool{}
		n := 0
		for {
			_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, b, err := ws.ReadMessage()
			if err != nil {
				received <- got
				return
			}
			var m struct {
				Type, Symbol, ID string
			}
			if json.Unmarshal(b, &m) == nil && m.Type == "trade" {
				got[m.Symbol+"/"+m.ID] = true
				n++
				if n == total {
					received <- got
					return
				}
			}
		}
	}()
	waitFor(t, 10*time.Second, "gateway subscription", func() bool {
		return metric(t, addr, "tickflow_gateway_clients") >= 1
	})
	time.Sleep(200 * time.Millisecond) // the subscribe reply is processed before trading starts

	sim.StartTrading()
	waitFor(t, 60*time.Second, "simulator to finish trading", func() bool { return sim.Stats().Trades >= total })
	waitFor(t, 60*time.Second, "store to hold every trade", func() bool {
		n, err := queryInt(addr, "SELECT count(*) FROM trades")
		if err == nil && n >= total {
			return true
		}
		if time.Now().Second()%5 == 0 {
			t.Logf("store %d (%v); sim %+v; collector in %v; normalizer %v; sink %v; dups %v", n, err, sim.Stats(),
				metric(t, addr, "tickflow_collector_frames_total", `dir="in"`),
				metric(t, addr, "tickflow_normalizer_events_total", `kind="trade"`),
				metric(t, addr, "tickflow_sink_rows_written_total", `kind="trade"`),
				metric(t, addr, "tickflow_normalizer_duplicates_total"))
			time.Sleep(time.Second)
		}
		return false
	})

	var ws_ map[string]bool
	select {
	case ws_ = <-received:
	case <-time.After(60 * time.Second):
		t.Fatal("WebSocket client did not receive every trade")
	}

	want := tradeLogIDs(t, tradeLog.Bytes(), unifiedOf(t, sim.Addr()))
	if len(want) != total {
		t.Fatalf("trade log has %d ids, want %d", len(want), total)
	}
	rows, err := query(addr, "SELECT symbol, trade_id FROM trades")
	if err != nil {
		t.Fatal(err)
	}
	if missing, dups, extra := compareIDs(t, want, rows); missing+dups+extra != 0 {
		t.Fatalf("store vs simulator: %d missing, %d duplicates, %d unknown", missing, dups, extra)
	}
	if len(ws_) != total {
		t.Fatalf("WebSocket client received %d distinct trades, want %d", len(ws_), total)
	}
	for k := range want {
		if !ws_[k] {
			t.Fatalf("WebSocket client missed %s", k)
		}
	}

	// /metrics agrees, stage by stage.
	stats := sim.Stats()
	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"simulator trade frames sent", float64(stats.FramesSent), total},
		{"collector inbound frames (trades + 1 subscribe reply)", metric(t, addr, "tickflow_collector_frames_total", `dir="in"`), total + 1},
		{"normalizer trades", metric(t, addr, "tickflow_normalizer_events_total", `kind="trade"`), total},
		{"sink trade rows", metric(t, addr, "tickflow_sink_rows_written_total", `kind="trade"`), total},
		{"gateway trades sent", metric(t, addr, "tickflow_gateway_messages_sent_total", `kind="trade"`), total},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	h.stop(t)

	// Restart on the same data dir: nothing is re-consumed or stored again.
	h2 := startPipeline(t, dir, venueFlags...)
	addr = h2.info.HTTPAddr
	waitFor(t, 30*time.Second, "collector to reconnect", func() bool {
		return metric(t, addr, "tickflow_collector_frames_total", `dir="in"`) >= 1
	})
	time.Sleep(3 * time.Second) // let tail checks and a checkpoint happen
	if n := metric(t, addr, "tickflow_normalizer_events_total", `kind="trade"`); n != 0 {
		t.Errorf("after restart the normalizer emitted %v trades again", n)
	}
	if n := metric(t, addr, "tickflow_sink_rows_written_total", `kind="trade"`); n != 0 {
		t.Errorf("after restart the sink wrote %v trade rows again", n)
	}
	if n := metric(t, addr, "tickflow_transport_consumed_records_total", `consumer="sink"`, `topic="tickflow.md.trades"`); n != 0 {
		t.Errorf("after restart the sink consumed %v trade records again", n)
	}
	n, err := queryInt(addr, "SELECT count(*) FROM trades")
	if err != nil || n != total {
		t.Errorf("after restart the store holds %d trades (%v), want %d", n, err, total)
	}
	h2.stop(t)
}
