package sink

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickflow/tickflow/transport"
)

// sizedStore is a memStore that asks for its own batch limits.
type sizedStore struct {
	*memStore
	limits BatchLimits
}

func (s sizedStore) BatchLimits() BatchLimits { return s.limits }

var _ BatchSizer = sizedStore{}

func TestRunnerUsesStoreBatchLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, st := newFakeSource(), newMemStore()
		store := sizedStore{st, BatchLimits{MaxRows: 4, MaxDelay: 10 * time.Second}}
		r, err := NewRunner(src, store, Config{Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		if r.cfg.MaxRows != 4 || r.cfg.MaxDelay != 10*time.Second || r.cfg.MaxBytes != DefaultMaxBytes {
			t.Fatalf("limits %d rows, %v, %d bytes; want the store's 4 rows and 10s, the default bytes",
				r.cfg.MaxRows, r.cfg.MaxDelay, r.cfg.MaxBytes)
		}
		done := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { done <- r.Run(ctx) }()
		src.push(transport.TopicTrades, 0, trades(1, 10)...)
		synctest.Wait()
		if writes, _, _ := st.snapshot(); !slices.Equal(writes, []int{4, 4}) {
			t.Fatalf("writes %v, want [4 4] (the store's MaxRows)", writes)
		}
		time.Sleep(9 * time.Second) // the store's MaxDelay, not the Runner's 200ms
		synctest.Wait()
		if writes, _, _ := st.snapshot(); len(writes) != 2 {
			t.Fatalf("writes %v before the store's MaxDelay", writes)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if writes, _, _ := st.snapshot(); !slices.Equal(writes, []int{4, 4, 2}) {
			t.Fatalf("writes %v after the store's MaxDelay, want [4 4 2]", writes)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	// Explicit settings win over the store's.
	r, err := NewRunner(newFakeSource(), sizedStore{newMemStore(), BatchLimits{MaxRows: 4}}, Config{MaxRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	if r.cfg.MaxRows != 7 {
		t.Fatalf("MaxRows %d, want the explicit 7", r.cfg.MaxRows)
	}
}
