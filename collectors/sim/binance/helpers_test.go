package binancesim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer starts a server with cfg and closes it at test end.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// dial opens a WebSocket to path on s and closes it at test end.
func dial(t *testing.T, s *Server, path string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	c, resp, err := d.Dial("ws://"+s.Addr()+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send writes a text frame.
func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write %s: %v", msg, err)
	}
}

// readMsg reads one message within timeout.
func readMsg(t *testing.T, c *websocket.Conn, timeout time.Duration) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// readReply skips market data until a message with an "id" or "error"
// key arrives, and returns it.
func readReply(t *testing.T, c *websocket.Conn) map[string]json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		b := readMsg(t, c, time.Until(deadline))
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("reply %q: %v", b, err)
		}
		if _, ok := m["id"]; ok {
			return m
		}
	}
	t.Fatal("no reply")
	return nil
}

// waitClosed reads until the connection fails and returns the error.
func waitClosed(t *testing.T, c *websocket.Conn, timeout time.Duration) error {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %v", timeout)
			}
			return err
		}
	}
}

func keys(m map[string]json.RawMessage) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// httpGet performs a GET without keep-alive and returns status, headers
// and body.
func httpGet(t *testing.T, s *Server, path string) (int, http.Header, []byte) {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get("http://" + s.Addr() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s body: %v", path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// waitFor polls cond every 5 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wireTrade is the <symbol>@trade payload as a collector decodes it.
// encoding/json matches keys case-insensitively when no field matches
// exactly, so every key of the event needs its own field ("e" vs "E",
// "t" vs "T", "m" vs "M").
type wireTrade struct {
	Ev        string `json:"e"`
	E         int64  `json:"E"`
	S         string `json:"s"`
	T         int64  `json:"t"`
	P         string `json:"p"`
	Q         string `json:"q"`
	TradeTime int64  `json:"T"`
	M         bool   `json:"m"`
	Ignore    bool   `json:"M"`
}

// restTrade is the REST trade object.
type restTrade struct {
	ID           int64  `json:"id"`
	Price        string `json:"price"`
	Qty          string `json:"qty"`
	QuoteQty     string `json:"quoteQty"`
	Time         int64  `json:"time"`
	IsBuyerMaker bool   `json:"isBuyerMaker"`
	IsBestMatch  bool   `json:"isBestMatch"`
}
