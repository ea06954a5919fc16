package binancesim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// This file is a reference client for the order-book tests: it keeps local
// books from diff depth events and REST snapshots following Binance's
// "How to manage a local order book correctly", counting what it detects,
// and records HashTopN after every applied event for comparison with the
// BookLog.

// wireDepth is a depthUpdate event. encoding/json matches keys case-
// insensitively when no field matches exactly, so "U"/"u" and "e"/"E"
// need a field each.
type wireDepth struct {
	Ev    string      `json:"e"`
	E     int64       `json:"E"`
	S     string      `json:"s"`
	First int64       `json:"U"`
	Last  int64       `json:"u"`
	B     [][2]string `json:"b"`
	A     [][2]string `json:"a"`
}

// wireSnapshot is the REST depth body and the partial depth payload.
type wireSnapshot struct {
	LastUpdateID int64       `json:"lastUpdateId"`
	Bids         [][2]string `json:"bids"`
	Asks         [][2]string `json:"asks"`
}

type wireBookTicker struct {
	U  int64  `json:"u"`
	S  string `json:"s"`
	B  string `json:"b"`
	BQ string `json:"B"`
	A  string `json:"a"`
	AQ string `json:"A"`
}

// envelope is a combined-stream frame.
type envelope struct {
	Stream string          `json:"stream"`
	Data   json.RawMessage `json:"data"`
}

// scaled parses a decimal with at most 8 fraction digits into units of 1e-8.
func scaled(t *testing.T, s string) int64 {
	t.Helper()
	i, f, _ := strings.Cut(s, ".")
	if len(f) > 8 {
		t.Fatalf("decimal %q has more than 8 fraction digits", s)
	}
	v, err := strconv.ParseInt(i+f+strings.Repeat("0", 8-len(f)), 10, 64)
	if err != nil {
		t.Fatalf("decimal %q: %v", s, err)
	}
	return v
}

// localBook is a client-side book keyed by scaled price.
type localBook struct {
	id         int64
	bids, asks map[int64][2]string
}

func newLocalBook(t *testing.T, snap wireSnapshot) *localBook {
	b := &localBook{id: snap.LastUpdateID, bids: map[int64][2]string{}, asks: map[int64][2]string{}}
	b.apply(t, snap.Bids, snap.Asks)
	return b
}

func (b *localBook) apply(t *testing.T, bids, asks [][2]string) {
	t.Helper()
	for _, side := range []struct {
		m  map[int64][2]string
		lv [][2]string
	}{{b.bids, bids}, {b.asks, asks}} {
		for _, l := range side.lv {
			p := scaled(t, l[0])
			if string(AppendCanonicalDecimal(nil, l[1])) == "0" {
				delete(side.m, p) // removing an unknown level is normal
			} else {
				side.m[p] = l
			}
		}
	}
}

// top returns the best n levels of each side, best first.
func (b *localBook) top(n int) (bids, asks [][2]string) {
	return topOf(b.bids, n, true), topOf(b.asks, n, false)
}

func topOf(m map[int64][2]string, n int, desc bool) [][2]string {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if desc {
		slices.Reverse(keys)
	}
	out := make([][2]string, 0, n)
	for _, k := range keys[:min(n, len(keys))] {
		out = append(out, m[k])
	}
	return out
}

// crossed reports whether the best bid is at or above the best ask.
func (b *localBook) crossed() bool {
	var bid, ask int64 = -1, -1
	for p := range b.bids {
		bid = max(bid, p)
	}
	for p := range b.asks {
		if ask < 0 || p < ask {
			ask = p
		}
	}
	return bid >= 0 && ask >= 0 && bid >= ask
}

// symSync is the client's state for one symbol.
type symSync struct {
	book  *localBook
	buf   []wireDepth // events buffered while not in sync
	fresh bool        // nothing applied since the snapshot
}

// bookClient follows the documented procedure for every symbol it sees.
type bookClient struct {
	t      *testing.T
	s      *Server
	limit  int // REST snapshot depth
	hashN  int
	syms   map[string]*symSync
	hashes map[string]map[int64]uint64 // symbol -> u -> hash after applying u

	events, applied, ignored, gaps, stale, syncs, fetches int
	bridged                                               int // first applied event had U <= lastUpdateId+1 <= u
}

func newBookClient(t *testing.T, s *Server, limit int) *bookClient {
	return &bookClient{t: t, s: s, limit: limit, hashN: DefaultBookHashDepth,
		syms: map[string]*symSync{}, hashes: map[string]map[int64]uint64{}}
}

