package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickflow/tickflow/md"
)

// ---- harness ----

type harness struct {
	t   testing.TB
	g   *Gateway
	reg *prometheus.Registry
	srv *httptest.Server
	url string
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := New(cfg, reg, nil)
	srv := httptest.NewServer(g.Handler())
	h := &harness{t: t, g: g, reg: reg, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		srv.Close()
	})
	return h
}

type tclient struct {
	t  testing.TB
	ws *websocket.Conn
}

// frame is a decoded server frame; numbers stay exact (json.Number).
type frame map[string]any

func (f frame) str(k string) string {
	switch v := f[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	}
	return fmt.Sprint(f[k])
}

// dial connects and consumes the welcome frame.
func (h *harness) dial(query string, hdr http.Header) *tclient {
	h.t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(h.url+query, hdr)
	if err != nil {
		h.t.Fatalf("dial: %v (%v)", err, resp)
	}
	c := &tclient{t: h.t, ws: ws}
	h.t.Cleanup(func() { ws.Close() })
	w := c.read()
	if w.str("type") != "welcome" || w.str("protocol") != "1" || w.str("epoch") != h.g.Epoch() {
		h.t.Fatalf("bad welcome %v", w)
	}
	return c
}

func (c *tclient) send(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *tclient) readErr() (frame, error) {
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var f frame
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("server sent invalid JSON %q: %w", data, err)
	}
	return f, nil
}

func (c *tclient) read() frame {
	c.t.Helper()
	f, err := c.readErr()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

// expect reads one frame and checks its type and, for replies, its id.
func (c *tclient) expect(typ string, id int) frame {
	c.t.Helper()
	f := c.read()
	if f.str("type") != typ {
		c.t.Fatalf("got %v, want type %q", f, typ)
	}
	if id != 0 && f.str("id") != fmt.Sprint(id) {
		c.t.Fatalf("got %v, want id %d", f, id)
	}
	return f
}

func (c *tclient) subscribe(id int, chans ...string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"op": "subscribe", "id": id, "channels": chans})
	c.send(string(b))
	c.expect("subscribed", id)
}

