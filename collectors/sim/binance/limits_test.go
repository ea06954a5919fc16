package binancesim

import (
	"testing"
	"time"
)

func TestInboundLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name    string
		offsets []time.Duration // message times
		want    []bool
	}{
		{"five in a burst", []time.Duration{0, 1, 2, 3, 4}, []bool{true, true, true, true, true}},
		{"sixth in a second", []time.Duration{0, 1, 2, 3, 4, 999 * time.Millisecond}, []bool{true, true, true, true, true, false}},
		{"sixth after a second", []time.Duration{0, 1, 2, 3, 4, time.Second}, []bool{true, true, true, true, true, true}},
		{"steady 5/s", []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond, 600 * time.Millisecond,
			800 * time.Millisecond, 1000 * time.Millisecond, 1200 * time.Millisecond}, []bool{true, true, true, true, true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newInboundLimiter(5)
			for i, off := range tt.offsets {
				if got := l.allow(t0.Add(off)); got != tt.want[i] {
					t.Fatalf("message %d at %v: allow = %v", i, off, got)
				}
			}
		})
	}
}

func TestWeightLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 10, 0, time.UTC)
	l := newWeightLimiter(50, 2*time.Minute)
	type step struct {
		at       time.Duration
		weight   int
		want     weightVerdict
		wantUsed int
		wantWait time.Duration
	}
	steps := []step{
		{0, 25, verdictOK, 25, 0},
		{time.Second, 25, verdictOK, 50, 0},
		{2 * time.Second, 1, verdictThrottle, 50, 48 * time.Second},          // until the minute ends
		{3 * time.Second, 1, verdictBan, 50, 2 * time.Minute},                // did not back off
		{10 * time.Second, 1, verdictBan, 50, 2*time.Minute - 7*time.Second}, // still banned
		{3*time.Second + 2*time.Minute, 1, verdictOK, 1, 0},                  // ban over, new minute
	}
	for i, st := range steps {
		v, used, wait, _ := l.charge("127.0.0.1", st.weight, t0.Add(st.at))
		if v != st.want || used != st.wantUsed || wait != st.wantWait {
			t.Fatalf("step %d: verdict %v used %d wait %v; want %v %d %v", i, v, used, wait, st.want, st.wantUsed, st.wantWait)
		}
	}
	// A second offence doubles the ban.
	at := t0.Add(3*time.Second + 2*time.Minute)
	l.charge("127.0.0.1", 49, at)
	if v, _, _, _ := l.charge("127.0.0.1", 1, at); v != verdictThrottle {
		t.Fatalf("want throttle, got %v", v)
	}
	if v, _, wait, _ := l.charge("127.0.0.1", 1, at); v != verdictBan || wait != 4*time.Minute {
		t.Fatalf("second ban: %v %v", v, wait)
	}
	// Other IPs are unaffected.
	if v, _, _, _ := l.charge("127.0.0.2", 1, at); v != verdictOK {
		t.Fatalf("other ip: %v", v)
	}
}

func TestConnectLimiter(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := newConnectLimiter(3)
	for i := range 3 {
		if !l.allow("a", t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if l.allow("a", t0.Add(time.Minute)) {
		t.Fatal("fourth attempt allowed")
	}
	if !l.allow("b", t0.Add(time.Minute)) {
		t.Fatal("other ip refused")
	}
	if !l.allow("a", t0.Add(5*time.Minute)) {
		t.Fatal("attempt after the window refused")
	}
	if !newConnectLimiter(0).allow("a", t0) {
		t.Fatal("unlimited refused")
	}
}