func (c *bookClient) fetch(sym string) wireSnapshot {
	c.t.Helper()
	c.fetches++
	code, _, body := httpGet(c.t, c.s, fmt.Sprintf("/api/v3/depth?symbol=%s&limit=%d", sym, c.limit))
	if code != 200 {
		c.t.Fatalf("depth %s: %d %s", sym, code, body)
	}
	var snap wireSnapshot
	if err := json.Unmarshal(body, &snap); err != nil {
		c.t.Fatalf("depth body: %v", err)
	}
	return snap
}

// onDepth handles one diff depth event.
func (c *bookClient) onDepth(ev wireDepth) {
	c.t.Helper()
	c.events++
	st := c.syms[ev.S]
	if st == nil {
		st = &symSync{}
		c.syms[ev.S] = st
	}
	if st.book == nil {
		st.buf = append(st.buf, ev)
		c.trySync(ev.S, st)
		return
	}
	if !c.update(ev.S, st, ev) {
		c.trySync(ev.S, st)
	}
}

// trySync fetches a snapshot; one older than the first buffered event is
// refused and fetched again on the next event.
func (c *bookClient) trySync(sym string, st *symSync) {
	c.t.Helper()
	snap := c.fetch(sym)
	if snap.LastUpdateID < st.buf[0].First {
		c.stale++
		return
	}
	st.book = newLocalBook(c.t, snap)
	st.fresh = true
	c.syncs++
	buf := st.buf
	st.buf = nil
	for i, ev := range buf {
		if ev.Last <= st.book.id {
			continue // older than the snapshot
		}
		if !c.update(sym, st, ev) {
			st.buf = append(st.buf, buf[i+1:]...)
			c.trySync(sym, st)
			return
		}
	}
}

// update applies ev to an in-sync book; on a gap it drops the book, starts
// buffering again from ev and returns false (the caller fetches again).
func (c *bookClient) update(sym string, st *symSync, ev wireDepth) bool {
	c.t.Helper()
	b := st.book
	if ev.Last <= b.id {
		c.ignored++ // duplicate or late
		return true
	}
	if ev.First > b.id+1 {
		c.gaps++
		st.book = nil
		st.buf = []wireDepth{ev}
		return false
	}
	if st.fresh && ev.First <= b.id+1 && b.id+1 <= ev.Last {
		c.bridged++ // the first event applied on a snapshot straddles it
	}
	st.fresh = false
	b.apply(c.t, ev.B, ev.A)
	b.id = ev.Last
	c.applied++
	if b.crossed() {
		c.t.Fatalf("%s crossed at u=%d", sym, ev.Last)
	}
	bids, asks := b.top(c.hashN)
	m := c.hashes[sym]
	if m == nil {
		m = map[int64]uint64{}
		c.hashes[sym] = m
	}
	m[ev.Last] = HashTopN(bids, asks, c.hashN)
	return true
}

// inSync returns the symbol's book if it is in sync.
func (c *bookClient) inSync(sym string) *localBook {
	if st := c.syms[sym]; st != nil {
		return st.book
	}
	return nil
}

// parseBookLog reads BookLog lines into symbol -> u -> hash, checking that
// u increases per symbol.
func parseBookLog(t *testing.T, log string) map[string]map[int64]uint64 {
	t.Helper()
	out := map[string]map[int64]uint64{}
	last := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewBufferString(log))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || len(f[2]) != 16 {
			t.Fatalf("book log line %q", sc.Text())
		}
		u, err1 := strconv.ParseInt(f[1], 10, 64)
		h, err2 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("book log line %q", sc.Text())
		}
		if u <= last[f[0]] {
			t.Fatalf("book log %s: u %d after %d", f[0], u, last[f[0]])
		}
		last[f[0]] = u
		if out[f[0]] == nil {
			out[f[0]] = map[int64]uint64{}
		}
		out[f[0]][u] = h
	}
	return out
}

// compareWithTruth asserts every hash the client recorded equals the
// BookLog's at the same u and returns how many were compared.
func compareWithTruth(t *testing.T, c *bookClient, truth map[string]map[int64]uint64) int {
	t.Helper()
	n := 0
	for sym, m := range c.hashes {
		for u, h := range m {
			want, ok := truth[sym][u]
			if !ok {
				t.Fatalf("%s u=%d applied by the client is not in the book log", sym, u)
			}
			if h != want {
				t.Fatalf("%s u=%d: client hash %016x, book log %016x", sym, u, h, want)
			}
			n++
		}
	}
	return n
}