// sync sends a ping and returns the frames received before its pong: with everything
// published before sync called, they are exactly the frames the client was sent.
func (c *tclient) sync(id int) []frame {
	c.t.Helper()
	c.send(fmt.Sprintf(`{"op":"ping","id":%d}`, id))
	var got []frame
	for {
		f := c.read()
		if f.str("type") == "pong" && f.str("id") == fmt.Sprint(id) {
			return got
		}
		got = append(got, f)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// ---- tests ----

func TestEndToEndTrades(t *testing.T) {
	h := newHarness(t, Config{})
	// Events before anyone subscribes still advance the channel sequence.
	for i := range 3 {
		h.g.PublishTrade(testTrade("binance", "BTC-USDT", uint64(i), "1.00", "1"))
	}
	c := h.dial("", nil)
	c.send(`{"op":"subscribe","channels":["trades:binance:BTC-USDT"],"id":1}`)
	r := c.expect("subscribed", 1)
	if chans, _ := r["channels"].([]any); len(chans) != 1 || chans[0] != "trades:binance:BTC-USDT" {
		t.Fatalf("subscribed reply %v", r)
	}
	const n = 200
	for i := range n {
		h.g.PublishTrade(testTrade("binance", "ETH-USDT", uint64(i), "2.00", "1")) // not subscribed
		tr := testTrade("binance", "BTC-USDT", 1000+uint64(i), "65000.01", "0.0012")
		if i%2 == 1 {
			tr.Side = md.SideSell
			tr.SendTime = tr.ExchTime + 7
		}
		h.g.PublishTrade(tr)
	}
	got := c.sync(2)
	if len(got) != n {
		t.Fatalf("received %d frames, want %d", len(got), n)
	}
	for i, f := range got {
		want := map[string]string{
			"type": "trade", "channel": "trades:binance:BTC-USDT", "venue": "binance", "symbol": "BTC-USDT",
			"id": fmt.Sprint(1000 + i), "price": "65000.01", "qty": "0.00120000", "side": "buy",
			"exch_time": fmt.Sprint(1_719_000_000_000_000_000 + 1000 + i),
			"recv_time": fmt.Sprint(1_719_000_000_001_000_000 + 1000 + i),
			"source":    "live", "seq": fmt.Sprint(4 + i), "send_time": "",
		}
		if i%2 == 1 {
			want["side"] = "sell"
			want["send_time"] = fmt.Sprint(1_719_000_000_000_000_000 + 1000 + i + 7)
		}
		for k, v := range want {
			if f.str(k) != v {
				t.Fatalf("frame %d: %s = %q, want %q (%v)", i, k, f.str(k), v, f)
			}
		}
		if len(f) != len(want)-map[bool]int{true: 1, false: 0}[want["send_time"] == ""] {
			t.Fatalf("frame %d has unexpected fields: %v", i, f)
		}
	}

	// Unsubscribe stops delivery: nothing published after the reply arrives.
	c.send(`{"op":"unsubscribe","channels":["trades:binance:BTC-USDT"],"id":3}`)
	c.expect("unsubscribed", 3)
	for i := range 10 {
		h.g.PublishTrade(testTrade("binance", "BTC-USDT", 5000+uint64(i), "1.00", "1"))
	}
	if got := c.sync(4); len(got) != 0 {
		t.Fatalf("received %d frames after unsubscribe: %v", len(got), got[0])
	}
	c.send(`{"op":"list","id":5}`)
	if l := c.expect("subscriptions", 5); len(l["channels"].([]any)) != 0 {
		t.Fatalf("list after unsubscribe: %v", l)
	}

	if v := testutil.ToFloat64(h.g.m.published[msgTrade]); v != 2*n+3+10 {
		t.Fatalf("events_published_total = %v", v)
	}
	waitFor(t, "sent metric", func() bool { return testutil.ToFloat64(h.g.m.sent[msgTrade]) == n })
}

func TestEndToEndIntegrity(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.dial("", nil)
	c.subscribe(1, "integrity:*:*")
	h.g.PublishTrade(testTrade("binance", "BTC-USDT", 1, "1.00", "1"))
	h.g.PublishIntegrity(&md.Integrity{
		Header: md.Header{Venue: "okx", Symbol: "ETH-USDT-PERP", RecvTime: 99, Source: md.SourceLive},
		Type:   md.IntegrityGap, Stream: md.KindTrade, From: 10, To: 20, FirstID: 5, LastID: 9, Count: 5,
	})
	got := c.sync(2)
	if len(got) != 1 {
		t.Fatalf("got %d frames: %v", len(got), got)
	}
	want := frame{"type": "integrity", "channel": "integrity:okx:ETH-USDT-PERP", "seq": "1", "venue": "okx",
		"symbol": "ETH-USDT-PERP", "event": "gap", "stream": "trades", "from": "10", "to": "20",
		"first_id": "5", "last_id": "9", "count": "5", "exch_time": "0", "recv_time": "99", "source": "live"}
	for k := range want {
		if got[0].str(k) != want.str(k) {
			t.Fatalf("%s = %q, want %q", k, got[0].str(k), want.str(k))
		}
	}
	if len(got[0]) != len(want) {
		t.Fatalf("unexpected fields in %v", got[0])
	}
}

func TestWildcards(t *testing.T) {
	h := newHarness(t, Config{})
	events := []struct{ venue, symbol string }{
		{"binance", "BTC-USDT"}, {"okx", "BTC-USDT"}, {"binance", "ETH-USDT"}, {"okx", "ETH-USDT"},
	}
	tests := []struct {
		patterns []string
		want     []string // channels received, in order
	}{
		{[]string{"trades:*:*"}, []string{"trades:binance:BTC-USDT", "trades:okx:BTC-USDT", "trades:binance:ETH-USDT", "trades:okx:ETH-USDT"}},
		{[]string{"trades:binance:*"}, []string{"trades:binance:BTC-USDT", "trades:binance:ETH-USDT"}},
		{[]string{"trades:*:BTC-USDT"}, []string{"trades:binance:BTC-USDT", "trades:okx:BTC-USDT"}},
		{[]string{"trades:okx:ETH-USDT"}, []string{"trades:okx:ETH-USDT"}},
		// Overlapping patterns deliver each event once.
		{[]string{"trades:*:*", "trades:binance:BTC-USDT", "trades:*:BTC-USDT", "trades:binance:*"},
			[]string{"trades:binance:BTC-USDT", "trades:okx:BTC-USDT", "trades:binance:ETH-USDT", "trades:okx:ETH-USDT"}},
		{[]string{"integrity:*:*"}, nil},
	}
	clients := make([]*tclient, len(tests))
	for i, tt := range tests {
		clients[i] = h.dial("", nil)
		clients[i].subscribe(i+1, tt.patterns...)
	}
	for round := range 3 {
		for j, e := range events {
			h.g.PublishTrade(testTrade(e.venue, e.symbol, uint64(round*10+j), "1.00", "1"))
		}
	}
	for i, tt := range tests {
		got := clients[i].sync(100)
		if len(got) != 3*len(tt.want) {
			t.Fatalf("%v: got %d frames, want %d", tt.patterns, len(got), 3*len(tt.want))
		}
		for k, f := range got {
			round, j := k/len(tt.want), k%len(tt.want)
			if f.str("channel") != tt.want[j] || f.str("seq") != fmt.Sprint(round+1) {
				t.Fatalf("%v: frame %d is %s seq %s, want %s seq %d", tt.patterns, k, f.str("channel"), f.str("seq"), tt.want[j], round+1)
			}
		}
	}
}

func TestBadRequestsKeepConnection(t *testing.T) {
	h := newHarness(t, Config{MaxSubscriptions: 2})
	c := h.dial("", nil)
	tests := []struct {
		send string
		code ErrorCode
		id   string
		has  string
	}{
		{`not json`, CodeBadRequest, "", "not valid JSON"},
		{`{"op":"subscribe","channels":["trades:binance"],"id":11}`, CodeBadRequest, "11", "<kind>:<venue>:<symbol>"},
		{`{"op":"subscribe","channels":["candles:binance:BTC-USDT"],"id":12}`, CodeUnknownChannel, "12", "not served"},
		{`{"op":"subscribe","channels":["trades:a:A","trades:a:B","trades:a:C"],"id":13}`, CodeTooManySubscriptions, "13", "limit of 2"},
		{`{"op":"unsubscribe","channels":["trades:a:A"],"id":14}`, CodeBadRequest, "14", "not subscribed"},
		{`{"op":"dance","id":15}`, CodeBadRequest, "15", "unknown op"},
		{`{"id":16}`, CodeBadRequest, "16", `missing "op"`},
	}
	for _, tt := range tests {
		c.send(tt.send)
		f := c.expect("error", 0)
		if f.str("code") != string(tt.code) || f.str("id") != tt.id || !strings.Contains(f.str("message"), tt.has) {
			t.Fatalf("%s: got %v, want code %s id %q message containing %q", tt.send, f, tt.code, tt.id, tt.has)
		}
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if f := c.expect("error", 0); f.str("code") != "bad_request" || !strings.Contains(f.str("message"), "binary") {
		t.Fatalf("binary frame: %v", f)
	}
	// Subscriptions are all or nothing, and the connection still works.
	c.subscribe(20, "trades:a:A", "trades:a:B")
	c.send(`{"op":"subscribe","channels":["trades:a:C"],"id":21}`)
	if f := c.expect("error", 21); f.str("code") != "too_many_subscriptions" {
		t.Fatalf("got %v", f)
	}
	c.send(`{"op":"unsubscribe","channels":["trades:a:A","trades:a:Z"],"id":22}`)
	c.expect("error", 22)
	c.send(`{"op":"list","id":23}`)
	if l := c.expect("subscriptions", 23); fmt.Sprint(l["channels"]) != "[trades:a:A trades:a:B]" {
		t.Fatalf("list: %v", l)
	}
	h.g.PublishTrade(testTrade("a", "A", 1, "1.00", "1"))
	if got := c.sync(24); len(got) != 1 || got[0].str("channel") != "trades:a:A" {
		t.Fatalf("after errors got %v", got)
	}
	if v := testutil.ToFloat64(h.g.m.clientErrors[CodeBadRequest]); v != 7 {
		t.Fatalf("client_errors_total{code=bad_request} = %v", v)
	}
}

func TestSlowConsumerDisconnected(t *testing.T) {
	h := newHarness(t, Config{ClientQueueBytes: 64 << 10, WriteTimeout: 5 * time.Second})
	slow := h.dial("", nil)
	slow.subscribe(1, "trades:*:*")
	fast := h.dial("", nil)
	fast.subscribe(1, "trades:binance:BTC-USDT")

	var received atomic.Int64
	fastErr := make(chan error, 1)
	go func() {
		next := int64(1)
		for {
			f, err := fast.readErr()
			if err != nil {
				fastErr <- err
				return
			}
			if f.str("type") == "pong" {
				fastErr <- nil
				return
			}
			if f.str("seq") != fmt.Sprint(next) {
				fastErr <- fmt.Errorf("fast client got seq %s, want %d", f.str("seq"), next)
				return
			}
			next++
			received.Add(1)
		}
	}()

	// Publish in bursts the fast client keeps up with, until the slow one overflows.
	published := int64(0)
	for testutil.ToFloat64(h.g.m.slow) == 0 {
		if published > 500_000 {
			t.Fatal("slow client never overflowed")
		}
		for range 100 {
			published++
			h.g.PublishTrade(testTrade("binance", "BTC-USDT", uint64(published), "65000.01", "0.0012"))
		}
		waitFor(t, "fast client", func() bool { return received.Load() == published })
	}
	for range 100 { // the fast client keeps getting everything after the disconnect
		published++
		h.g.PublishTrade(testTrade("binance", "BTC-USDT", uint64(published), "65000.01", "0.0012"))
	}
	fast.send(`{"op":"ping","id":9}`)
	if err := <-fastErr; err != nil {
		t.Fatal(err)
	}
	if received.Load() != published {
		t.Fatalf("fast client received %d of %d", received.Load(), published)
	}

	// The slow client finds, after the trades its socket buffered, the error frame and a
	// 1008 close.
	var sawError bool
	for {
		f, err := slow.readErr()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != ClosePolicyViolation {
				t.Fatalf("slow client: want close 1008, got %v", err)
			}
			break
		}
		if f.str("type") == "error" {
			if f.str("code") != "slow_consumer" || !strings.Contains(f.str("message"), "65536 bytes behind") {
				t.Fatalf("error frame %v", f)
			}
			sawError = true
		}
	}
	if !sawError {
		t.Fatal("slow client got no slow_consumer error frame")
	}
	if v := testutil.ToFloat64(h.g.m.clientErrors[CodeSlowConsumer]); v != 1 {
		t.Fatalf("client_errors_total{code=slow_consumer} = %v", v)
	}
	waitFor(t, "slow client to be gone", func() bool { return h.g.numClients() == 1 })
}

func TestAuth(t *testing.T) {
	h := newHarness(t, Config{Tokens: []string{"s3cret", "other"}})
	for _, tc := range []struct {
		name  string
		query string
		hdr   http.Header
	}{
		{"none", "", nil},
		{"wrong query", "?token=nope", nil},
		{"wrong header", "", http.Header{"Authorization": {"Bearer nope"}}},
		{"basic scheme", "", http.Header{"Authorization": {"Basic s3cret"}}},
	} {
		_, resp, err := websocket.DefaultDialer.Dial(h.url+tc.query, tc.hdr)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: want 401, got %v %v", tc.name, resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte(`"code":"unauthorized"`)) || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: 401 body %s", tc.name, body)
		}
	}
	h.dial("?token=s3cret", nil).subscribe(1, "trades:*:*")
	h.dial("", http.Header{"Authorization": {"Bearer other"}}).subscribe(1, "trades:*:*")
	if v := testutil.ToFloat64(h.g.m.clientErrors[CodeUnauthorized]); v != 4 {
		t.Fatalf("unauthorized count %v", v)
	}
}

