package binancesim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestTicker24hLastID(t *testing.T) {
	s := startServer(t, Config{Seed: 5, Symbols: 3, TradeRate: 2000})
	waitFor(t, 5*time.Second, "trades", func() bool { return s.Stats().Trades > 100 })
	s.StopTrading()
	status, hdr, body := httpGet(t, s, "/api/v3/ticker/24hr")
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var all []struct {
		Symbol          string
		FirstID, LastID int64
		Count           int64
	}
	if err := json.Unmarshal(body, &all); err != nil || len(all) != 3 {
		t.Fatalf("ticker/24hr = %s (%v)", body, err)
	}
	if w := hdr.Get("X-Mbx-Used-Weight-1m"); w != "80" {
		t.Fatalf("weight header %q, want 80 for all symbols", w)
	}
	for _, tk := range all {
		_, _, tb := httpGet(t, s, "/api/v3/trades?symbol="+tk.Symbol+"&limit=1")
		var last []struct{ ID int64 }
		if err := json.Unmarshal(tb, &last); err != nil || len(last) != 1 {
			t.Fatalf("trades %s: %s", tk.Symbol, tb)
		}
		if last[0].ID != tk.LastID || tk.Count != tk.LastID-tk.FirstID+1 {
			t.Fatalf("%s: lastId %d count %d, newest trade %d", tk.Symbol, tk.LastID, tk.Count, last[0].ID)
		}
	}
	if status, _, _ := httpGet(t, s, "/api/v3/ticker/24hr?symbol=NOPE"); status != http.StatusBadRequest {
		t.Fatalf("unknown symbol status %d", status)
	}
}
