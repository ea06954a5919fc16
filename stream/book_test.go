package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickflow/tickflow/md"
)

// ---- reference book and update generator ----

// refBook is a plain map book: the truth tests compare against.
type refBook struct{ bids, asks map[int64]int64 }

func newRefBook() *refBook { return &refBook{bids: map[int64]int64{}, asks: map[int64]int64{}} }

func (r *refBook) set(bid bool, p, q int64) {
	m := r.asks
	if bid {
		m = r.bids
	}
	if q <= 0 {
		delete(m, p)
	} else {
		m[p] = q
	}
}

func (r *refBook) apply(u *md.BookUpdate) {
	if u.Snapshot {
		clear(r.bids)
		clear(r.asks)
	}
	for _, l := range u.Bids {
		r.set(true, l.Price.Mant, l.Qty.Mant)
	}
	for _, l := range u.Asks {
		r.set(false, l.Price.Mant, l.Qty.Mant)
	}
}

// top returns the best n levels of a side, best first ("price:qty" at scales 2 and 8).
func (r *refBook) top(bid bool, n int) []string {
	m := r.asks
	if bid {
		m = r.bids
	}
	px := slices.Sorted(maps.Keys(m))
	if bid {
		slices.Reverse(px)
	}
	if len(px) > n {
		px = px[:n]
	}
	out := make([]string, len(px))
	for i, p := range px {
		out[i] = md.Decimal{Mant: p, Scale: 2}.String() + ":" + md.Decimal{Mant: m[p], Scale: 8}.String()
	}
	return out
}

// bookGen produces a consistent stream of book updates for one instrument (contiguous
// seq, prev_seq = seq-1, as the normalizer guarantees) and keeps the truth.
type bookGen struct {
	rng           *rand.Rand
	venue, symbol string
	seq           uint64
	id            uint64
	truth         *refBook
}

func newBookGen(seed uint64, venue, symbol string) *bookGen {
	return &bookGen{rng: rand.New(rand.NewPCG(seed, 7)), venue: venue, symbol: symbol, truth: newRefBook()}
}

func lv(p, q int64) md.Level {
	return md.Level{Price: md.Decimal{Mant: p, Scale: 2}, Qty: md.Decimal{Mant: q, Scale: 8}}
}

const genMid = 1_000_000 // 10000.00

func (g *bookGen) header() md.Header {
	return md.Header{Venue: g.venue, Symbol: g.symbol, ExchTime: 1_719_000_000_000_000_000 + int64(g.seq),
		RecvTime: 1_719_000_000_001_000_000 + int64(g.seq), Source: md.SourceLive}
}

func (g *bookGen) next(u *md.BookUpdate) *md.BookUpdate {
	g.seq++
	g.id += 1 + uint64(g.rng.IntN(3))
	u.Seq, u.PrevSeq = g.seq, g.seq-1
	u.FirstID, u.LastID = g.id, g.id
	u.Header = g.header()
	g.truth.apply(u)
	return u
}

// snapshot returns a snapshot of n levels per side around genMid.
func (g *bookGen) snapshot(n int) *md.BookUpdate {
	u := &md.BookUpdate{Snapshot: true, Depth: 1000}
	for i := range n {
		u.Bids = append(u.Bids, lv(genMid-1-int64(i)*2, 1+g.rng.Int64N(1e8)))
		u.Asks = append(u.Asks, lv(genMid+1+int64(i)*2, 1+g.rng.Int64N(1e8)))
	}
	return g.next(u)
}

// delta returns a random delta of up to k levels: inserts, updates and deletes near the
// top (deletes of absent levels included, as venues send them).
func (g *bookGen) delta(k int) *md.BookUpdate {
	u := &md.BookUpdate{}
	for range 1 + g.rng.IntN(k) {
		bid := g.rng.IntN(2) == 0
		off := int64(g.rng.ExpFloat64()*20) + 1 // mostly near the touch
		p := genMid + off
		if bid {
			p = genMid - off
		}
		q := int64(0)
		if g.rng.IntN(3) > 0 {
			q = 1 + g.rng.Int64N(1e8)
		}
		if bid {
			u.Bids = append(u.Bids, lv(p, q))
		} else {
			u.Asks = append(u.Asks, lv(p, q))
		}
	}
	return g.next(u)
}