func TestCloseSendsGoingAway(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := New(Config{}, reg, nil)
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := &tclient{t: t, ws: ws}
	c.expect("welcome", 0)
	c.subscribe(1, "trades:*:*")
	g.PublishTrade(testTrade("binance", "BTC-USDT", 1, "1.00", "1"))

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		closed <- g.Close(ctx)
	}()
	c.expect("trade", 0) // queued frames are flushed before the close frame
	_, err = c.readErr()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != CloseGoingAway {
		t.Fatalf("want close 1001, got %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if g.numClients() != 0 {
		t.Fatal("clients left after Close")
	}
	// New connections are refused and publishing is a no-op.
	if _, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v %v", resp, err)
	}
	g.PublishTrade(testTrade("binance", "BTC-USDT", 2, "1.00", "1"))
}

func TestCloseDeadlineDropsUnresponsiveClients(t *testing.T) {
	g := New(Config{CloseGrace: 10 * time.Second}, nil, nil)
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	waitFor(t, "registration", func() bool { return g.numClients() == 1 })
	// The client never reads, so it never answers the close frame.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := g.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Config{MaxMessagesPerSecond: 5})
	c := h.dial("", nil)
	for i := range 10 {
		c.send(fmt.Sprintf(`{"op":"ping","id":%d}`, i+1))
	}
	pongs := 0
	for {
		f, err := c.readErr()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != ClosePolicyViolation {
				t.Fatalf("want close 1008, got %v", err)
			}
			break
		}
		switch f.str("type") {
		case "pong":
			pongs++
		case "error":
			if f.str("code") != "rate_limited" {
				t.Fatalf("got %v", f)
			}
		}
	}
	if pongs != 5 {
		t.Fatalf("%d pongs before the limit, want 5", pongs)
	}
}

