package binancesim

import (
	"sync"
	"time"
)

// inboundLimiter enforces "at most limit incoming messages in any one
// second" on one connection. It keeps the times of the last limit
// messages; the message that makes limit+1 within a second is refused.
// Used by one reader goroutine only.
type inboundLimiter struct {
	times []time.Time // ring of the last len(times) message times
	next  int
	full  bool
}

func newInboundLimiter(limit int) *inboundLimiter {
	return &inboundLimiter{times: make([]time.Time, limit)}
}

// allow records a message at now and reports whether it is within limit.
func (l *inboundLimiter) allow(now time.Time) bool {
	oldest := l.times[l.next] // the message limit messages ago
	ok := !l.full || now.Sub(oldest) >= time.Second
	l.times[l.next] = now
	l.next++
	if l.next == len(l.times) {
		l.next, l.full = 0, true
	}
	return ok
}

// Request weights from rest-api.md.
const (
	weightPing         = 1
	weightTime         = 1
	weightExchangeInfo = 20
	weightTrades       = 25
	weightHistorical   = 25
)

// maxBan is the longest IP ban Binance documents.
const maxBan = 72 * time.Hour

// weightVerdict is the outcome of weightLimiter.charge.
type weightVerdict int

const (
	verdictOK       weightVerdict = iota
	verdictThrottle               // HTTP 429
	verdictBan                    // HTTP 418
)

// weightLimiter is Binance's REST IP limit: request weight per clock
// minute per IP. A request over budget gets 429 with Retry-After until the
// minute ends; a request while 429'd (before its Retry-After) bans the IP
// (418) for BanDuration, doubling on every repeat, up to 3 days.
// Safe for concurrent use.
type weightLimiter struct {
	limit int
	ban   time.Duration

	mu  sync.Mutex
	ips map[string]*ipWeight
}

type ipWeight struct {
	window    time.Time // start of the current minute
	used      int
	throttled time.Time // a 429 was sent; until this time requests ban
	banUntil  time.Time
	bans      int
}

func newWeightLimiter(limit int, ban time.Duration) *weightLimiter {
	return &weightLimiter{limit: limit, ban: ban, ips: make(map[string]*ipWeight)}
}

// charge accounts weight for ip at now. It returns the verdict, the weight
// used in the current minute (for X-MBX-USED-WEIGHT-1M) and, for 429/418,
// how long to wait (for Retry-After) and the ban end.
func (l *weightLimiter) charge(ip string, weight int, now time.Time) (v weightVerdict, used int, wait time.Duration, banUntil time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.ips[ip]
	if w == nil {
		w = &ipWeight{}
		l.ips[ip] = w
	}
	minute := now.Truncate(time.Minute)
	if !minute.Equal(w.window) {
		w.window, w.used = minute, 0
	}
	if now.Before(w.banUntil) {
		return verdictBan, w.used, w.banUntil.Sub(now), w.banUntil
	}
	if now.Before(w.throttled) {
		// Failing to back off after a 429: automated IP ban.
		d := l.ban << min(w.bans, 20)
		d = min(d, maxBan)
		w.bans++
		w.banUntil = now.Add(d)
		w.throttled = time.Time{}
		return verdictBan, w.used, d, w.banUntil
	}
	if w.used+weight > l.limit {
		w.throttled = minute.Add(time.Minute)
		return verdictThrottle, w.used, w.throttled.Sub(now), time.Time{}
	}
	w.used += weight
	return verdictOK, w.used, 0, time.Time{}
}

// connectLimiter limits WebSocket connection attempts per IP per 5 minutes
// (sliding window). A zero limit allows everything. Safe for concurrent use.
type connectLimiter struct {
	limit int
	mu    sync.Mutex
	ips   map[string][]time.Time
}

func newConnectLimiter(limit int) *connectLimiter {
	return &connectLimiter{limit: limit, ips: make(map[string][]time.Time)}
}

const connectWindow = 5 * time.Minute

func (l *connectLimiter) allow(ip string, now time.Time) bool {
	if l.limit == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.ips[ip]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= connectWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) >= l.limit {
		l.ips[ip] = ts
		return false
	}
	l.ips[ip] = append(ts, now)
	return true
}
