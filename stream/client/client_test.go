package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/stream"
)

// gw is a real gateway on an httptest server.
type gw struct {
	g   *stream.Gateway
	reg *prometheus.Registry
	srv *httptest.Server
	url string
}

func newGateway(t *testing.T, cfg stream.Config) *gw {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := stream.New(cfg, reg, nil)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
		srv.Close()
	})
	return &gw{g: g, reg: reg, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// gauge reads an unlabeled gateway gauge or counter from its registry.
func (w *gw) gauge(name string) float64 {
	mfs, _ := w.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func trade(venue, symbol string, id uint64, price, qty string) *md.Trade {
	p, _ := ParseDecimalText([]byte(price))
	q, _ := ParseDecimalText([]byte(qty))
	return &md.Trade{
		Header: md.Header{Venue: venue, Symbol: symbol, ExchTime: 1_000 + int64(id), SendTime: 2_000 + int64(id),
			RecvTime: 3_000 + int64(id), ClockOffset: -5, Source: md.SourceBackfill},
		ID: md.NumericID(id), Price: p, Qty: q, Side: md.SideSell,
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func next(t *testing.T, c *Client) Message {
	t.Helper()
	m, err := c.Next(ctxT(t))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return m
}

func TestTradesAndIntegrity(t *testing.T) {
	w := newGateway(t, stream.Config{})
	ctx := ctxT(t)
	c, err := Dial(ctx, w.url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Epoch() != w.g.Epoch() {
		t.Fatalf("epoch %q, gateway %q", c.Epoch(), w.g.Epoch())
	}
	if err := c.Subscribe(ctx, "trades:Binance:*", "integrity:*:BTC-USDT"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Subscriptions(), ","); got != "integrity:*:BTC-USDT,trades:binance:*" {
		t.Fatalf("subscriptions %s", got)
	}
	want := trade("binance", "ETH-USDT", 42, "3000.50", "0.00120000")
	w.g.PublishTrade(trade("okx", "ETH-USDT", 1, "1", "1")) // not subscribed
	w.g.PublishTrade(want)
	text := *want
	text.ID, _ = md.TextID([]byte("a-b\"c"))
	w.g.PublishTrade(&text)
	ie := &md.Integrity{Header: md.Header{Venue: "okx", Symbol: "BTC-USDT", RecvTime: 9}, Type: md.IntegrityBackfill,
		Stream: md.KindTrade, From: 1, To: 2, FirstID: 10, LastID: 20, Count: 11}
	w.g.PublishIntegrity(ie)

	m := next(t, c)
	if m.Type != TypeTrade || m.Channel != "trades:binance:ETH-USDT" || m.Seq != 1 {
		t.Fatalf("got %+v", m)
	}
	if m.Trade != *want {
		t.Fatalf("trade\n got %+v\nwant %+v", m.Trade, *want)
	}
	if m.Trade.Price != (md.Decimal{Mant: 300050, Scale: 2}) || m.Trade.Qty != (md.Decimal{Mant: 120000, Scale: 8}) {
		t.Fatalf("decimals %+v %+v", m.Trade.Price, m.Trade.Qty)
	}
	m = next(t, c)
	if m.Type != TypeTrade || m.Seq != 2 || m.Trade.ID.String() != `a-b"c` || m.Trade.ID.IsNumeric() {
		t.Fatalf("text id trade %+v", m)
	}
	m = next(t, c)
	if m.Type != TypeIntegrity || m.Channel != "integrity:okx:BTC-USDT" || m.Seq != 1 || m.Integrity != *ie {
		t.Fatalf("integrity\n got %+v\nwant %+v", m.Integrity, *ie)
	}
	if d, err := c.Ping(ctx); err != nil || d <= 0 {
		t.Fatalf("ping %v %v", d, err)
	}
	if err := c.Unsubscribe(ctx, "trades:binance:*"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Subscriptions(), ","); got != "integrity:*:BTC-USDT" {
		t.Fatalf("subscriptions after unsubscribe %s", got)
	}
}

func TestSubscribeErrors(t *testing.T) {
	w := newGateway(t, stream.Config{MaxSubscriptions: 1})
	ctx := ctxT(t)
	c, err := Dial(ctx, w.url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		chans []string
		code  string
	}{
		{[]string{"trades:binance"}, CodeBadRequest},
		{[]string{"candles:binance:BTC-USDT"}, CodeUnknownChannel},
		{[]string{"trades:a:A", "trades:a:B"}, CodeTooManySubscriptions},
	} {
		err := c.Subscribe(ctx, tc.chans...)
		var se *ServerError
		if !errors.As(err, &se) || se.Code != tc.code || se.Message == "" {
			t.Fatalf("%v: got %v, want %s", tc.chans, err, tc.code)
		}
	}
	if err := c.Unsubscribe(ctx, "trades:a:A"); err == nil {
		t.Fatal("unsubscribe of a channel not held succeeded")
	}
	if err := c.Subscribe(ctx, "trades:a:A"); err != nil {
		t.Fatalf("connection unusable after errors: %v", err)
	}
	if len(c.Subscriptions()) != 1 {
		t.Fatalf("subscriptions %v", c.Subscriptions())
	}
}

func TestUnauthorized(t *testing.T) {
	w := newGateway(t, stream.Config{Tokens: []string{"good"}})
	_, err := Dial(ctxT(t), w.url, Options{Token: "bad"})
	var se *ServerError
	if !errors.As(err, &se) || se.Status != 401 || se.Code != CodeUnauthorized || !strings.Contains(se.Message, "token") {
		t.Fatalf("got %v", err)
	}
	c, err := Dial(ctxT(t), w.url, Options{Token: "good"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// proxy is a TCP proxy between clients and a gateway that a test can cut, refuse
// connections on, and point at another gateway.
type proxy struct {
	ln      net.Listener
	mu      sync.Mutex
	backend string
	down    bool
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newProxy(t *testing.T, backend string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, backend: backend}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) url() string { return "ws://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down, backend := p.down, p.backend
		p.mu.Unlock()
		if down {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", backend)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(out, in); out.Close() }()
		go func() { defer p.wg.Done(); io.Copy(in, out); in.Close() }()
	}
}

// cut drops every proxied connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) set(down bool, backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if backend != "" {
		p.backend = backend
	}
}

func TestReconnectResubscribesAndReportsGap(t *testing.T) {
	w := newGateway(t, stream.Config{})
	p := newProxy(t, strings.TrimPrefix(w.srv.URL, "http://"))
	ctx := ctxT(t)
	c, err := Dial(ctx, p.url(), Options{Reconnect: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(ctx, "trades:binance:BTC-USDT"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		w.g.PublishTrade(trade("binance", "BTC-USDT", uint64(i+1), "1.5", "2"))
	}
	for i := range 3 {
		if m := next(t, c); m.Seq != uint64(i+1) {
			t.Fatalf("got %+v", m)
		}
	}

	// Network loss: the gateway drops the client; 5 trades are published meanwhile.
	p.set(true, "")
	p.cut()
	waitFor(t, "gateway to drop the client", func() bool { return w.gauge("tickflow_gateway_clients") == 0 })
	for i := range 5 {
		w.g.PublishTrade(trade("binance", "BTC-USDT", uint64(10+i), "1.5", "2"))
	}
	p.set(false, "")

	m := next(t, c)
	if m.Type != TypeReconnected || m.Reconnect.EpochChanged || m.Reconnect.Cause == nil || m.Reconnect.Attempts < 1 {
		t.Fatalf("want reconnected, got %+v", m)
	}
	waitFor(t, "re-subscription", func() bool { return w.gauge("tickflow_gateway_subscriptions") == 1 })
	w.g.PublishTrade(trade("binance", "BTC-USDT", 99, "1.5", "2"))
	m = next(t, c)
	if m.Type != TypeGap || m.Channel != "trades:binance:BTC-USDT" || m.Gap != (Gap{Last: 3, Missed: 5}) || m.Seq != 9 {
		t.Fatalf("want gap of 5 after seq 3, got %+v", m)
	}
	if m = next(t, c); m.Type != TypeTrade || m.Seq != 9 || m.Trade.ID != md.NumericID(99) {
		t.Fatalf("got %+v", m)
	}
	if got := c.Subscriptions(); len(got) != 1 {
		t.Fatalf("subscriptions after reconnect %v", got)
	}

	// Gateway restart: a new epoch, sequences start over.
	w2 := newGateway(t, stream.Config{})
	p.set(false, strings.TrimPrefix(w2.srv.URL, "http://"))
	p.cut()
	m = next(t, c)
	if m.Type != TypeReconnected || !m.Reconnect.EpochChanged {
		t.Fatalf("want reconnected with new epoch, got %+v", m)
	}
	if c.Epoch() != w2.g.Epoch() {
		t.Fatal("epoch not updated")
	}
	waitFor(t, "re-subscription", func() bool { return w2.gauge("tickflow_gateway_subscriptions") == 1 })
	w2.g.PublishTrade(trade("binance", "BTC-USDT", 100, "1.5", "2"))
	if m = next(t, c); m.Type != TypeGap || !m.Gap.Reset || m.Gap.Last != 9 || m.Seq != 1 {
		t.Fatalf("want reset gap, got %+v", m)
	}
	if m = next(t, c); m.Type != TypeTrade || m.Seq != 1 {
		t.Fatalf("got %+v", m)
	}
}

func TestSlowConsumerReported(t *testing.T) {
	w := newGateway(t, stream.Config{ClientQueueBytes: 64 << 10, WriteTimeout: 5 * time.Second})
	ctx := ctxT(t)
	c, err := Dial(ctx, w.url, Options{Buffer: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(ctx, "trades:*:*"); err != nil {
		t.Fatal(err)
	}
	// Nobody calls Next: the client's buffer fills, it stops reading, the socket fills.
	for i := 0; i%100 != 0 || w.gauge("tickflow_gateway_slow_consumer_disconnects_total") == 0; i++ {
		if i > 1_000_000 {
			t.Fatal("client never became a slow consumer")
		}
		w.g.PublishTrade(trade("binance", "BTC-USDT", uint64(i), "1.5", "2"))
	}
	// Drain promptly: the gateway's writer is blocked on the full socket and writes the
	// error frame once the client reads again (within the gateway's WriteTimeout).
	var last uint64
	for {
		m, err := c.Next(ctx)
		if err != nil {
			var se *ServerError
			if !errors.As(err, &se) || se.Code != CodeSlowConsumer {
				t.Fatalf("want slow_consumer error, got %v", err)
			}
			break
		}
		if m.Type == TypeGap {
			continue // the gateway dropped queued frames before disconnecting
		}
		if m.Seq <= last {
			t.Fatalf("seq went from %d to %d", last, m.Seq)
		}
		last = m.Seq
	}
	if _, err := c.Next(ctx); err == nil {
		t.Fatal("Next after the end returned no error")
	}
}

func TestCloseEndsEverything(t *testing.T) {
	w := newGateway(t, stream.Config{})
	ctx := ctxT(t)
	c, err := Dial(ctx, w.url, Options{Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, "trades:*:*"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Next(ctx)
		done <- err
	}()
	c.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := c.Subscribe(ctx, "trades:a:A"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	c.Close()
	waitFor(t, "gateway to see the close", func() bool { return w.gauge("tickflow_gateway_clients") == 0 })
}

func TestGatewayShutdownWithoutReconnect(t *testing.T) {
	w := newGateway(t, stream.Config{})
	c, err := Dial(ctxT(t), w.url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.Next(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "1001") {
		t.Fatalf("want going away (1001), got %v", err)
	}
}

func TestMatchesAndDecimal(t *testing.T) {
	for _, tc := range []struct {
		p, ch string
		want  bool
	}{
		{"trades:*:*", "trades:binance:BTC-USDT", true},
		{"trades:binance:*", "trades:binance:BTC-USDT", true},
		{"trades:*:BTC-USDT", "trades:okx:BTC-USDT", true},
		{"trades:*:BTC-USDT", "trades:okx:ETH-USDT", false},
		{"integrity:*:*", "trades:okx:ETH-USDT", false},
	} {
		if matches(tc.p, tc.ch) != tc.want {
			t.Errorf("matches(%q, %q) != %v", tc.p, tc.ch, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want md.Decimal
	}{
		{"65000.01", md.Decimal{Mant: 6500001, Scale: 2}},
		{"0.00120000", md.Decimal{Mant: 120000, Scale: 8}},
		{"-5", md.Decimal{Mant: -5, Scale: 0}},
	} {
		if d, err := ParseDecimalText([]byte(tc.in)); err != nil || d != tc.want || d.String() != tc.in {
			t.Errorf("%s: %+v %v", tc.in, d, err)
		}
	}
	for _, in := range []string{"", "1e5", "0.1234567890123456789", "x"} {
		if _, err := ParseDecimalText([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	for _, tc := range []struct {
		in      string
		numeric bool
	}{{"123", true}, {"0", true}, {"0123", false}, {"18446744073709551615", true}, {"18446744073709551616", false}, {"abc", false}} {
		id, err := parseTradeID([]byte(tc.in))
		if err != nil || id.IsNumeric() != tc.numeric || id.String() != tc.in {
			t.Errorf("%s: %v numeric=%v %v", tc.in, id, id.IsNumeric(), err)
		}
	}
}