func TestPongTimeout(t *testing.T) {
	h := newHarness(t, Config{PingInterval: 50 * time.Millisecond, PongTimeout: 25 * time.Millisecond})
	// A client that reads answers pings (gorilla replies while reading) and stays.
	alive := h.dial("", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := alive.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// A client that never reads never answers and is dropped.
	dead, _, err := websocket.DefaultDialer.Dial(h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	waitFor(t, "two clients", func() bool { return h.g.numClients() == 2 })
	waitFor(t, "silent client dropped", func() bool { return h.g.numClients() == 1 })
	time.Sleep(200 * time.Millisecond)
	if h.g.numClients() != 1 {
		t.Fatal("responsive client was dropped")
	}
	alive.ws.Close()
	<-done
}

func TestMaxClientsAndPlainHTTP(t *testing.T) {
	h := newHarness(t, Config{MaxClients: 1})
	h.dial("", nil)
	if _, resp, err := websocket.DefaultDialer.Dial(h.url, nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second client: %v %v", resp, err)
	}
	resp, err := http.Get(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: %d", resp.StatusCode)
	}
}

func TestMetricsRegistered(t *testing.T) {
	h := newHarness(t, Config{})
	h.dial("", nil).subscribe(1, "trades:*:*")
	h.g.PublishTrade(testTrade("binance", "BTC-USDT", 1, "1.00", "1"))
	waitFor(t, "delivery", func() bool { return testutil.ToFloat64(h.g.m.sent[msgTrade]) == 1 })
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
		if mf.GetName() == "tickflow_gateway_delivery_latency_seconds" {
			if n := mf.GetMetric()[0].GetHistogram().GetSampleCount(); n != 1 {
				t.Errorf("latency histogram has %d samples, want 1", n)
			}
		}
	}
	for _, name := range []string{"tickflow_gateway_clients", "tickflow_gateway_messages_sent_total",
		"tickflow_gateway_bytes_sent_total", "tickflow_gateway_events_published_total",
		"tickflow_gateway_slow_consumer_disconnects_total", "tickflow_gateway_client_errors_total",
		"tickflow_gateway_delivery_latency_seconds", "tickflow_gateway_subscriptions", "tickflow_gateway_queued_bytes"} {
		if !have[name] {
			t.Errorf("metric %s not exported", name)
		}
	}
}

func TestMessageTooBig(t *testing.T) {
	h := newHarness(t, Config{MaxMessageBytes: 1024})
	c := h.dial("", nil)
	c.send(`{"op":"ping","pad":"` + strings.Repeat("x", 2000) + `"}`)
	_, err := c.readErr()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != CloseMessageTooBig {
		t.Fatalf("want close 1009, got %v", err)
	}
	waitFor(t, "client gone", func() bool { return h.g.numClients() == 0 })
}
