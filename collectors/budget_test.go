package collectors

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// waitTook runs b.Wait and returns how long it took on the bubble's clock.
func waitTook(t *testing.T, b *Budget, weight int) time.Duration {
	t.Helper()
	start := time.Now()
	if err := b.Wait(context.Background(), weight); err != nil {
		t.Fatalf("Wait(%d): %v", weight, err)
	}
	return time.Since(start)
}

func near(d, want time.Duration) bool {
	return d >= want && d <= want+10*time.Millisecond
}

func TestBudgetTokenBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(60) // one weight per second
		if d := waitTook(t, b, 60); d != 0 {
			t.Fatalf("a full bucket made Wait(60) wait %v", d)
		}
		if d := waitTook(t, b, 30); !near(d, 30*time.Second) {
			t.Fatalf("Wait(30) on an empty bucket took %v, want 30s", d)
		}
		if d := waitTook(t, b, 1); !near(d, time.Second) {
			t.Fatalf("Wait(1) took %v, want 1s", d)
		}
		// Idle time refills the bucket, but only up to its capacity.
		time.Sleep(10 * time.Minute)
		if d := waitTook(t, b, 60); d != 0 {
			t.Fatalf("Wait(60) after 10 idle minutes took %v", d)
		}
		if d := waitTook(t, b, 1); !near(d, time.Second) {
			t.Fatalf("refill was not capped: Wait(1) took %v, want 1s", d)
		}
	})
}

func TestBudgetSharedByWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(60)
		waitTook(t, b, 60)
		start := time.Now()
		var mu sync.Mutex
		var done []time.Duration
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if err := b.Wait(context.Background(), 20); err != nil {
					t.Error(err)
				}
				mu.Lock()
				done = append(done, time.Since(start))
				mu.Unlock()
			})
		}
		wg.Wait()
		// 60 weight at one per second: the three waiters are served over a minute, never
		// faster than the refill.
		last := max(done[0], done[1], done[2])
		if last < 60*time.Second || last > 61*time.Second {
			t.Fatalf("three waiters of 20 finished at %v, want the last at 60s", done)
		}
		for _, d := range done {
			if d < 20*time.Second {
				t.Fatalf("a waiter finished at %v, before 20 weight refilled", d)
			}
		}
	})
}

func TestBudgetOversizedRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(10)
		// A request heavier than the whole budget could never wait its way in: it passes,
		// and the weight is owed by later requests.
		if d := waitTook(t, b, 20); d != 0 {
			t.Fatalf("Wait(20) on a budget of 10 took %v", d)
		}
		if d := waitTook(t, b, 1); !near(d, 66*time.Second) {
			t.Fatalf("Wait(1) after an oversized request took %v, want 66s (10 owed + 1)", d)
		}
	})
}

func TestBudgetPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(6000)
		b.Pause(time.Now().Add(10 * time.Second))
		b.Pause(time.Now().Add(5 * time.Second)) // an earlier end never shortens a pause
		if d := waitTook(t, b, 1); !near(d, 10*time.Second) {
			t.Fatalf("Wait during a 10s pause took %v", d)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// A waiter already waiting for tokens honours a pause that starts meanwhile.
		b := NewBudget(60)
		waitTook(t, b, 60)
		start := time.Now()
		got := make(chan time.Duration, 1)
		go func() {
			_ = b.Wait(context.Background(), 1) // would be served at 1s
			got <- time.Since(start)
		}()
		time.Sleep(500 * time.Millisecond)
		b.Pause(time.Now().Add(5 * time.Second))
		if d := <-got; d < 5500*time.Millisecond {
			t.Fatalf("waiter served at %v, inside the pause that ended at 5.5s", d)
		}
	})
}

// TestBudgetPauseEmptiesBucket: after a pause the bucket starts from empty, whatever the time
// since the last request.
func TestBudgetPauseEmptiesBucket(t *testing.T) {
	var d time.Duration
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(60)
		waitTook(t, b, 60) // bucket empty at t0
		time.Sleep(2 * time.Minute)
		// A slow request that started long ago is answered 429 now: pause 1s, empty bucket.
		b.Pause(time.Now().Add(time.Second))
		d = waitTook(t, b, 60)
	})
	if d < 59*time.Second {
		t.Fatalf("Budget.Pause does not reset b.last, so Wait credits the refill of the 2 minutes "+
			"before the pause and serves a full bucket %v after the pause began (want about 60s)", d)
	}
}

func TestBudgetWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(60)
		waitTook(t, b, 60)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := b.Wait(ctx, 30); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("cancelled Wait returned after %v", d)
		}
		// The cancelled request took nothing: 30 weight is there at 30s from the drain.
		if d := waitTook(t, b, 30); !near(d, 29*time.Second) {
			t.Fatalf("Wait(30) after a cancelled wait took %v, want 29s", d)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(60)
		b.Pause(time.Now().Add(time.Hour))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := b.Wait(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait with a cancelled context during a pause = %v", err)
		}
	})
}

func TestRESTGet(t *testing.T) {
	var mu sync.Mutex
	status, retry, body := 200, "", "[]"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("X-Mbx-Used-Weight-1m", "125")
		if retry != "" {
			w.Header().Set("Retry-After", retry)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body + " " + r.URL.RequestURI()))
	}))
	defer srv.Close()
	defer srv.Client().Transport.(*http.Transport).CloseIdleConnections()
	set := func(s int, ra, b string) {
		mu.Lock()
		status, retry, body = s, ra, b
		mu.Unlock()
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	r := &REST{Venue: "v", BaseURL: srv.URL, Budget: NewBudget(6000), Client: srv.Client(), Metrics: m, WeightHeader: "X-Mbx-Used-Weight-1m"}
	ctx := context.Background()

	resp, err := r.Get(ctx, "/api/v3/trades?symbol=X", 25)
	if err != nil || resp.Status != 200 || string(resp.Body) != "[] /api/v3/trades?symbol=X" || resp.PathQuery != "/api/v3/trades?symbol=X" || resp.RecvTime == 0 {
		t.Fatalf("Get = %+v, %v", resp, err)
	}
	if got := gaugeValue(t, reg, "tickflow_collector_rest_weight_used"); got != 125 {
		t.Errorf("weight gauge %v, want 125", got)
	}

	set(500, "", "oops")
	resp, err = r.Get(ctx, "/x", 1)
	if err == nil || errors.Is(err, ErrRateLimited) || resp == nil || resp.Status != 500 || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("500: %+v, %v", resp, err)
	}

	for _, code := range []int{http.StatusTooManyRequests, http.StatusTeapot} {
		set(code, "1", `{"code":-1003}`)
		resp, err = r.Get(ctx, "/y", 1)
		if !errors.Is(err, ErrRateLimited) || resp == nil || resp.Status != code {
			t.Fatalf("%d: %+v, %v", code, resp, err)
		}
		// The budget is paused: nothing passes for about a second.
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		werr := r.Budget.Wait(wctx, 1)
		cancel()
		if !errors.Is(werr, context.DeadlineExceeded) {
			t.Fatalf("after %d the budget let a request through: %v", code, werr)
		}
	}
	set(200, "", "[]")
	if _, err := r.Get(ctx, "/z", 1); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
	for status, want := range map[string]float64{"200": 2, "500": 1, "429": 1, "418": 1} {
		if got := counterValue(t, reg, "tickflow_collector_rest_requests_total", map[string]string{"status": status}); got != want {
			t.Errorf("rest_requests_total{status=%s} = %v, want %v", status, got, want)
		}
	}

	// A transport error is counted as "error" and returns no response.
	bad := &REST{Venue: "v", BaseURL: "http://127.0.0.1:1", Budget: NewBudget(10), Metrics: m}
	if resp, err := bad.Get(ctx, "/", 1); err == nil || resp != nil {
		t.Fatalf("unreachable venue: %+v, %v", resp, err)
	}
	if got := counterValue(t, reg, "tickflow_collector_rest_requests_total", map[string]string{"status": "error"}); got != 1 {
		t.Errorf("rest_requests_total{status=error} = %v", got)
	}
}

func TestRetryAfter(t *testing.T) {
	for h, want := range map[string]time.Duration{"0": 0, "7": 7 * time.Second, "": time.Minute, "soon": time.Minute, "-3": time.Minute} {
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if got := retryAfter(date); got < 80*time.Second || got > 91*time.Second {
		t.Errorf("retryAfter(%q) = %v, want about 90s", date, got)
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
