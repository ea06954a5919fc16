package binancesim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// syncBuffer is a goroutine-safe bytes.Buffer for TradeLog.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkTradeLog asserts the log holds exactly n lines with contiguous ids
// per symbol and returns the per-symbol first and last id.
func checkTradeLog(t *testing.T, log string, n int) map[string][2]int64 {
	t.Helper()
	ids := map[string][2]int64{}
	sc := bufio.NewScanner(bytes.NewBufferString(log))
	lines := 0
	for sc.Scan() {
		var sym string
		var id int64
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &sym, &id); err != nil {
			t.Fatalf("trade log line %q: %v", sc.Text(), err)
		}
		r, ok := ids[sym]
		if ok && id != r[1]+1 {
			t.Fatalf("trade log %s: id %d after %d", sym, id, r[1])
		}
		if !ok {
			r[0] = id
		}
		r[1] = id
		ids[sym] = r
		lines++
	}
	if lines != n {
		t.Fatalf("trade log has %d lines, want %d", lines, n)
	}
	return ids
}

// TestFaultsFrames: drops, duplicates and malformed frames at roughly the
// configured rates, while the TradeLog stays complete.
func TestFaultsFrames(t *testing.T) {
	const total = 20000
	var log syncBuffer
	s := startServer(t, Config{Seed: 30, Symbols: 2, TradeRate: 40_000, MaxTrades: total, TradeLog: &log,
		Faults: Faults{DropRate: 0.05, DuplicateRate: 0.05, MalformedRate: 0.05}})
	c := dial(t, s, "/ws/btcusdt@trade/pepeusdt@trade")

	var frames, malformed, dups, gaps int
	last := map[string]int64{}
	for {
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, b, err := c.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && s.Stats().Trades == total {
				break
			}
			t.Fatalf("read: %v", err)
		}
		frames++
		var tr wireTrade
		if json.Unmarshal(b, &tr) != nil {
			malformed++
			continue
		}
		prev, ok := last[tr.S]
		switch {
		case ok && tr.T == prev:
			dups++
		case ok && tr.T > prev+1:
			gaps += int(tr.T - prev - 1)
		case ok && tr.T < prev:
			t.Fatalf("%s went backwards: %d after %d", tr.S, tr.T, prev)
		}
		last[tr.S] = max(prev, tr.T)
	}
	st := s.Stats()
	t.Logf("frames %d malformed %d dups %d missing %d; stats %+v", frames, malformed, dups, gaps, st)
	if frames < total/2 {
		t.Fatalf("only %d frames for %d trades (connected late?)", frames, total)
	}
	within := func(name string, got int, rate float64, base int) {
		lo, hi := int(rate*0.5*float64(base)), int(rate*1.5*float64(base))
		if got < lo || got > hi {
			t.Errorf("%s = %d, want within [%d, %d]", name, got, lo, hi)
		}
	}
	within("malformed", malformed, 0.05, frames)
	within("duplicates", dups, 0.05, frames)
	// Missing trades are the drops plus the malformed ones (minus a
	// trailing drop, which no later id reveals).
	within("missing", gaps, 0.10, frames)
	if int64(malformed) != st.Malformed || int64(dups) != st.Duplicated {
		t.Errorf("client saw %d malformed %d dups; server counted %d %d", malformed, dups, st.Malformed, st.Duplicated)
	}
	if int64(frames) != st.FramesSent {
		t.Errorf("client read %d frames, server sent %d", frames, st.FramesSent)
	}
	s.StopTrading()
	checkTradeLog(t, log.String(), total)
}

func TestFaultsDisconnect(t *testing.T) {
	tests := []struct {
		name  string
		ratio float64
		clean bool
	}{
		{"clean close 1000", 1, true},
		{"tcp reset", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Seed: 31, Symbols: 2, TradeRate: 1000,
				Faults: Faults{DisconnectEvery: 100 * time.Millisecond, CleanCloseRatio: tt.ratio}})
			for range 3 {
				c := dial(t, s, "/ws/btcusdt@trade")
				start := time.Now()
				err := waitClosed(t, c, 2*time.Second)
				if d := time.Since(start); d < 40*time.Millisecond || d > 400*time.Millisecond {
					t.Fatalf("disconnected after %v", d)
				}
				var ce *websocket.CloseError
				isClean := errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure
				if isClean != tt.clean {
					t.Fatalf("close error %v, want clean=%v", err, tt.clean)
				}
				c.Close()
			}
			if d := s.Stats().Disconnects; d != 3 {
				t.Fatalf("disconnects %d", d)
			}
		})
	}
}

