package binancesim

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// GET /api/v3/depth (rest-api.md "Order book"): symbol, limit (default
// 100, max 5000; a larger limit is served as 5000), weight by limit.

const (
	defaultDepthLimit = 100
	maxDepthLimit     = maxBookLevels
)

// depthWeight is the documented weight of a depth request with limit:
// 1-100 -> 5, 101-500 -> 25, 501-1000 -> 50, 1001-5000 -> 250.
func depthWeight(limit int64) int {
	switch {
	case limit <= 100:
		return 5
	case limit <= 500:
		return 25
	case limit <= 1000:
		return 50
	}
	return 250
}

// depthLimitOf reads limit for weighting; invalid values weigh as the
// default (the handler answers them with -1100).
func depthLimitOf(r *http.Request) int64 {
	n, err := strconv.ParseInt(r.URL.Query().Get("limit"), 10, 64)
	if err != nil || n <= 0 {
		return defaultDepthLimit
	}
	return min(n, maxDepthLimit)
}

// handleDepthRoute counts the request and applies the limit-based weight.
func (s *Server) handleDepthRoute(w http.ResponseWriter, r *http.Request) {
	s.stats.restDepth.Add(1)
	s.rest(depthWeight(depthLimitOf(r)), s.handleDepth)(w, r)
}

// handleDepth serves GET /api/v3/depth.
func (s *Server) handleDepth(w http.ResponseWriter, r *http.Request) {
	sym := s.symbolParam(w, r)
	if sym == nil {
		return
	}
	n, ok := intParam(w, r, "limit", defaultDepthLimit)
	if !ok {
		return
	}
	limit := int(min(n, maxDepthLimit))
	if limit == 0 {
		limit = defaultDepthLimit
	}
	var snap *depthSnap
	if d := s.cfg.Faults.SnapshotDelay; d > 0 {
		snap = s.snaps[sym.index].get(sym, 2*d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closedC:
			t.Stop()
			return
		}
	} else {
		snap = sym.book.snapshot(limit)
	}
	b := make([]byte, 0, 64+(len(snap.bids)+len(snap.asks))*48)
	writeJSON(w, http.StatusOK, sym.appendRESTDepth(b, snap, limit))
}

// snapCache holds a full-depth snapshot of one symbol for SnapshotDelay,
// like a lagging replica: requests within maxAge (2*SnapshotDelay) of it
// are served from it, later ones refresh it.
type snapCache struct {
	mu   sync.Mutex
	at   time.Time
	snap *depthSnap
}

func (c *snapCache) get(sym *symbolState, maxAge time.Duration) *depthSnap {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.snap == nil || now.Sub(c.at) >= maxAge {
		c.snap, c.at = sym.book.snapshot(maxDepthLimit), now
	}
	return c.snap
}
