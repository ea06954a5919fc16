package binancesim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" = valid
	}{
		{"zero value", Config{}, ""},
		{"two symbols", Config{Symbols: 2}, ""},
		{"one symbol", Config{Symbols: 1}, "symbols 1"},
		{"too many symbols", Config{Symbols: MaxSymbols + 1}, "symbols"},
		{"negative rate", Config{TradeRate: -1}, "trade rate"},
		{"negative max trades", Config{MaxTrades: -1}, "max trades"},
		{"tiny history", Config{HistoryLimit: 10}, "history limit"},
		{"negative ping", Config{PingInterval: -time.Second}, "ping interval"},
		{"negative inbound", Config{InboundLimit: -1}, "inbound limit"},
		{"drop rate > 1", Config{Faults: Faults{DropRate: 1.5}}, "drop rate"},
		{"NaN rate", Config{Faults: Faults{MalformedRate: nan()}}, "malformed rate"},
		{"rates sum > 1", Config{Faults: Faults{DropRate: 0.6, DuplicateRate: 0.6}}, "sum"},
		{"negative stale", Config{Faults: Faults{StaleEvery: -1}}, "stale every"},
		{"full faults", Config{Faults: Faults{DisconnectEvery: time.Second, CleanCloseRatio: 0.5,
			DropRate: 0.1, DuplicateRate: 0.1, MalformedRate: 0.1, StaleEvery: time.Second}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if _, err := New(tt.cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
			if _, err := New(tt.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Addr != "127.0.0.1:0" || c.Symbols != 8 || c.TradeRate != 200 || c.HistoryLimit != 200000 ||
		c.PingInterval != 20*time.Second || c.PongTimeout != time.Minute || c.ConnLifetime != 24*time.Hour ||
		c.InboundLimit != 5 || c.WeightPerMinute != 6000 || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLifecycleWithoutStart(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != "" {
		t.Fatalf("Addr before Start = %q", s.Addr())
	}
	s.StopTrading()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("Start after Close: %v", err)
	}
}