// touch returns a delta that changes the best bid's quantity (every depth sees it).
func (g *bookGen) touch() *md.BookUpdate {
	best := int64(0)
	for p := range g.truth.bids {
		best = max(best, p)
	}
	return g.next(&md.BookUpdate{Bids: []md.Level{lv(best, 1+g.rng.Int64N(1e8))}})
}

// ---- window delta math ----

// TestWindowDeltaRandom checks the per-depth delta against brute force: applying the
// levels it returns to the old top n gives exactly the new top n, each price at most once
// and never an unchanged level.
func TestWindowDeltaRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bid := range []bool{true, false} {
		s := &bookSide{bid: bid}
		var d sideDelta
		for round := range 20000 {
			if round%2000 == 0 {
				s.px, s.qty = s.px[:0], s.qty[:0]
			}
			// random update of up to 8 levels over a price range of 60
			var ls []md.Level
			for range 1 + rng.IntN(8) {
				q := int64(0)
				if rng.IntN(5) > 1 {
					q = 1 + rng.Int64N(5)
				}
				ls = append(ls, md.Level{Price: md.Decimal{Mant: 100 + rng.Int64N(60)}, Qty: md.Decimal{Mant: q}})
			}
			ns := []int{1, 2, 3, 5, 8, 13, 50}
			type win = map[int64]int64
			olds := make([]win, len(ns))
			lens := make([]int, len(ns))
			edges := make([]int64, len(ns))
			for k, n := range ns {
				olds[k] = win{}
				for i := 0; i < n && i < len(s.px); i++ {
					olds[k][s.px[i]] = s.qty[i]
				}
				lens[k] = len(s.px)
				edges[k], _ = s.edge(n)
			}
			if !d.loadLevels(ls, 0, 0) {
				t.Fatal("loadLevels")
			}
			d.prepare(s)
			d.apply(s)
			d.finish(s)
			if !slices.IsSortedFunc(s.px, func(a, b int64) int {
				if s.better(a, b) {
					return -1
				}
				return 1
			}) {
				t.Fatalf("side not sorted: %v", s.px)
			}
			for k, n := range ns {
				out := d.window(nil, s, n, lens[k], edges[k])
				got := maps.Clone(olds[k])
				seen := map[int64]bool{}
				for _, l := range out {
					if seen[l.px] {
						t.Fatalf("round %d n %d: price %d twice in %v", round, n, l.px, out)
					}
					seen[l.px] = true
					if q, ok := olds[k][l.px]; (ok && q == l.qty) || (!ok && l.qty == 0) {
						t.Fatalf("round %d n %d: no-op level %v in %v", round, n, l, out)
					}
					if l.qty == 0 {
						delete(got, l.px)
					} else {
						got[l.px] = l.qty
					}
				}
				want := win{}
				for i := 0; i < n && i < len(s.px); i++ {
					want[s.px[i]] = s.qty[i]
				}
				if !maps.Equal(got, want) {
					t.Fatalf("round %d bid=%v n=%d: update %v\n old %v\n delta %v\n got %v\nwant %v",
						round, bid, n, ls, olds[k], out, got, want)
				}
			}
		}
	}
}

func TestBookSideBound(t *testing.T) {
	s := &bookSide{bid: false}
	for i := range MaxBookLevels + 10 {
		s.set(int64(1000+i), 1)
	}
	if len(s.px) != MaxBookLevels || s.px[len(s.px)-1] != 1000+MaxBookLevels-1 {
		t.Fatalf("len %d last %d", len(s.px), s.px[len(s.px)-1])
	}
	s.set(1, 5) // better than all: the farthest goes
	if len(s.px) != MaxBookLevels || s.px[0] != 1 || s.px[len(s.px)-1] != 1000+MaxBookLevels-2 {
		t.Fatalf("after insert at top: len %d first %d last %d", len(s.px), s.px[0], s.px[len(s.px)-1])
	}
}

// ---- offline gateway helpers ----

// parseFrame decodes a server frame, numbers exact.
func parseFrame(t testing.TB, b []byte) frame {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var f frame
	if err := d.Decode(&f); err != nil {
		t.Fatalf("invalid JSON frame %q: %v", b, err)
	}
	return f
}

