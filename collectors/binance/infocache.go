package binance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tickflow/tickflow/collectors"
)

// exchangeInfoMaxAge is how long a fetched exchangeInfo answer is reused for planning and for
// the instrument record at the start of a new connection. Listings change rarely (and a
// running collector does not re-plan its subscriptions anyway), while every fetch costs REST
// weight: after a burst of reconnects or restarts, or while backfills use the weight window,
// a fresh fetch would hold the live stream back until the next window (up to a minute of
// missed trades that then need backfill of their own).
const exchangeInfoMaxAge = 10 * time.Minute

// infoCache holds the newest exchangeInfo answer, in memory and in the state dir.
type infoCache struct {
	path string // "" without a state dir
	now  func() time.Time

	mu   sync.Mutex
	resp *collectors.Response
}

// cachedInfo is the file form of a cached answer.
type cachedInfo struct {
	Status    int    `json:"status"`
	PathQuery string `json:"path_query"`
	RecvTime  int64  `json:"recv_time_ns"`
	Body      []byte `json:"body"`
}

func newInfoCache(stateDir string) *infoCache {
	c := &infoCache{now: time.Now}
	if stateDir != "" {
		c.path = filepath.Join(stateDir, "binance-exchangeinfo.json")
	}
	return c
}

// fresh returns the cached answer if it is younger than exchangeInfoMaxAge (loading the
// state dir's copy on first use), else nil.
func (c *infoCache) fresh() *collectors.Response {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resp == nil && c.path != "" {
		if b, err := os.ReadFile(c.path); err == nil {
			var ci cachedInfo
			if json.Unmarshal(b, &ci) == nil && ci.RecvTime > 0 && len(ci.Body) > 0 {
				c.resp = &collectors.Response{Status: ci.Status, PathQuery: ci.PathQuery, RecvTime: ci.RecvTime, Body: ci.Body}
			}
		}
	}
	if c.resp == nil || c.now().Sub(time.Unix(0, c.resp.RecvTime)) >= exchangeInfoMaxAge {
		return nil
	}
	return c.resp
}

// store keeps resp (a successful answer) and persists it; a failed write only loses the
// cache across a restart.
func (c *infoCache) store(resp *collectors.Response) error {
	c.mu.Lock()
	c.resp = resp
	c.mu.Unlock()
	if c.path == "" {
		return nil
	}
	b, err := json.Marshal(cachedInfo{Status: resp.Status, PathQuery: resp.PathQuery, RecvTime: resp.RecvTime, Body: resp.Body})
	if err != nil {
		return err
	}
	return collectors.WriteFileAtomic(c.path, b)
}

// exchangeInfo returns a fresh cached answer or fetches (and caches) a new one with get. A
// failed fetch returns get's response (if any, e.g. an error status worth recording) and error.
func (c *infoCache) exchangeInfo(ctx context.Context, get func(context.Context) (*collectors.Response, error)) (resp *collectors.Response, cached bool, err error) {
	if r := c.fresh(); r != nil {
		return r, true, nil
	}
	r, err := get(ctx)
	if err == nil && r != nil && r.Status/100 == 2 {
		_ = c.store(r)
	}
	return r, false, err
}
