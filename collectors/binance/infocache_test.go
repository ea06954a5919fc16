package binance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickflow/tickflow/collectors"
)

// TestInfoCache: a fetched answer is reused while younger than exchangeInfoMaxAge, survives a
// restart through the state dir, is fetched again once older, and failures are not cached.
func TestInfoCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_800_000_000, 0)
	fetches := 0
	get := func(status int, err error) func(context.Context) (*collectors.Response, error) {
		return func(context.Context) (*collectors.Response, error) {
			fetches++
			return &collectors.Response{Status: status, PathQuery: "/api/v3/exchangeInfo", RecvTime: now.UnixNano(), Body: []byte(`{"symbols":[]}`)}, err
		}
	}
	ctx := context.Background()

	c := newInfoCache(dir)
	c.now = func() time.Time { return now }
	if _, cached, err := c.exchangeInfo(ctx, get(503, errors.New("unavailable"))); err == nil || cached {
		t.Fatalf("failed fetch: cached=%v err=%v", cached, err)
	}
	r, cached, err := c.exchangeInfo(ctx, get(200, nil))
	if err != nil || cached || fetches != 2 {
		t.Fatalf("second fetch: cached=%v err=%v fetches=%d (the failure must not be cached)", cached, err, fetches)
	}

	// A restarted collector 9 minutes later plans from the file, without a fetch.
	c2 := newInfoCache(dir)
	c2.now = func() time.Time { return now.Add(9 * time.Minute) }
	r2, cached, err := c2.exchangeInfo(ctx, get(200, nil))
	if err != nil || !cached || fetches != 2 {
		t.Fatalf("after restart: cached=%v err=%v fetches=%d", cached, err, fetches)
	}
	if r2.RecvTime != r.RecvTime || string(r2.Body) != string(r.Body) || r2.PathQuery != r.PathQuery || r2.Status != 200 {
		t.Fatalf("reloaded %+v, stored %+v", r2, r)
	}

	// Past the maximum age it fetches again.
	c2.now = func() time.Time { return now.Add(exchangeInfoMaxAge + time.Second) }
	if _, cached, err := c2.exchangeInfo(ctx, get(200, nil)); err != nil || cached || fetches != 3 {
		t.Fatalf("stale: cached=%v err=%v fetches=%d", cached, err, fetches)
	}

	// Without a state dir it still caches in memory.
	c3 := newInfoCache("")
	c3.now = func() time.Time { return now }
	c3.exchangeInfo(ctx, get(200, nil))
	if _, cached, _ := c3.exchangeInfo(ctx, get(200, nil)); !cached || fetches != 4 {
		t.Fatalf("in-memory cache: cached=%v fetches=%d", cached, fetches)
	}
}