// takeFrames does what the writer does with a connection's queue, without a socket: it
// takes the queue, decodes the frames, releases them, and runs the resync the writer
// would. It returns the frames in queue order.
func takeFrames(t testing.TB, c *conn) []frame {
	t.Helper()
	c.mu.Lock()
	batch := c.queue
	c.queue = nil
	clear(c.bboSlot)
	c.mu.Unlock()
	var out []frame
	written := 0
	for _, m := range batch {
		if m == nil {
			continue
		}
		out = append(out, parseFrame(t, m.buf))
		written += len(m.buf)
		m.release()
	}
	c.mu.Lock()
	c.queued -= written
	resync := c.closing == reasonNone && len(c.resync) > 0 && c.queued <= c.g.cfg.ClientQueueBytes/2
	c.mu.Unlock()
	if resync {
		c.g.resync(c)
	}
	return out
}

// subscribeOffline subscribes a socket-less connection as a request would and returns
// the frames queued by it (the reply first).
func subscribeOffline(t testing.TB, c *conn, names ...string) []frame {
	t.Helper()
	req := request{op: opSubscribe, id: 1, hasID: true}
	for _, n := range names {
		ch, err := ParseChannel(n)
		if err != nil {
			t.Fatal(err)
		}
		req.channels = append(req.channels, ch)
	}
	c.subscribe(&req)
	fs := takeFrames(t, c)
	if len(fs) == 0 || fs[0].str("type") != "subscribed" {
		t.Fatalf("subscribe %v: %v", names, fs)
	}
	return fs[1:]
}

func newOfflineConn(g *Gateway) *conn { return newConn(g, nil, nil, g.log) }

// levels returns a frame's side as "price:qty" strings.
func (f frame) levels(side string) []string {
	var out []string
	arr, _ := f[side].([]any)
	for _, l := range arr {
		pq := l.([]any)
		out = append(out, pq[0].(string)+":"+pq[1].(string))
	}
	return out
}

// localBook is what a client keeps from one book channel's frames.
type localBook struct {
	depth   int
	seq     uint64
	valid   bool
	bids    map[string]string
	asks    map[string]string
	reasons []string
}

// apply applies a book frame, checking the sequence rules a client relies on.
func (lb *localBook) apply(t testing.TB, f frame) {
	t.Helper()
	if err := lb.applyErr(f); err != nil {
		t.Fatal(err)
	}
}

func (lb *localBook) applyErr(f frame) error {
	seq, _ := strconv.ParseUint(f.str("seq"), 10, 64)
	switch f.str("type") {
	case "book_snapshot":
		lb.depth, _ = strconv.Atoi(f.str("depth"))
		lb.bids, lb.asks = map[string]string{}, map[string]string{}
		for _, s := range f.levels("bids") {
			p, q, _ := strings.Cut(s, ":")
			lb.bids[p] = q
		}
		for _, s := range f.levels("asks") {
			p, q, _ := strings.Cut(s, ":")
			lb.asks[p] = q
		}
		lb.seq, lb.valid = seq, true
	case "book_delta":
		prev, _ := strconv.ParseUint(f.str("prev_seq"), 10, 64)
		if !lb.valid {
			return fmt.Errorf("delta %v while the book is not valid", f)
		}
		if prev > lb.seq || seq <= lb.seq {
			return fmt.Errorf("delta seq %d prev_seq %d after seq %d: gap or duplicate", seq, prev, lb.seq)
		}
		for side, m := range map[string]map[string]string{"bids": lb.bids, "asks": lb.asks} {
			for _, s := range f.levels(side) {
				p, q, _ := strings.Cut(s, ":")
				if q == "0" {
					delete(m, p)
				} else {
					m[p] = q
				}
			}
		}
		lb.seq = seq
		if len(lb.bids) > lb.depth || len(lb.asks) > lb.depth {
			return fmt.Errorf("after delta %d the client holds %d/%d levels, depth %d", seq, len(lb.bids), len(lb.asks), lb.depth)
		}
	case "book_status":
		if f.str("state") == "invalid" {
			lb.valid = false
			lb.reasons = append(lb.reasons, f.str("reason"))
		}
	default:
		return fmt.Errorf("not a book frame: %v", f)
	}
	return nil
}

