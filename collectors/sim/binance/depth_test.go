package binancesim

import (
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readFrames reads combined-stream frames for runFor, then stops trading
// and reads on until the connection has been quiet for a while, handing
// each frame to fn; a frame that is not valid JSON is passed with stream
// "". When it returns no more frames will come and Stats are final.
func readFrames(t *testing.T, s *Server, c *websocket.Conn, runFor time.Duration, fn func(stream string, data []byte)) {
	t.Helper()
	readFramesUntil(t, s, c, runFor, nil, fn)
}

// readFramesUntil is readFrames that keeps trading past runFor (up to 10x) until enough
// reports true: on a loaded machine the simulator produces fewer events per second, and a
// test's minimum count of checked events must not turn into a flake.
func readFramesUntil(t *testing.T, s *Server, c *websocket.Conn, runFor time.Duration, enough func() bool, fn func(stream string, data []byte)) {
	t.Helper()
	const quiet = 400 * time.Millisecond
	started := time.Now()
	end := started.Add(runFor)
	stopped := false
	for {
		if !stopped && time.Now().After(end) {
			if enough == nil || enough() || time.Since(started) > 10*runFor {
				s.StopTrading()
				stopped = true
			} else {
				end = time.Now().Add(200 * time.Millisecond)
			}
		}
		deadline := time.Now().Add(quiet)
		if deadline.Before(end) {
			deadline = end.Add(quiet)
		}
		_ = c.SetReadDeadline(deadline)
		_, b, err := c.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Now().After(end) && (stopped || enough == nil || enough() || time.Since(started) > 10*runFor) {
				s.StopTrading()
				return
			}
			t.Fatalf("read: %v", err)
		}
		var env envelope
		if json.Unmarshal(b, &env) != nil {
			fn("", b)
			continue
		}
		fn(env.Stream, env.Data)
	}
}

func decodeDepth(t *testing.T, data []byte) wireDepth {
	t.Helper()
	var ev wireDepth
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("depth event %s: %v", data, err)
	}
	if ev.Ev != "depthUpdate" || ev.First > ev.Last || ev.E == 0 {
		t.Fatalf("depth event %s", data)
	}
	return ev
}

