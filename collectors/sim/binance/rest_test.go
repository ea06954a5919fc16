package binancesim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestRESTExchangeInfo(t *testing.T) {
	s := startServer(t, Config{Seed: 20, Symbols: 5, TradeRate: 10})
	code, hdr, body := httpGet(t, s, "/api/v3/exchangeInfo")
	if code != 200 {
		t.Fatalf("status %d %s", code, body)
	}
	if hdr.Get("X-MBX-USED-WEIGHT-1M") != "20" {
		t.Fatalf("used weight %q", hdr.Get("X-MBX-USED-WEIGHT-1M"))
	}
	var info struct {
		Timezone   string `json:"timezone"`
		ServerTime int64  `json:"serverTime"`
		RateLimits []struct {
			RateLimitType string `json:"rateLimitType"`
			Interval      string `json:"interval"`
			IntervalNum   int    `json:"intervalNum"`
			Limit         int    `json:"limit"`
		} `json:"rateLimits"`
		ExchangeFilters []any                        `json:"exchangeFilters"`
		Symbols         []map[string]json.RawMessage `json:"symbols"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if info.Timezone != "UTC" || time.Since(time.UnixMilli(info.ServerTime)).Abs() > time.Minute {
		t.Fatalf("header fields %+v", info)
	}
	if rl := info.RateLimits[0]; rl.RateLimitType != "REQUEST_WEIGHT" || rl.Interval != "MINUTE" || rl.IntervalNum != 1 || rl.Limit != 6000 {
		t.Fatalf("rate limit %+v", rl)
	}
	if len(info.Symbols) != 5 {
		t.Fatalf("%d symbols", len(info.Symbols))
	}
	for i, sym := range info.Symbols {
		inst := s.Instruments()[i]
		var name, status, base, quote string
		_ = json.Unmarshal(sym["symbol"], &name)
		_ = json.Unmarshal(sym["status"], &status)
		_ = json.Unmarshal(sym["baseAsset"], &base)
		_ = json.Unmarshal(sym["quoteAsset"], &quote)
		if name != inst.Symbol || status != "TRADING" || base != inst.Base || quote != "USDT" {
			t.Fatalf("symbol %d: %s %s %s %s", i, name, status, base, quote)
		}
		for _, k := range []string{"baseAssetPrecision", "quoteAssetPrecision", "orderTypes", "permissionSets", "isSpotTradingAllowed"} {
			if _, ok := sym[k]; !ok {
				t.Fatalf("%s lacks %s", name, k)
			}
		}
		var filters []map[string]any
		if err := json.Unmarshal(sym["filters"], &filters); err != nil {
			t.Fatal(err)
		}
		byType := map[string]map[string]any{}
		for _, f := range filters {
			byType[f["filterType"].(string)] = f
		}
		if byType["PRICE_FILTER"]["tickSize"] != inst.TickSize || byType["LOT_SIZE"]["stepSize"] != inst.StepSize {
			t.Fatalf("%s filters %v", name, filters)
		}
	}
	// symbol= and symbols= select; unknown symbols are -1121.
	_, _, body = httpGet(t, s, "/api/v3/exchangeInfo?symbol=ETHUSDT")
	if err := json.Unmarshal(body, &info); err != nil || len(info.Symbols) != 1 {
		t.Fatalf("symbol=ETHUSDT: %s", body)
	}
	_, _, body = httpGet(t, s, "/api/v3/exchangeInfo?symbols="+url.QueryEscape(`["BTCUSDT","SOLUSDT"]`))
	if err := json.Unmarshal(body, &info); err != nil || len(info.Symbols) != 2 {
		t.Fatalf("symbols=: %s", body)
	}
	code, _, body = httpGet(t, s, "/api/v3/exchangeInfo?symbol=NOPEUSDT")
	if code != 400 || string(body) != `{"code":-1121,"msg":"Invalid symbol."}` {
		t.Fatalf("unknown symbol: %d %s", code, body)
	}
}

func TestRESTPingTime(t *testing.T) {
	s := startServer(t, Config{Seed: 21, TradeRate: 10})
	code, hdr, body := httpGet(t, s, "/api/v3/ping")
	if code != 200 || string(body) != "{}" || hdr.Get("X-MBX-USED-WEIGHT-1M") != "1" {
		t.Fatalf("ping %d %s %v", code, body, hdr)
	}
	_, _, body = httpGet(t, s, "/api/v3/time")
	var tm struct {
		ServerTime int64 `json:"serverTime"`
	}
	if err := json.Unmarshal(body, &tm); err != nil || time.Since(time.UnixMilli(tm.ServerTime)).Abs() > time.Minute {
		t.Fatalf("time %s", body)
	}
}

func TestRESTTrades(t *testing.T) {
	s := startServer(t, Config{Seed: 22, Symbols: 2, TradeRate: 100_000, MaxTrades: 6000})
	waitFor(t, 5*time.Second, "max trades", func() bool { return s.Stats().Trades == 6000 })
	btc := s.syms[0]
	firstID, lastID, ok := btc.hist.bounds()
	if !ok || lastID-firstID < 2000 {
		t.Fatalf("btc history %d..%d", firstID, lastID)
	}
	get := func(path string) []restTrade {
		t.Helper()
		code, hdr, body := httpGet(t, s, path)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		if w, _ := strconv.Atoi(hdr.Get("X-MBX-USED-WEIGHT-1M")); w < 25 {
			t.Fatalf("%s: used weight %q", path, hdr.Get("X-MBX-USED-WEIGHT-1M"))
		}
		var m []map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(m) > 0 && keys(m[0]) != "id,isBestMatch,isBuyerMaker,price,qty,quoteQty,time" {
			t.Fatalf("trade keys %s", keys(m[0]))
		}
		var out []restTrade
		_ = json.Unmarshal(body, &out)
		for i := 1; i < len(out); i++ {
			if out[i].ID != out[i-1].ID+1 {
				t.Fatalf("%s: ids %d then %d", path, out[i-1].ID, out[i].ID)
			}
		}
		for _, tr := range out {
			if !price8.MatchString(tr.Price) || !qty8.MatchString(tr.Qty) || !price8.MatchString(tr.QuoteQty) || !tr.IsBestMatch {
				t.Fatalf("trade %+v", tr)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		path      string
		wantFirst int64
		wantN     int
	}{
		{"recent default", "/api/v3/trades?symbol=BTCUSDT", lastID - 499, 500},
		{"recent limit", "/api/v3/trades?symbol=BTCUSDT&limit=5", lastID - 4, 5},
		{"recent max", "/api/v3/trades?symbol=BTCUSDT&limit=5000", lastID - 999, 1000},
		{"historical fromId", fmt.Sprintf("/api/v3/historicalTrades?symbol=BTCUSDT&fromId=%d&limit=10", firstID+7), firstID + 7, 10},
		{"historical near end", fmt.Sprintf("/api/v3/historicalTrades?symbol=BTCUSDT&fromId=%d", lastID-2), lastID - 2, 3},
		{"historical past end", fmt.Sprintf("/api/v3/historicalTrades?symbol=BTCUSDT&fromId=%d", lastID+1), 0, 0},
		{"historical before start", "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=0&limit=3", firstID, 3},
		{"historical no fromId", "/api/v3/historicalTrades?symbol=BTCUSDT&limit=2", lastID - 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := get(tt.path)
			if len(got) != tt.wantN || (tt.wantN > 0 && got[0].ID != tt.wantFirst) {
				t.Fatalf("got %d trades from %v, want %d from %d", len(got), firstIDOf(got), tt.wantN, tt.wantFirst)
			}
		})
	}
	// quoteQty is price*qty exactly.
	tr := get("/api/v3/trades?symbol=BTCUSDT&limit=1")[0]
	p, _ := strconv.ParseFloat(tr.Price, 64)
	q, _ := strconv.ParseFloat(tr.Qty, 64)
	qq, _ := strconv.ParseFloat(tr.QuoteQty, 64)
	if d := p*q - qq; d > 1e-6 || d < -1e-6 {
		t.Fatalf("quoteQty %s != %s * %s", tr.QuoteQty, tr.Price, tr.Qty)
	}

	errs := []struct {
		path string
		want string
	}{
		{"/api/v3/trades", `{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}`},
		{"/api/v3/trades?symbol=FOOBAR", `{"code":-1121,"msg":"Invalid symbol."}`},
		{"/api/v3/trades?symbol=btcusdt", `{"code":-1100,"msg":"Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."}`},
		{"/api/v3/trades?symbol=BTCUSDT&limit=x", `{"code":-1100,"msg":"Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."}`},
		{"/api/v3/historicalTrades?symbol=BTCUSDT&fromId=-5", `{"code":-1100,"msg":"Illegal characters found in parameter 'fromId'; legal range is '^[0-9]{1,20}$'."}`},
	}
	for _, e := range errs {
		code, _, body := httpGet(t, s, e.path)
		if code != 400 || string(body) != e.want {
			t.Errorf("%s: %d %s", e.path, code, body)
		}
	}
}

func firstIDOf(ts []restTrade) any {
	if len(ts) == 0 {
		return "none"
	}
	return ts[0].ID
}

// TestRESTRateLimit: over budget -> 429 with Retry-After; still sending
// while 429'd -> 418 with Retry-After.
func TestRESTRateLimit(t *testing.T) {
	s, err := New(Config{Seed: 23, Symbols: 2, TradeRate: 10, WeightPerMinute: 60})
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2026, 3, 1, 12, 0, 15, 0, time.UTC)
	s.clock = func() time.Time { return fixed }
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	steps := []struct {
		path       string
		wantCode   int
		wantUsed   string
		wantRetry  string
		wantPrefix string
	}{
		{"/api/v3/trades?symbol=BTCUSDT", 200, "25", "", "["},
		{"/api/v3/exchangeInfo", 200, "45", "", "{"},
		{"/api/v3/trades?symbol=BTCUSDT", 429, "45", "45",
			`{"code":-1003,"msg":"Too much request weight used; current limit is 60 request weight per 1 MINUTE.`},
		{"/api/v3/ping", 418, "45", "120",
			fmt.Sprintf(`{"code":-1003,"msg":"Way too much request weight used; IP banned until %d.`, fixed.Add(2*time.Minute).UnixMilli())},
		{"/api/v3/time", 418, "45", "120", `{"code":-1003`},
	}
	for i, st := range steps {
		code, hdr, body := httpGet(t, s, st.path)
		if code != st.wantCode || hdr.Get("X-MBX-USED-WEIGHT-1M") != st.wantUsed || hdr.Get("Retry-After") != st.wantRetry ||
			len(body) < len(st.wantPrefix) || string(body[:len(st.wantPrefix)]) != st.wantPrefix {
			t.Fatalf("step %d %s: %d used=%q retry=%q %s", i, st.path, code,
				hdr.Get("X-MBX-USED-WEIGHT-1M"), hdr.Get("Retry-After"), body)
		}
	}
	if st := s.Stats(); st.TooManyRequests != 1 || st.Banned != 2 || st.RESTRequests != 5 {
		t.Fatalf("stats %+v", st)
	}
}