// check checks the local book against the truth's top depth levels.
func (lb *localBook) check(t testing.TB, truth *refBook, what string) {
	t.Helper()
	for _, side := range []struct {
		bid bool
		m   map[string]string
	}{{true, lb.bids}, {false, lb.asks}} {
		var got []string
		for p, q := range side.m {
			got = append(got, p+":"+q)
		}
		want := truth.top(side.bid, lb.depth)
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Fatalf("%s: bid=%v book at seq %d differs from the truth\n got %v\nwant %v", what, side.bid, lb.seq, got, w)
		}
	}
}

// ---- gateway behavior, offline ----

func TestBookSnapshotThenDeltasOffline(t *testing.T) {
	g := New(Config{}, nil, nil)
	gen := newBookGen(3, "binance", "BTC-USDT")
	g.PublishBookUpdate(gen.snapshot(30))
	for range 20 {
		g.PublishBookUpdate(gen.delta(4))
	}
	depths := []string{"", "@1", "@5", "@50", "@1000"}
	conns := make([]*conn, len(depths))
	books := make([]*localBook, len(depths))
	for i, d := range depths {
		conns[i] = newOfflineConn(g)
		books[i] = &localBook{}
		fs := subscribeOffline(t, conns[i], "book:binance:BTC-USDT"+d)
		if len(fs) != 1 || fs[0].str("type") != "book_snapshot" || fs[0].str("seq") != fmt.Sprint(gen.seq) ||
			fs[0].str("channel") != "book:binance:BTC-USDT"+d || fs[0].str("known_depth") != "1000" {
			t.Fatalf("%s: want one snapshot at seq %d, got %v", d, gen.seq, fs)
		}
		books[i].apply(t, fs[0])
		books[i].check(t, gen.truth, "snapshot"+d)
	}
	for n := range 3000 {
		var u *md.BookUpdate
		if n%7 == 0 {
			u = gen.touch()
		} else {
			u = gen.delta(6)
		}
		g.PublishBookUpdate(u)
		if n%5 == 0 || n == 2999 {
			for i := range conns {
				for _, f := range takeFrames(t, conns[i]) {
					if f.str("type") == "book_delta" && f.str("first_id") == "" {
						t.Fatalf("delta without first_id: %v", f)
					}
					books[i].apply(t, f)
				}
				books[i].check(t, gen.truth, "depth "+depths[i])
			}
		}
	}
	// A channel with every level sees every update: prev_seq = seq-1 throughout.
	if books[4].seq != gen.seq {
		t.Fatalf("@1000 channel at seq %d, book at %d", books[4].seq, gen.seq)
	}
}