// TestDepthConformance: a client following Binance's documented procedure
// (buffer, snapshot, drop u <= lastUpdateId, bridge, U == prev u + 1,
// qty 0 deletes) holds, after every event, a book whose HashTopN equals
// the BookLog's hash for the same u; it sees every batch the log has
// (100 ms) or every tenth (1000 ms); the book is never crossed.
func TestDepthConformance(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	s := startServer(t, Config{Seed: 40, Symbols: 6, TradeRate: 4_000, BookLog: &log, WeightPerMinute: 1_000_000})
	c := dial(t, s, "/stream?streams=btcusdt@depth@100ms/pepeusdt@depth@100ms/ethusdt@depth@100ms/solusdt@depth")
	cl := newBookClient(t, s, 5000)
	readFramesUntil(t, s, c, 2500*time.Millisecond, func() bool { return cl.applied >= 60 }, func(stream string, data []byte) {
		if stream == "" {
			t.Fatalf("malformed frame without faults: %s", data)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil || keys(m) != "E,U,a,b,e,s,u" {
			t.Fatalf("depth event keys %s in %s", keys(m), data)
		}
		ev := decodeDepth(t, data)
		if want := strings.ToLower(ev.S) + "@depth"; stream != want && stream != want+"@100ms" {
			t.Fatalf("stream %s carries %s", stream, ev.S)
		}
		cl.onDepth(ev)
	})
	truth := parseBookLog(t, log.String())
	n := compareWithTruth(t, cl, truth)
	t.Logf("events %d applied %d compared %d syncs %d fetches %d; stats %+v", cl.events, cl.applied, n, cl.syncs, cl.fetches, s.Stats())
	// A sync whose first following event has not arrived when the read window closes (the
	// 1000 ms stream on a loaded machine) is still fresh: it cannot have bridged yet.
	fresh := 0
	for _, st := range cl.syms {
		if st.book != nil && st.fresh {
			fresh++
		}
	}
	if cl.gaps != 0 || cl.syncs != 4 || cl.bridged+fresh != 4 || cl.bridged < 3 || cl.stale != 0 {
		t.Fatalf("gaps %d syncs %d bridged %d (+%d awaiting their first event) without faults", cl.gaps, cl.syncs, cl.bridged, fresh)
	}
	if n < 40 {
		t.Fatalf("only %d events compared", n)
	}
	// Every batch between the first and last applied is there.
	for sym, m := range cl.hashes {
		var lo, hi int64 = 1 << 62, 0
		for u := range m {
			lo, hi = min(lo, u), max(hi, u)
		}
		inLog := 0
		for u := range truth[sym] {
			if u >= lo && u <= hi {
				inLog++
			}
		}
		if sym != "SOLUSDT" {
			if len(m) != inLog {
				t.Errorf("%s: client applied %d events, log has %d batches in [%d, %d]", sym, len(m), inLog, lo, hi)
			}
			continue
		}
		// 1000 ms: one event per about ten batches (the last one, at
		// StopTrading, may close a shorter interval).
		us := make([]int64, 0, len(m))
		for u := range m {
			us = append(us, u)
		}
		slices.Sort(us)
		for i := 0; i+2 < len(us); i++ {
			between := 0
			for u := range truth[sym] {
				if u > us[i] && u <= us[i+1] {
					between++
				}
			}
			if between < 5 {
				t.Errorf("%s: %d batches between 1000 ms events %d and %d", sym, between, us[i], us[i+1])
			}
		}
	}
	if len(cl.hashes) != 4 {
		t.Errorf("books compared for %d symbols, want 4 (SOLUSDT on the 1000 ms stream)", len(cl.hashes))
	}
	st := s.Stats()
	lines := 0
	for _, m := range truth {
		lines += len(m)
	}
	if st.DepthBatches != int64(lines) || st.DepthEvents == 0 || st.DepthFramesSent != int64(cl.events) {
		t.Errorf("stats: batches %d (log lines %d) events %d frames %d (client read %d)",
			st.DepthBatches, lines, st.DepthEvents, st.DepthFramesSent, cl.events)
	}
	if st.RESTDepthRequests != int64(cl.fetches) {
		t.Errorf("REST depth requests %d, client fetched %d", st.RESTDepthRequests, cl.fetches)
	}
}

// TestDepthShallowSnapshot: a client whose snapshot holds only
// BookHashDepth levels still matches every BookLog hash: levels that slide
// into the top N are re-quoted, so none is unknown to it.
func TestDepthShallowSnapshot(t *testing.T) {
	t.Parallel()
	const depth = 10
	var log syncBuffer
	s := startServer(t, Config{Seed: 46, Symbols: 3, TradeRate: 4_000, BookLog: &log, BookHashDepth: depth, WeightPerMinute: 1_000_000})
	c := dial(t, s, "/stream?streams=btcusdt@depth@100ms/pepeusdt@depth@100ms/ethusdt@depth@100ms")
	cl := newBookClient(t, s, depth)
	cl.hashN = depth
	readFramesUntil(t, s, c, 2*time.Second, func() bool { return cl.applied >= 45 }, func(stream string, data []byte) {
		cl.onDepth(decodeDepth(t, data))
	})
	n := compareWithTruth(t, cl, parseBookLog(t, log.String()))
	t.Logf("events %d applied %d compared %d syncs %d", cl.events, cl.applied, n, cl.syncs)
	if cl.gaps != 0 || n < 30 {
		t.Fatalf("gaps %d, compared %d", cl.gaps, n)
	}
}

// TestDepthFaults: with gap, duplicate, reorder, drop and malformed faults
// the client detects every kind from the update ids, resyncs, and every
// book it holds still matches the BookLog.
func TestDepthFaults(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	s := startServer(t, Config{Seed: 41, Symbols: 4, TradeRate: 4_000, BookLog: &log, WeightPerMinute: 1_000_000,
		Faults: Faults{DepthGapRate: 0.05, DepthDuplicateRate: 0.05, DepthReorderRate: 0.05, DepthDropRate: 0.05, MalformedRate: 0.03}})
	c := dial(t, s, "/stream?streams=btcusdt@depth@100ms/pepeusdt@depth@100ms/ethusdt@depth@100ms/solusdt@depth@100ms")
	cl := newBookClient(t, s, 5000)
	type seen struct{ first, last, maxU int64 }
	prev := map[string]*seen{}
	var malformed, dups, late, gaps int
	readFrames(t, s, c, 3*time.Second, func(stream string, data []byte) {
		if stream == "" {
			malformed++
			return
		}
		ev := decodeDepth(t, data)
		p := prev[ev.S]
		switch {
		case p == nil:
			p = &seen{}
			prev[ev.S] = p
		case ev.First == p.first && ev.Last == p.last:
			dups++ // the same event again
		case ev.Last <= p.maxU:
			late++ // swapped with the one before
		case ev.First > p.maxU+1:
			gaps++ // U > previous u + 1
		}
		p.first, p.last, p.maxU = ev.First, ev.Last, max(p.maxU, ev.Last)
		cl.onDepth(ev)
	})
	n := compareWithTruth(t, cl, parseBookLog(t, log.String()))
	st := s.Stats()
	t.Logf("events %d applied %d compared %d: malformed %d dups %d late %d gaps %d; client gaps %d ignored %d syncs %d stale %d",
		cl.events, cl.applied, n, malformed, dups, late, gaps, cl.gaps, cl.ignored, cl.syncs, cl.stale)
	t.Logf("stats: gaps %d dropped %d dup %d reordered %d malformed %d frames %d",
		st.DepthGaps, st.DepthDropped, st.DepthDuplicated, st.DepthReordered, st.DepthMalformed, st.DepthFramesSent)
	if malformed == 0 || dups == 0 || late == 0 || gaps == 0 {
		t.Fatalf("undetected faults: malformed %d dups %d late %d gaps %d", malformed, dups, late, gaps)
	}
	if cl.gaps == 0 || cl.syncs <= 4 || cl.ignored == 0 {
		t.Fatalf("client gaps %d syncs %d ignored %d", cl.gaps, cl.syncs, cl.ignored)
	}
	if n < 15 {
		t.Fatalf("only %d events compared", n)
	}
	if int64(malformed) != st.DepthMalformed || int64(dups) != st.DepthDuplicated || st.DepthGaps == 0 ||
		st.DepthDropped == 0 || st.DepthReordered == 0 || int64(cl.events+malformed) != st.DepthFramesSent {
		t.Fatalf("stats disagree with the client: %+v", st)
	}
	if st.Malformed != st.DepthMalformed {
		t.Fatalf("malformed %d, depth malformed %d", st.Malformed, st.DepthMalformed)
	}
}

// TestDepthSnapshotDelay: a lagging REST depth answers late with an old
// snapshot; the client sees lastUpdateId < U of its first buffered event,
// fetches again and then matches the BookLog.
func TestDepthSnapshotDelay(t *testing.T) {
	t.Parallel()
	const delay = 500 * time.Millisecond
	var log syncBuffer
	s := startServer(t, Config{Seed: 42, Symbols: 3, TradeRate: 4_000, BookLog: &log,
		Faults: Faults{SnapshotDelay: delay}})
	start := time.Now()
	code, _, body := httpGet(t, s, "/api/v3/depth?symbol=BTCUSDT&limit=5000") // fills the cache
	if took := time.Since(start); code != 200 || took < delay {
		t.Fatalf("first snapshot: %d after %v: %s", code, took, body)
	}
	var primed wireSnapshot
	if err := json.Unmarshal(body, &primed); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s, "/stream?streams=btcusdt@depth@100ms")
	cl := newBookClient(t, s, 5000)
	readFrames(t, s, c, 2500*time.Millisecond, func(stream string, data []byte) {
		cl.onDepth(decodeDepth(t, data))
	})
	n := compareWithTruth(t, cl, parseBookLog(t, log.String()))
	t.Logf("primed at %d; stale %d syncs %d fetches %d compared %d", primed.LastUpdateID, cl.stale, cl.syncs, cl.fetches, n)
	if cl.stale == 0 || cl.syncs != 1 || n < 5 {
		t.Fatalf("stale %d syncs %d compared %d", cl.stale, cl.syncs, n)
	}
}

