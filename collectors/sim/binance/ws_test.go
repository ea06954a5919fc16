package binancesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var (
	price8 = regexp.MustCompile(`^\d+\.\d{8}$`)
	qty8   = regexp.MustCompile(`^\d+\.\d{8}$`)
	qty2   = regexp.MustCompile(`^\d+\.\d{2}$`)
)

// TestWSSubscribeTrades subscribes live, receives trades with contiguous
// ids per symbol and the exact documented field set, and cross-checks
// them against REST historicalTrades.
func TestWSSubscribeTrades(t *testing.T) {
	s := startServer(t, Config{Seed: 3, Symbols: 4, TradeRate: 20_000})
	c := dial(t, s, "/ws")
	send(t, c, `{"method":"SUBSCRIBE","params":["btcusdt@trade","pepeusdt@trade"],"id":1}`)
	if got := string(readMsg(t, c, 2*time.Second)); got != `{"result":null,"id":1}` {
		t.Fatalf("subscribe reply %s", got)
	}
	last := map[string]int64{}
	first := map[string]wireTrade{}
	for n := 0; n < 400; n++ {
		b := readMsg(t, c, 2*time.Second)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("event %q: %v", b, err)
		}
		if k := keys(m); k != "E,M,T,e,m,p,q,s,t" {
			t.Fatalf("event keys %s in %s", k, b)
		}
		if string(m["e"]) != `"trade"` || string(m["M"]) != "true" {
			t.Fatalf("event %s", b)
		}
		var tr wireTrade
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		if !price8.MatchString(tr.P) {
			t.Fatalf("price %q", tr.P)
		}
		switch tr.S {
		case "BTCUSDT":
			if !qty8.MatchString(tr.Q) {
				t.Fatalf("btc qty %q", tr.Q)
			}
		case "PEPEUSDT":
			if !qty2.MatchString(tr.Q) {
				t.Fatalf("pepe qty %q", tr.Q)
			}
		default:
			t.Fatalf("unsubscribed symbol %s", tr.S)
		}
		if prev, ok := last[tr.S]; ok && tr.T != prev+1 {
			t.Fatalf("%s: id %d after %d", tr.S, tr.T, prev)
		}
		if _, ok := first[tr.S]; !ok {
			first[tr.S] = tr
		}
		last[tr.S] = tr.T
	}
	if len(last) != 2 {
		t.Fatalf("symbols seen: %v", last)
	}
	// The stream and REST agree on the exchange's truth.
	for sym, tr := range first {
		code, _, body := httpGet(t, s, fmt.Sprintf("/api/v3/historicalTrades?symbol=%s&fromId=%d&limit=1", sym, tr.T))
		var rt []restTrade
		if code != 200 || json.Unmarshal(body, &rt) != nil || len(rt) != 1 {
			t.Fatalf("historicalTrades %d %s", code, body)
		}
		if rt[0].ID != tr.T || rt[0].Price != tr.P || rt[0].Qty != tr.Q || rt[0].IsBuyerMaker != tr.M {
			t.Fatalf("REST %+v != stream %+v", rt[0], tr)
		}
	}
}

// TestWSCombined covers /stream?streams=, the wrapper, LIST_SUBSCRIPTIONS,
// UNSUBSCRIBE and SET/GET_PROPERTY.
func TestWSCombined(t *testing.T) {
	s := startServer(t, Config{Seed: 4, Symbols: 3, TradeRate: 2000})
	c := dial(t, s, "/stream?streams=btcusdt@trade/ethusdt@trade")
	seen := map[string]bool{}
	for len(seen) < 2 {
		b := readMsg(t, c, 2*time.Second)
		var env map[string]json.RawMessage
		if err := json.Unmarshal(b, &env); err != nil || keys(env) != "data,stream" {
			t.Fatalf("combined frame %s", b)
		}
		var stream string
		_ = json.Unmarshal(env["stream"], &stream)
		var tr wireTrade
		_ = json.Unmarshal(env["data"], &tr)
		if stream != strings.ToLower(tr.S)+"@trade" {
			t.Fatalf("stream %q carries %s", stream, tr.S)
		}
		seen[stream] = true
	}
	send(t, c, `{"method":"LIST_SUBSCRIPTIONS","id":"abc"}`)
	if r := readReply(t, c); string(r["result"]) != `["btcusdt@trade","ethusdt@trade"]` || string(r["id"]) != `"abc"` {
		t.Fatalf("list %v", r)
	}
	send(t, c, `{"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":2}`)
	if r := readReply(t, c); string(r["result"]) != "null" || string(r["id"]) != "2" {
		t.Fatalf("unsubscribe %v", r)
	}
	// After the reply no btcusdt frame may arrive.
	for range 50 {
		b := readMsg(t, c, 2*time.Second)
		if strings.Contains(string(b), "btcusdt@trade") {
			t.Fatalf("frame after unsubscribe: %s", b)
		}
	}
	send(t, c, `{"method":"GET_PROPERTY","params":["combined"],"id":3}`)
	if r := readReply(t, c); string(r["result"]) != "true" {
		t.Fatalf("get property %v", r)
	}
	send(t, c, `{"method":"SET_PROPERTY","params":["combined",false],"id":4}`)
	if r := readReply(t, c); string(r["result"]) != "null" {
		t.Fatalf("set property %v", r)
	}
	// Now raw payloads.
	b := readMsg(t, c, 2*time.Second)
	if !strings.HasPrefix(string(b), `{"e":"trade"`) {
		t.Fatalf("raw frame expected, got %s", b)
	}
}