func TestBookFrameGolden(t *testing.T) {
	g := New(Config{}, nil, nil)
	c := newOfflineConn(g)
	g.PublishBookUpdate(&md.BookUpdate{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", ExchTime: 5, SendTime: 6, RecvTime: 7},
		Snapshot: true, Seq: 10, PrevSeq: 9, FirstID: 100, LastID: 100, Depth: 1000,
		Bids: []md.Level{lv(6500001, 50000000), lv(6500000, 1)}, Asks: []md.Level{lv(6500002, 120000)}})
	req := request{op: opSubscribe, channels: []Channel{{Kind: KindBook, Venue: "binance", Symbol: "BTC-USDT", Depth: 2}}}
	c.subscribe(&req)
	g.PublishBookUpdate(&md.BookUpdate{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", ExchTime: 8, RecvTime: 9},
		Seq: 11, PrevSeq: 10, FirstID: 101, LastID: 102,
		Bids: []md.Level{lv(6500000, 0)}, Asks: []md.Level{lv(6500003, 7)}})
	g.PublishBookStatus(&md.BookStatus{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", RecvTime: 20},
		State: md.BookInvalid, Reason: md.IntegrityChecksumFailure, Seq: 11})
	c2 := newOfflineConn(g)
	subscribeOffline(t, c2, "bbo:binance:BTC-USDT")
	g.PublishBBO(&md.BBO{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", ExchTime: 5, RecvTime: 7},
		BidPrice: md.MustDecimal("65000.01", 2), BidQty: md.MustDecimal("0.5", 8),
		AskPrice: md.MustDecimal("65000.02", 2), AskQty: md.MustDecimal("0.0012", 8), UpdateID: 400900217})
	want := []string{
		`{"type":"subscribed","channels":["book:binance:BTC-USDT@2"]}`,
		`{"type":"book_snapshot","channel":"book:binance:BTC-USDT@2","seq":10,"venue":"binance","symbol":"BTC-USDT",` +
			`"depth":2,"known_depth":1000,"last_id":"100","bids":[["65000.01","0.50000000"],["65000.00","0.00000001"]],` +
			`"asks":[["65000.02","0.00120000"]],"exch_time":5,"send_time":6,"recv_time":7,"source":"live"}`,
		`{"type":"book_delta","channel":"book:binance:BTC-USDT@2","seq":11,"prev_seq":10,"venue":"binance","symbol":"BTC-USDT",` +
			`"first_id":"101","last_id":"102","bids":[["65000.00","0"]],"asks":[["65000.03","0.00000007"]],` +
			`"exch_time":8,"recv_time":9,"source":"live"}`,
		`{"type":"book_status","channel":"book:binance:BTC-USDT@2","seq":11,"venue":"binance","symbol":"BTC-USDT",` +
			`"state":"invalid","reason":"checksum_failure","exch_time":0,"recv_time":20,"source":"live"}`,
	}
	c.mu.Lock()
	for i, m := range c.queue {
		if i >= len(want) || string(m.buf) != want[i] {
			t.Errorf("frame %d:\n got %s\nwant %s", i, m.buf, want[min(i, len(want)-1)])
		}
	}
	if len(c.queue) != len(want) {
		t.Errorf("%d frames, want %d", len(c.queue), len(want))
	}
	c.mu.Unlock()
	c2.mu.Lock()
	defer c2.mu.Unlock()
	wantBBO := `{"type":"bbo","channel":"bbo:binance:BTC-USDT","seq":1,"venue":"binance","symbol":"BTC-USDT",` +
		`"bid_price":"65000.01","bid_qty":"0.50000000","ask_price":"65000.02","ask_qty":"0.00120000",` +
		`"update_id":"400900217","exch_time":5,"recv_time":7,"source":"live"}`
	if len(c2.queue) != 1 || string(c2.queue[0].buf) != wantBBO {
		t.Fatalf("bbo frames %d: %s\nwant %s", len(c2.queue), c2.queue[0].buf, wantBBO)
	}
}