// TestBookTicker: bookTicker events have the documented keys, increasing
// u, and the last one received before a diff depth event equals the top
// of the client's book after that event.
func TestBookTicker(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Seed: 43, Symbols: 3, TradeRate: 2_000, WeightPerMinute: 1_000_000})
	c := dial(t, s, "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/xrpusdt@bookTicker/xrpusdt@depth@100ms")
	cl := newBookClient(t, s, 5000)
	last := map[string]wireBookTicker{}
	var tickers, checked int
	readFramesUntil(t, s, c, 2*time.Second, func() bool { return checked >= 10 && tickers >= 100 }, func(stream string, data []byte) {
		if strings.HasSuffix(stream, "@bookTicker") {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(data, &m); err != nil || keys(m) != "A,B,a,b,s,u" {
				t.Fatalf("bookTicker %s", data)
			}
			var bt wireBookTicker
			_ = json.Unmarshal(data, &bt)
			if p, ok := last[bt.S]; ok && bt.U <= p.U {
				t.Fatalf("bookTicker u %d after %d", bt.U, p.U)
			}
			if !price8.MatchString(bt.B) || !price8.MatchString(bt.A) || scaled(t, bt.B) >= scaled(t, bt.A) {
				t.Fatalf("bookTicker prices %s", data)
			}
			last[bt.S] = bt
			tickers++
			return
		}
		ev := decodeDepth(t, data)
		cl.onDepth(ev)
		b := cl.inSync(ev.S)
		bt, ok := last[ev.S]
		if b == nil || !ok || b.id != ev.Last {
			return
		}
		if bt.U > ev.Last {
			t.Fatalf("bookTicker u %d arrived before depth u %d", bt.U, ev.Last)
		}
		bids, asks := b.top(1)
		if bids[0] != [2]string{bt.B, bt.BQ} || asks[0] != [2]string{bt.A, bt.AQ} {
			t.Fatalf("u=%d: book top %v %v, bookTicker %+v", ev.Last, bids[0], asks[0], bt)
		}
		checked++
	})
	t.Logf("bookTickers %d, tops checked %d; stats %d", tickers, checked, s.Stats().BookTickerEvents)
	if checked < 10 || tickers < 100 {
		t.Fatalf("bookTickers %d, checked %d", tickers, checked)
	}
}