func TestWSRawPathStreams(t *testing.T) {
	s := startServer(t, Config{Seed: 5, Symbols: 3, TradeRate: 2000})
	c := dial(t, s, "/ws/btcusdt@trade/solusdt@depth@100ms")
	b := readMsg(t, c, 2*time.Second)
	if !strings.HasPrefix(string(b), `{"e":"trade","E":`) || !strings.Contains(string(b), `"s":"BTCUSDT"`) {
		t.Fatalf("frame %s", b)
	}
	send(t, c, `{"method":"LIST_SUBSCRIPTIONS","id":1}`)
	if r := readReply(t, c); string(r["result"]) != `["btcusdt@trade","solusdt@depth@100ms"]` {
		t.Fatalf("list %v", r)
	}
	// An invalid stream in the path is refused before the upgrade.
	d := websocket.Dialer{HandshakeTimeout: time.Second}
	if conn, resp, err := d.Dial("ws://"+s.Addr()+"/ws/BTCUSDT@trade", nil); err == nil {
		conn.Close()
		t.Fatal("upper-case stream accepted")
	} else if resp == nil || resp.StatusCode != 400 {
		t.Fatalf("want HTTP 400, got %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestWSInvalidRequests(t *testing.T) {
	s := startServer(t, Config{Seed: 6, Symbols: 2, TradeRate: 10, InboundLimit: 100})
	c := dial(t, s, "/ws")
	tests := []struct {
		name, req string
		want      string // exact reply
	}{
		{"bad json", `{"method":`,
			`{"error":{"code":3,"msg":"Invalid JSON: expected value at line 1 column 10"},"id":null}`},
		{"unknown method", `{"method":"SUBSCRIB","id":1}`,
			"{\"error\":{\"code\":2,\"msg\":\"Invalid request: unknown variant `SUBSCRIB`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 20\"},\"id\":1}"},
		{"missing method", `{"params":[],"id":7}`,
			"{\"error\":{\"code\":2,\"msg\":\"Invalid request: missing field `method` at line 1 column 20\"},\"id\":7}"},
		{"bad id", `{"method":"LIST_SUBSCRIPTIONS","id":1.5}`,
			`{"error":{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"},"id":null}`},
		{"missing id", `{"method":"LIST_SUBSCRIPTIONS"}`,
			`{"error":{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"},"id":null}`},
		{"too many params", `{"method":"LIST_SUBSCRIPTIONS","params":["x"],"id":2}`,
			`{"error":{"code":2,"msg":"Invalid request: too many parameters"},"id":2}`},
		{"params not strings", `{"method":"SUBSCRIBE","params":[1],"id":3}`,
			`{"error":{"code":2,"msg":"Invalid request: params must be an array of stream names"},"id":3}`},
		{"upper-case stream", `{"method":"SUBSCRIBE","params":["BTCUSDT@trade"],"id":4}`,
			"{\"error\":{\"code\":2,\"msg\":\"Invalid request: invalid stream name `BTCUSDT@trade`: symbols in stream names must be lowercase\"},\"id\":4}"},
		{"unknown property", `{"method":"GET_PROPERTY","params":["foo"],"id":5}`,
			`{"error":{"code":0,"msg":"Unknown property"},"id":5}`},
		{"bad property value", `{"method":"SET_PROPERTY","params":["combined","yes"],"id":6}`,
			`{"error":{"code":1,"msg":"Invalid value type: expected Boolean"},"id":6}`},
		{"property name not string", `{"method":"GET_PROPERTY","params":[1],"id":8}`,
			`{"error":{"code":2,"msg":"Invalid request: property name must be a string"},"id":8}`},
		{"unknown symbol is accepted", `{"method":"SUBSCRIBE","params":["foousdt@trade"],"id":"x1"}`,
			`{"result":null,"id":"x1"}`},
		{"null id", `{"method":"UNSUBSCRIBE","params":["foousdt@trade"],"id":null}`,
			`{"result":null,"id":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send(t, c, tt.req)
			if got := string(readMsg(t, c, 2*time.Second)); got != tt.want {
				t.Fatalf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestWSInboundLimitCloses(t *testing.T) {
	s := startServer(t, Config{Seed: 7, Symbols: 2, TradeRate: 10})
	c := dial(t, s, "/ws")
	for i := range 5 {
		send(t, c, fmt.Sprintf(`{"method":"LIST_SUBSCRIPTIONS","id":%d}`, i))
	}
	for i := range 5 {
		if r := readReply(t, c); string(r["id"]) != fmt.Sprint(i) {
			t.Fatalf("reply %d: %v", i, r)
		}
	}
	send(t, c, `{"method":"LIST_SUBSCRIPTIONS","id":6}`)
	err := waitClosed(t, c, 3*time.Second)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("want close 1008, got %v", err)
	}
	waitFor(t, time.Second, "inbound close counted", func() bool { return s.Stats().InboundLimitCloses == 1 })
}

func TestWSPingPong(t *testing.T) {
	cfg := Config{Seed: 8, Symbols: 2, TradeRate: 10, PingInterval: 20 * time.Millisecond,
		PongTimeout: 150 * time.Millisecond, InboundLimit: 1000}
	s := startServer(t, cfg)

	// A client that answers pings (gorilla's default handler) stays.
	good := dial(t, s, "/ws")
	pings := 0
	good.SetPingHandler(func(data string) error {
		pings++
		return good.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	// A client that ignores pings is closed.
	bad := dial(t, s, "/ws")
	bad.SetPingHandler(func(string) error { return nil })

	badErr := make(chan error, 1)
	go func() {
		_ = bad.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			if _, _, err := bad.ReadMessage(); err != nil {
				badErr <- err
				return
			}
		}
	}()
	_ = good.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _, err := good.ReadMessage()
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("answering client: %v", err)
	}
	if pings < 5 {
		t.Fatalf("only %d pings in 500ms at a 20ms interval", pings)
	}
	if err := <-badErr; errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("silent client not closed")
	}
	if s.Stats().PongTimeouts != 1 {
		t.Fatalf("pong timeouts %d", s.Stats().PongTimeouts)
	}
}

func TestWSConnLifetime(t *testing.T) {
	s := startServer(t, Config{Seed: 9, Symbols: 2, TradeRate: 10, ConnLifetime: 100 * time.Millisecond})
	c := dial(t, s, "/ws")
	start := time.Now()
	err := waitClosed(t, c, 2*time.Second)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("want close 1000, got %v", err)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("closed after %v", d)
	}
}

func TestWSServerShutdown(t *testing.T) {
	s, err := New(Config{Seed: 10, Symbols: 2, TradeRate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s, "/stream")
	send(t, c, `{"method":"LIST_SUBSCRIPTIONS","id":1}`)
	readReply(t, c)
	go s.Close()
	b := readMsg(t, c, 2*time.Second)
	if !strings.HasPrefix(string(b), `{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":`) {
		t.Fatalf("shutdown event %s", b)
	}
	err = waitClosed(t, c, 2*time.Second)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("want close 1001, got %v", err)
	}
	c.Close()
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestWSSlowConsumer(t *testing.T) {
	s := startServer(t, Config{Seed: 11, Symbols: 2, TradeRate: 200_000, SendQueue: 64})
	c := dial(t, s, "/ws/btcusdt@trade/pepeusdt@trade")
	_ = c // never read: the socket buffers fill, then the queue
	waitFor(t, 10*time.Second, "slow consumer close", func() bool { return s.Stats().SlowConsumers == 1 })
	waitFor(t, time.Second, "connection removed", func() bool { return s.Stats().ActiveConnections == 0 })
	// Generation went on regardless.
	before := s.Stats().Trades
	waitFor(t, 2*time.Second, "trading continues", func() bool { return s.Stats().Trades > before })
}

func TestWSConnectLimit(t *testing.T) {
	s := startServer(t, Config{Seed: 12, Symbols: 2, TradeRate: 10, ConnectLimit: 2})
	dial(t, s, "/ws")
	dial(t, s, "/ws")
	d := websocket.Dialer{HandshakeTimeout: time.Second}
	conn, resp, err := d.Dial("ws://"+s.Addr()+"/ws", nil)
	if err == nil {
		conn.Close()
		t.Fatal("third connection accepted")
	}
	if resp == nil || resp.StatusCode != 429 {
		t.Fatalf("want 429, got %v", err)
	}
	resp.Body.Close()
}