func TestBookInvalidThenValid(t *testing.T) {
	g := New(Config{}, nil, nil)
	gen := newBookGen(4, "binance", "BTC-USDT")
	g.PublishBookUpdate(gen.snapshot(10))
	c1 := newOfflineConn(g)
	lb1 := &localBook{}
	for _, f := range subscribeOffline(t, c1, "book:binance:BTC-USDT@3") {
		lb1.apply(t, f)
	}
	for range 10 {
		g.PublishBookUpdate(gen.delta(3))
	}
	// Upstream gap: invalid, then (normalizer) nothing until the repairing snapshot.
	g.PublishBookStatus(&md.BookStatus{Header: gen.header(), State: md.BookInvalid, Reason: md.IntegrityGap, Seq: gen.seq})
	fs := takeFrames(t, c1)
	for _, f := range fs {
		lb1.apply(t, f)
	}
	if last := fs[len(fs)-1]; last.str("type") != "book_status" || last.str("state") != "invalid" ||
		last.str("reason") != "gap" || last.str("seq") != fmt.Sprint(gen.seq) {
		t.Fatalf("want invalid status last, got %v", fs)
	}
	// A client subscribing now is told the book is invalid, and gets no levels.
	c2 := newOfflineConn(g)
	lb2 := &localBook{}
	fs = subscribeOffline(t, c2, "book:binance:BTC-USDT")
	if len(fs) != 1 || fs[0].str("type") != "book_status" || fs[0].str("state") != "invalid" || fs[0].str("reason") != "gap" {
		t.Fatalf("subscribe to invalid book: %v", fs)
	}
	lb2.apply(t, fs[0])
	// The repairing snapshot, then valid.
	g.PublishBookUpdate(gen.snapshot(8))
	g.PublishBookStatus(&md.BookStatus{Header: gen.header(), State: md.BookValid, Seq: gen.seq})
	for i, c := range []*conn{c1, c2} {
		fs := takeFrames(t, c)
		if len(fs) != 2 || fs[0].str("type") != "book_snapshot" || fs[0].str("seq") != fmt.Sprint(gen.seq) ||
			fs[1].str("type") != "book_status" || fs[1].str("state") != "valid" || fs[1].str("reason") != "" {
			t.Fatalf("client %d after repair: %v", i+1, fs)
		}
		lb := []*localBook{lb1, lb2}[i]
		lb.apply(t, fs[0])
		lb.apply(t, fs[1])
		lb.check(t, gen.truth, "after repair")
	}
	for range 50 {
		g.PublishBookUpdate(gen.delta(3))
	}
	for _, f := range takeFrames(t, c1) {
		lb1.apply(t, f)
	}
	for _, f := range takeFrames(t, c2) {
		lb2.apply(t, f)
	}
	lb1.check(t, gen.truth, "c1")
	lb2.check(t, gen.truth, "c2")

	// Redelivered messages are ignored.
	dup := gen.delta(2)
	g.PublishBookUpdate(dup)
	g.PublishBookUpdate(dup)
	for _, f := range takeFrames(t, c1) {
		lb1.apply(t, f)
	}
	lb1.check(t, gen.truth, "after a duplicate")
	if v := testutil.ToFloat64(g.m.bookIgnored); v != 1 {
		t.Fatalf("book_updates_ignored_total = %v after a duplicate", v)
	}
	// A gap the gateway sees itself (a lost message): invalid until the next snapshot;
	// deltas meanwhile are not forwarded.
	gen.delta(2) // never published
	for range 5 {
		g.PublishBookUpdate(gen.delta(2))
	}
	fs = takeFrames(t, c1)
	if len(fs) != 1 || fs[0].str("state") != "invalid" || fs[0].str("reason") != "gateway_gap" {
		t.Fatalf("gateway gap: %v", fs)
	}
	if v := testutil.ToFloat64(g.m.bookGaps); v != 1 {
		t.Fatalf("book_gaps_total = %v", v)
	}
	if v := testutil.ToFloat64(g.m.bookIgnored); v != 1+4 {
		t.Fatalf("book_updates_ignored_total = %v", v)
	}
	g.PublishBookUpdate(gen.snapshot(5))
	lb1.apply(t, fs[0])
	for _, f := range takeFrames(t, c1) {
		lb1.apply(t, f)
	}
	lb1.check(t, gen.truth, "after gateway gap")

	// A book the gateway first hears of through a delta (it started mid-stream).
	c3 := newOfflineConn(g)
	subscribeOffline(t, c3, "book:okx:*")
	late := newBookGen(5, "okx", "ETH-USDT")
	late.snapshot(5) // before the gateway started
	g.PublishBookUpdate(late.delta(2))
	g.PublishBookUpdate(late.delta(2))
	fs = takeFrames(t, c3)
	if len(fs) != 1 || fs[0].str("channel") != "book:okx:ETH-USDT" || fs[0].str("reason") != "no_snapshot" {
		t.Fatalf("no_snapshot: %v", fs)
	}
	if fs = subscribeOffline(t, newOfflineConn(g), "book:okx:ETH-USDT@7"); len(fs) != 1 || fs[0].str("reason") != "no_snapshot" {
		t.Fatalf("subscribe to unknown book: %v", fs)
	}
}