// TestPartialDepth: <symbol>@depth5@100ms and @depth10 carry the top of
// the book at lastUpdateId, equal to the diff-synced client's top.
func TestPartialDepth(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Seed: 44, Symbols: 2, TradeRate: 2_000, WeightPerMinute: 1_000_000})
	c := dial(t, s, "/stream?streams=btcusdt@depth@100ms/btcusdt@depth5@100ms/btcusdt@depth10")
	cl := newBookClient(t, s, 5000)
	counts := map[string]int{}
	checked := 0
	readFrames(t, s, c, 2200*time.Millisecond, func(stream string, data []byte) {
		if stream == "btcusdt@depth@100ms" {
			cl.onDepth(decodeDepth(t, data))
			return
		}
		counts[stream]++
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil || keys(m) != "asks,bids,lastUpdateId" {
			t.Fatalf("partial depth %s", data)
		}
		var p wireSnapshot
		_ = json.Unmarshal(data, &p)
		n := 5
		if stream == "btcusdt@depth10" {
			n = 10
		}
		if len(p.Bids) != n || len(p.Asks) != n {
			t.Fatalf("%s: %d bids %d asks", stream, len(p.Bids), len(p.Asks))
		}
		b := cl.inSync("BTCUSDT")
		if b == nil || b.id != p.LastUpdateID {
			return
		}
		bids, asks := b.top(n)
		if HashTopN(bids, asks, n) != HashTopN(p.Bids, p.Asks, n) {
			t.Fatalf("%s at %d: %v %v, client %v %v", stream, p.LastUpdateID, p.Bids, p.Asks, bids, asks)
		}
		checked++
	})
	t.Logf("partial events %v, checked %d", counts, checked)
	if counts["btcusdt@depth5@100ms"] < 10 || counts["btcusdt@depth10"] < 2 || checked < 8 {
		t.Fatalf("partial events %v, checked %d", counts, checked)
	}
}

// TestDepthStreamsListed: the new stream names subscribe, list and
// unsubscribe like trade streams; after UNSUBSCRIBE none arrives.
func TestDepthStreamsListed(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Seed: 45, Symbols: 2, TradeRate: 500})
	c := dial(t, s, "/ws")
	send(t, c, `{"method":"SUBSCRIBE","params":["btcusdt@bookTicker","btcusdt@depth@100ms","btcusdt@depth20"],"id":1}`)
	if r := readReply(t, c); string(r["result"]) != "null" {
		t.Fatalf("subscribe %v", r)
	}
	got := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		b := readMsg(t, c, 2*time.Second)
		switch {
		case strings.HasPrefix(string(b), `{"e":"depthUpdate"`):
			got["depth"] = true
		case strings.HasPrefix(string(b), `{"u":`):
			got["bookTicker"] = true
		case strings.HasPrefix(string(b), `{"lastUpdateId":`):
			got["depth20"] = true
		}
	}
	if len(got) != 3 {
		t.Fatalf("raw frames seen: %v", got)
	}
	send(t, c, `{"method":"LIST_SUBSCRIPTIONS","id":2}`)
	if r := readReply(t, c); string(r["result"]) != `["btcusdt@bookTicker","btcusdt@depth@100ms","btcusdt@depth20"]` {
		t.Fatalf("list %v", r)
	}
	send(t, c, `{"method":"UNSUBSCRIBE","params":["btcusdt@bookTicker","btcusdt@depth@100ms","btcusdt@depth20"],"id":3}`)
	if r := readReply(t, c); string(r["result"]) != "null" {
		t.Fatalf("unsubscribe %v", r)
	}
	_ = c.SetReadDeadline(time.Now().Add(1100 * time.Millisecond))
	if _, b, err := c.ReadMessage(); err == nil {
		t.Fatalf("frame after UNSUBSCRIBE: %s", b)
	}
}
