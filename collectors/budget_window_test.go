package collectors

import (
	"context"
	"testing"
	"time"
)

// TestBudgetVenueWindow: when the venue reports its window nearly used up, requests wait
// for the next window even though the local bucket still has tokens.
func TestBudgetVenueWindow(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 0, 59, 900e6, time.UTC) // 100ms before the minute ends
	b := NewBudget(1000)
	b.now = func() time.Time { return now }
	b.SetWindow(time.Minute)
	b.Observe(990)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	go func() {
		time.Sleep(20 * time.Millisecond)
		b.mu.Lock()
		now = now.Add(200 * time.Millisecond) // the venue's minute has rolled over
		b.mu.Unlock()
	}()
	if err := b.Wait(ctx, 50); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("request was not held back although the venue's window was full")
	}
	// Within a fresh window with room, requests pass at once.
	b.Observe(10)
	start = time.Now()
	if err := b.Wait(ctx, 50); err != nil || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("request held back in a window with room: %v after %s", err, time.Since(start))
	}
}