func TestFaultsStale(t *testing.T) {
	s := startServer(t, Config{Seed: 32, Symbols: 2, TradeRate: 2000, PingInterval: 20 * time.Millisecond,
		InboundLimit: 1000, Faults: Faults{StaleEvery: 100 * time.Millisecond}})
	c := dial(t, s, "/ws/btcusdt@trade")
	got := 0
	for {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _, err := c.ReadMessage()
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("stale connection was closed: %v", err)
			}
			break
		}
		got++
	}
	if got == 0 {
		t.Fatal("no data before going stale")
	}
	waitFor(t, time.Second, "stale counted", func() bool { return s.Stats().Stale == 1 })
	if s.Stats().ActiveConnections != 1 {
		t.Fatalf("stale connection closed: %+v", s.Stats())
	}
}

// TestStopTradingAndMaxTrades: generation stops on MaxTrades and on
// StopTrading, the log is flushed, and REST keeps serving.
func TestStopTradingAndMaxTrades(t *testing.T) {
	t.Run("max trades", func(t *testing.T) {
		var log syncBuffer
		s := startServer(t, Config{Seed: 33, TradeRate: 50_000, MaxTrades: 777, TradeLog: &log})
		waitFor(t, 5*time.Second, "777 trades", func() bool { return s.Stats().Trades == 777 })
		waitFor(t, time.Second, "log flushed", func() bool { return bytes.Count([]byte(log.String()), []byte("\n")) == 777 })
		time.Sleep(50 * time.Millisecond)
		if n := s.Stats().Trades; n != 777 {
			t.Fatalf("%d trades after MaxTrades", n)
		}
		checkTradeLog(t, log.String(), 777)
	})
	t.Run("stop trading", func(t *testing.T) {
		var log syncBuffer
		s := startServer(t, Config{Seed: 34, TradeRate: 20_000, TradeLog: &log})
		waitFor(t, 5*time.Second, "some trades", func() bool { return s.Stats().Trades > 1000 })
		s.StopTrading()
		n := s.Stats().Trades
		checkTradeLog(t, log.String(), int(n))
		time.Sleep(50 * time.Millisecond)
		if s.Stats().Trades != n {
			t.Fatal("trades generated after StopTrading")
		}
		s.StopTrading() // idempotent
		if code, _, _ := httpGet(t, s, "/api/v3/trades?symbol=BTCUSDT&limit=1"); code != 200 {
			t.Fatalf("REST after StopTrading: %d", code)
		}
		c := dial(t, s, "/ws")
		send(t, c, `{"method":"LIST_SUBSCRIPTIONS","id":1}`)
		if r := readReply(t, c); string(r["result"]) != "[]" {
			t.Fatalf("ws after StopTrading: %v", r)
		}
	})
}

// TestDeterminismFromSeed: two servers with the same seed generate the
// same trades (symbol, id, price, qty, side); another seed differs.
func TestDeterminismFromSeed(t *testing.T) {
	run := func(seed int64) (string, string) {
		var log syncBuffer
		s := startServer(t, Config{Seed: seed, Symbols: 3, TradeRate: 50_000, MaxTrades: 3000, TradeLog: &log})
		waitFor(t, 5*time.Second, "max trades", func() bool { return s.Stats().Trades == 3000 })
		s.StopTrading()
		var prices bytes.Buffer
		for _, inst := range s.Instruments() {
			_, _, body := httpGet(t, s, "/api/v3/trades?symbol="+inst.Symbol+"&limit=1000")
			var ts []restTrade
			if err := json.Unmarshal(body, &ts); err != nil {
				t.Fatal(err)
			}
			for _, tr := range ts {
				fmt.Fprintf(&prices, "%s %d %s %s %s %v\n", inst.Symbol, tr.ID, tr.Price, tr.Qty, tr.QuoteQty, tr.IsBuyerMaker)
			}
		}
		return log.String(), prices.String()
	}
	logA, pricesA := run(99)
	logB, pricesB := run(99)
	logC, _ := run(100)
	if logA != logB || pricesA != pricesB {
		t.Fatal("same seed, different trades")
	}
	if logA == logC {
		t.Fatal("different seeds, same trades")
	}
}