func TestBookWildcardsOffline(t *testing.T) {
	g := New(Config{}, nil, nil)
	gens := map[string]*bookGen{}
	for i, vs := range []string{"binance:BTC-USDT", "binance:ETH-USDT", "okx:BTC-USDT"} {
		v, s, _ := strings.Cut(vs, ":")
		gens[vs] = newBookGen(uint64(10+i), v, s)
		g.PublishBookUpdate(gens[vs].snapshot(6))
	}
	noSnap := newBookGen(20, "okx", "ETH-USDT")
	noSnap.snapshot(3)
	g.PublishBookUpdate(noSnap.delta(1)) // known, not valid

	summary := func(fs []frame) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.str("type")+" "+f.str("channel"))
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		subs []string
		want []string
	}{
		{[]string{"book:*:*@3"}, []string{
			"book_snapshot book:binance:BTC-USDT@3", "book_snapshot book:binance:ETH-USDT@3",
			"book_snapshot book:okx:BTC-USDT@3", "book_status book:okx:ETH-USDT@3"}},
		{[]string{"book:binance:*"}, []string{"book_snapshot book:binance:BTC-USDT", "book_snapshot book:binance:ETH-USDT"}},
		{[]string{"book:*:BTC-USDT", "book:binance:BTC-USDT"}, []string{
			"book_snapshot book:binance:BTC-USDT", "book_snapshot book:okx:BTC-USDT"}},
		{[]string{"book:*:*@3", "book:binance:BTC-USDT@5"}, []string{
			"book_snapshot book:binance:BTC-USDT@3", "book_snapshot book:binance:BTC-USDT@5",
			"book_snapshot book:binance:ETH-USDT@3", "book_snapshot book:okx:BTC-USDT@3", "book_status book:okx:ETH-USDT@3"}},
		{[]string{"book:kraken:*"}, nil},
	}
	conns := make([]*conn, len(tests))
	for i, tt := range tests {
		conns[i] = newOfflineConn(g)
		if got := summary(subscribeOffline(t, conns[i], tt.subs...)); !slices.Equal(got, tt.want) {
			t.Fatalf("%v:\n got %q\nwant %q", tt.subs, got, tt.want)
		}
	}
	// A pattern added over channels already received sends only what is new.
	if got := summary(subscribeOffline(t, conns[2], "book:*:*")); !slices.Equal(got, []string{
		"book_snapshot book:binance:ETH-USDT", "book_status book:okx:ETH-USDT"}) {
		t.Fatalf("widening subscription: %q", got)
	}
	// One update reaches each stream once.
	g.PublishBookUpdate(gens["binance:BTC-USDT"].touch())
	wantDeltas := [][]string{
		{"book_delta book:binance:BTC-USDT@3"},
		{"book_delta book:binance:BTC-USDT"},
		{"book_delta book:binance:BTC-USDT"},
		{"book_delta book:binance:BTC-USDT@3", "book_delta book:binance:BTC-USDT@5"},
		nil,
	}
	for i, c := range conns {
		if got := summary(takeFrames(t, c)); !slices.Equal(got, wantDeltas[i]) {
			t.Fatalf("client %d (%v): got %q, want %q", i, tests[i].subs, got, wantDeltas[i])
		}
	}
	// A book that appears later reaches wildcard subscribers with its first snapshot.
	nb := newBookGen(30, "kraken", "SOL-USD")
	g.PublishBookUpdate(nb.snapshot(2))
	if got := summary(takeFrames(t, conns[4])); !slices.Equal(got, []string{"book_snapshot book:kraken:SOL-USD"}) {
		t.Fatalf("new book: %q", got)
	}
	if got := summary(takeFrames(t, conns[0])); !slices.Equal(got, []string{"book_snapshot book:kraken:SOL-USD@3"}) {
		t.Fatalf("new book @3: %q", got)
	}
}

func TestBBOConflationOffline(t *testing.T) {
	g := New(Config{}, nil, nil)
	c := newOfflineConn(g)
	subscribeOffline(t, c, "bbo:*:*", "trades:*:*")
	bbo := func(sym string, i int64) *md.BBO {
		return &md.BBO{Header: md.Header{Venue: "binance", Symbol: sym, RecvTime: i},
			BidPrice: md.Decimal{Mant: 100 + i, Scale: 2}, BidQty: md.Decimal{Mant: 1, Scale: 0},
			AskPrice: md.Decimal{Mant: 200 + i, Scale: 2}, AskQty: md.Decimal{Mant: 1, Scale: 0}, UpdateID: uint64(i)}
	}
	g.PublishBBO(bbo("BTC-USDT", 1))
	g.PublishTrade(testTrade("binance", "BTC-USDT", 1, "1.00", "1"))
	for i := int64(2); i <= 100; i++ {
		g.PublishBBO(bbo("BTC-USDT", i))
		g.PublishBBO(bbo("ETH-USDT", i))
	}
	fs := takeFrames(t, c)
	got := make([]string, len(fs))
	for i, f := range fs {
		got[i] = f.str("type") + " " + f.str("channel") + " " + f.str("seq") + " " + f.str("update_id")
	}
	// The BTC slot keeps its place (before the trade) with the latest values.
	want := []string{"bbo bbo:binance:BTC-USDT 100 100", "trade trades:binance:BTC-USDT 1 ", "bbo bbo:binance:ETH-USDT 99 100"}
	if !slices.Equal(got, want) {
		t.Fatalf("queue after conflation:\n got %q\nwant %q", got, want)
	}
	if v := testutil.ToFloat64(g.m.conflated); v != 99+98 {
		t.Fatalf("bbo_conflated_total = %v", v)
	}
	c.mu.Lock()
	if c.queued != 0 {
		t.Fatalf("queued bytes %d after drain", c.queued)
	}
	c.mu.Unlock()
	// After the writer took the queue, the next BBO is a new frame.
	g.PublishBBO(bbo("BTC-USDT", 101))
	if fs := takeFrames(t, c); len(fs) != 1 || fs[0].str("seq") != "101" {
		t.Fatalf("after drain: %v", fs)
	}
	// A new subscriber gets each channel's latest BBO at once.
	fs = subscribeOffline(t, newOfflineConn(g), "bbo:binance:*")
	slices.SortFunc(fs, func(a, b frame) int { return strings.Compare(a.str("channel"), b.str("channel")) })
	if len(fs) != 2 || fs[0].str("seq") != "101" || fs[1].str("seq") != "99" || fs[0].str("bid_price") != "2.01" {
		t.Fatalf("latest BBO on subscribe: %v", fs)
	}
}

