package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ErrRateLimited is returned when the venue answered 429 or 418; the budget then waits for
// Retry-After before any further request.
var ErrRateLimited = errors.New("collectors: venue rate limit")

// Budget is one venue's REST weight budget shared by every connection: a token bucket of
// WeightPerMinute refilled continuously; the venue's own count of used weight in its current
// window (Binance: per clock minute, reported in a response header), which the bucket alone
// cannot know after a restart or when another process shares the IP; and a hard pause after
// 429/418 until Retry-After. Safe for concurrent use.
type Budget struct {
	mu     sync.Mutex
	cap    float64
	tokens float64
	last   time.Time
	pause  time.Time
	now    func() time.Time

	window     time.Duration // the venue's counting window (0 = unknown)
	windowEnd  time.Time     // end of the window windowUsed belongs to
	windowUsed int           // weight the venue counted in that window
}

// NewBudget returns a budget of weightPerMinute (use a margin below the venue's limit).
func NewBudget(weightPerMinute int) *Budget {
	return &Budget{cap: float64(weightPerMinute), tokens: float64(weightPerMinute), now: time.Now}
}

// Wait blocks until weight is available (and any pause is over) and takes it.
func (b *Budget) Wait(ctx context.Context, weight int) error {
	for {
		b.mu.Lock()
		now := b.now()
		if b.last.IsZero() {
			b.last = now
		}
		b.tokens = min(b.cap, b.tokens+now.Sub(b.last).Minutes()*b.cap)
		b.last = now
		var wait time.Duration
		switch {
		case now.Before(b.pause):
			wait = b.pause.Sub(now)
		case now.Before(b.windowEnd) && float64(b.windowUsed+weight) > b.cap:
			wait = b.windowEnd.Sub(now) // the venue's window is full: wait for the next one
		case b.tokens >= float64(weight) || float64(weight) > b.cap:
			b.tokens -= float64(weight)
			b.mu.Unlock()
			return nil
		default:
			wait = time.Duration((float64(weight) - b.tokens) / b.cap * float64(time.Minute))
		}
		b.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// SetWindow declares the venue's fixed counting window (Binance: one minute, aligned to
// the clock) so Observe can track it.
func (b *Budget) SetWindow(d time.Duration) {
	b.mu.Lock()
	b.window = d
	b.mu.Unlock()
}

// Observe records the weight the venue reports as used in its current window.
func (b *Budget) Observe(used int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.window <= 0 {
		return
	}
	now := b.now()
	end := now.Truncate(b.window).Add(b.window)
	if end != b.windowEnd || used > b.windowUsed {
		b.windowEnd, b.windowUsed = end, used
	}
}

// Pause stops all requests until t (from a Retry-After) and empties the bucket.
func (b *Budget) Pause(until time.Time) {
	b.mu.Lock()
	if until.After(b.pause) {
		b.pause = until
	}
	b.tokens = 0
	b.last = b.now()
	b.mu.Unlock()
}

// REST performs a venue's REST requests under its budget.
type REST struct {
	Venue   string
	BaseURL string
	Budget  *Budget
	Client  *http.Client
	Metrics *Metrics
	// WeightHeader is the response header reporting used weight (Binance
	// "X-Mbx-Used-Weight-1m"); optional.
	WeightHeader string
}

// Response is a REST response as received.
type Response struct {
	Status   int
	Body     []byte
	RecvTime int64
	// PathQuery is the request path and query ("/api/v3/trades?symbol=X").
	PathQuery string
}

// Get requests pathQuery with the given weight. Non-2xx responses are returned with an
// error; 429/418 pause the budget for Retry-After and return ErrRateLimited.
func (r *REST) Get(ctx context.Context, pathQuery string, weight int) (*Response, error) {
	if err := r.Budget.Wait(ctx, weight); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.BaseURL+pathQuery, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: build request %s: %w", r.Venue, pathQuery, err)
	}
	cl := r.Client
	if cl == nil {
		cl = http.DefaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		r.count("error")
		return nil, fmt.Errorf("%s: GET %s: %w", r.Venue, pathQuery, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	out := &Response{Status: resp.StatusCode, Body: body, RecvTime: time.Now().UnixNano(), PathQuery: pathQuery}
	r.count(strconv.Itoa(resp.StatusCode))
	if r.WeightHeader != "" {
		if w, perr := strconv.Atoi(resp.Header.Get(r.WeightHeader)); perr == nil {
			r.Budget.Observe(w)
			if r.Metrics != nil {
				r.Metrics.RESTWeight.WithLabelValues(r.Venue).Set(float64(w))
			}
		}
	}
	if err != nil {
		return out, fmt.Errorf("%s: read %s: %w", r.Venue, pathQuery, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusTeapot:
		after := retryAfter(resp.Header.Get("Retry-After"))
		r.Budget.Pause(time.Now().Add(after))
		return out, fmt.Errorf("%s: GET %s: status %d, paused %s: %w", r.Venue, pathQuery, resp.StatusCode, after, ErrRateLimited)
	case resp.StatusCode/100 != 2:
		return out, fmt.Errorf("%s: GET %s: status %d: %.200s", r.Venue, pathQuery, resp.StatusCode, body)
	}
	return out, nil
}

func (r *REST) count(status string) {
	if r.Metrics != nil {
		r.Metrics.REST.WithLabelValues(r.Venue, status).Inc()
	}
}

func retryAfter(h string) time.Duration {
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 60 * time.Second
}
