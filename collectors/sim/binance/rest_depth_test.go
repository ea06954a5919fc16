package binancesim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// startFixedClock starts a server whose REST limiter sees a fixed time.
func startFixedClock(t *testing.T, cfg Config) (*Server, time.Time) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2026, 3, 1, 12, 0, 15, 0, time.UTC)
	s.clock = func() time.Time { return fixed }
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fixed
}

// TestRESTDepth: limits (default 100, max 5000, larger truncated), weights
// by limit, the documented body, sorted uncrossed sides and errors.
func TestRESTDepth(t *testing.T) {
	s, _ := startFixedClock(t, Config{Seed: 24, Symbols: 3, Paused: true, WeightPerMinute: 100_000})
	btc := s.syms[0]
	nb, na := len(btc.book.bids.lv), len(btc.book.asks.lv)
	if nb < 1000 || na < 1000 {
		t.Fatalf("BTC book %d/%d levels", nb, na)
	}
	used := 0
	var full wireSnapshot
	tests := []struct {
		query      string
		wantLevels int
		wantWeight int
	}{
		{"", 100, 5},
		{"&limit=5", 5, 5},
		{"&limit=100", 100, 5},
		{"&limit=101", 101, 25},
		{"&limit=500", 500, 25},
		{"&limit=501", 501, 50},
		{"&limit=1000", 1000, 50},
		{"&limit=1001", 1001, 250},
		{"&limit=5000", 5000, 250},
		{"&limit=6000", 5000, 250},
		{"&limit=0", 100, 5},
	}
	for _, tt := range tests {
		path := "/api/v3/depth?symbol=BTCUSDT" + tt.query
		code, hdr, body := httpGet(t, s, path)
		used += tt.wantWeight
		if code != 200 || hdr.Get("X-MBX-USED-WEIGHT-1M") != strconv.Itoa(used) {
			t.Fatalf("%s: %d used %q, want %d: %.200s", path, code, hdr.Get("X-MBX-USED-WEIGHT-1M"), used, body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil || keys(m) != "asks,bids,lastUpdateId" {
			t.Fatalf("%s: body %.200s", path, body)
		}
		var snap wireSnapshot
		_ = json.Unmarshal(body, &snap)
		if len(snap.Bids) != min(tt.wantLevels, nb) || len(snap.Asks) != min(tt.wantLevels, na) {
			t.Fatalf("%s: %d bids %d asks", path, len(snap.Bids), len(snap.Asks))
		}
		if snap.LastUpdateID != btc.book.lastID {
			t.Fatalf("%s: lastUpdateId %d, book at %d", path, snap.LastUpdateID, btc.book.lastID)
		}
		for i, l := range append(snap.Bids, snap.Asks...) {
			if !price8.MatchString(l[0]) || !qty8.MatchString(l[1]) || scaled(t, l[1]) <= 0 {
				t.Fatalf("%s: level %d %v", path, i, l)
			}
		}
		for i := 1; i < len(snap.Bids); i++ {
			if scaled(t, snap.Bids[i][0]) >= scaled(t, snap.Bids[i-1][0]) {
				t.Fatalf("%s: bids not descending at %d", path, i)
			}
		}
		for i := 1; i < len(snap.Asks); i++ {
			if scaled(t, snap.Asks[i][0]) <= scaled(t, snap.Asks[i-1][0]) {
				t.Fatalf("%s: asks not ascending at %d", path, i)
			}
		}
		if scaled(t, snap.Bids[0][0]) >= scaled(t, snap.Asks[0][0]) {
			t.Fatalf("%s: crossed %v %v", path, snap.Bids[0], snap.Asks[0])
		}
		if tt.query == "&limit=5000" {
			full = snap
		} else if full.Bids != nil && !reflect.DeepEqual(snap.Bids, full.Bids[:len(snap.Bids)]) {
			t.Fatalf("%s: not a prefix of the full book", path)
		}
	}
	// The full book hashes like the exchange's own hash.
	want, _ := btc.hashTop(nil, DefaultBookHashDepth)
	if got := HashTopN(full.Bids, full.Asks, DefaultBookHashDepth); got != want {
		t.Fatalf("HashTopN of the REST book %016x, exchange %016x", got, want)
	}
	// PEPE: integer quantities with two decimals.
	_, _, body := httpGet(t, s, "/api/v3/depth?symbol=PEPEUSDT&limit=3")
	var pepe wireSnapshot
	if err := json.Unmarshal(body, &pepe); err != nil || len(pepe.Bids) != 3 || !qty2.MatchString(pepe.Bids[0][1]) {
		t.Fatalf("PEPE depth %s", body)
	}

	errs := []struct {
		path string
		want string
	}{
		{"/api/v3/depth", `{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}`},
		{"/api/v3/depth?symbol=FOOBAR", `{"code":-1121,"msg":"Invalid symbol."}`},
		{"/api/v3/depth?symbol=BTCUSDT&limit=x", `{"code":-1100,"msg":"Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."}`},
	}
	for _, e := range errs {
		code, _, body := httpGet(t, s, e.path)
		if code != 400 || string(body) != e.want {
			t.Errorf("%s: %d %s", e.path, code, body)
		}
	}
	if st := s.Stats(); st.RESTDepthRequests != int64(len(tests)+1+len(errs)) {
		t.Fatalf("REST depth requests %d", st.RESTDepthRequests)
	}
}

// TestRESTDepthRateLimit: snapshot storms hit 429, then 418.
func TestRESTDepthRateLimit(t *testing.T) {
	s, fixed := startFixedClock(t, Config{Seed: 25, Symbols: 2, TradeRate: 10, WeightPerMinute: 300})
	steps := []struct {
		path      string
		wantCode  int
		wantUsed  string
		wantRetry string
	}{
		{"/api/v3/depth?symbol=BTCUSDT&limit=5000", 200, "250", ""},
		{"/api/v3/depth?symbol=ETH&limit=1000", 400, "300", ""}, // weight is charged before validation
		{"/api/v3/depth?symbol=BTCUSDT&limit=5", 429, "300", "45"},
		{"/api/v3/depth?symbol=BTCUSDT", 418, "300", "120"},
	}
	for i, st := range steps {
		code, hdr, body := httpGet(t, s, st.path)
		if code != st.wantCode || hdr.Get("X-MBX-USED-WEIGHT-1M") != st.wantUsed || hdr.Get("Retry-After") != st.wantRetry {
			t.Fatalf("step %d %s: %d used=%q retry=%q %.100s", i, st.path, code,
				hdr.Get("X-MBX-USED-WEIGHT-1M"), hdr.Get("Retry-After"), body)
		}
	}
	_, _, body := httpGet(t, s, "/api/v3/depth?symbol=BTCUSDT")
	if want := fmt.Sprintf(`{"code":-1003,"msg":"Way too much request weight used; IP banned until %d.`, fixed.Add(2*time.Minute).UnixMilli()); string(body[:len(want)]) != want {
		t.Fatalf("ban body %s", body)
	}
	if st := s.Stats(); st.TooManyRequests != 1 || st.Banned != 2 || st.RESTDepthRequests != 5 {
		t.Fatalf("stats %+v", st)
	}
}