// TestBookResnapshotOffline: a client whose queue would overflow on a book channel is not
// disconnected; its backlog is dropped, it is told (book_status invalid slow_consumer) and
// it gets a fresh snapshot once it has caught up, then deltas again, staying correct.
func TestBookResnapshotOffline(t *testing.T) {
	g := New(Config{ClientQueueBytes: 64 << 10}, nil, nil)
	gen := newBookGen(6, "binance", "BTC-USDT")
	g.PublishBookUpdate(gen.snapshot(200))
	c := newOfflineConn(g)
	lb := &localBook{}
	for _, f := range subscribeOffline(t, c, "book:binance:BTC-USDT@200", "trades:*:*") {
		lb.apply(t, f)
	}
	// The client reads nothing while the book moves.
	for n := 0; testutil.ToFloat64(g.m.resnapshots) == 0; n++ {
		if n > 100000 {
			t.Fatal("queue never overflowed")
		}
		g.PublishBookUpdate(gen.delta(8))
	}
	for range 500 {
		g.PublishBookUpdate(gen.delta(8))
	}
	c.mu.Lock()
	if c.closing != reasonNone || c.queued > 64<<10 || len(c.resync) != 1 {
		t.Fatalf("closing %v queued %d resync %d", c.closing, c.queued, len(c.resync))
	}
	c.mu.Unlock()
	fs := takeFrames(t, c) // the backlog (what fitted), the note; then the resync queues a snapshot
	last := fs[len(fs)-1]
	if last.str("type") != "book_status" || last.str("reason") != "slow_consumer" {
		t.Fatalf("backlog does not end with the slow_consumer note: %v", last)
	}
	for _, f := range fs {
		lb.apply(t, f)
	}
	fs = takeFrames(t, c)
	if len(fs) != 1 || fs[0].str("type") != "book_snapshot" || fs[0].str("seq") != fmt.Sprint(gen.seq) {
		t.Fatalf("want the fresh snapshot, got %d frames: %v", len(fs), fs)
	}
	lb.apply(t, fs[0])
	lb.check(t, gen.truth, "after resnapshot")
	for range 100 {
		g.PublishBookUpdate(gen.delta(8))
	}
	for _, f := range takeFrames(t, c) {
		lb.apply(t, f)
	}
	lb.check(t, gen.truth, "after more deltas")

	// Frames that cannot be conflated (trades) make room by dropping book backlogs first.
	for range 150 {
		g.PublishBookUpdate(gen.delta(8))
	}
	before := testutil.ToFloat64(g.m.resnapshots)
	tr := testTrade("binance", "BTC-USDT", 1, "1.00", "1")
	for n := 0; testutil.ToFloat64(g.m.resnapshots) == before; n++ {
		if n > 100000 {
			t.Fatal("trades never evicted the book backlog")
		}
		g.PublishTrade(tr)
	}
	c.mu.Lock()
	if c.closing != reasonNone {
		t.Fatal("client disconnected although book frames could make room")
	}
	c.mu.Unlock()
	// Trades alone still make a slow consumer.
	for n := 0; testutil.ToFloat64(g.m.slow) == 0; n++ {
		if n > 100000 {
			t.Fatal("never a slow consumer")
		}
		g.PublishTrade(tr)
	}
	if c.closeReason() != reasonSlow {
		t.Fatalf("close reason %v", c.closeReason())
	}
}
