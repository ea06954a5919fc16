package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/stream"
)

func decodeMessage(t *testing.T, data string) Message {
	t.Helper()
	c := &Client{in: md.NewInterner(0), msgs: make(chan Message, 1), seqs: map[string]seqState{}}
	c.ctx = context.Background()
	if err := c.handle([]byte(data)); err != nil {
		t.Fatalf("handle %s: %v", data, err)
	}
	select {
	case m := <-c.msgs:
		return m
	default:
		t.Fatalf("no message from %s", data)
	}
	return Message{}
}

func TestDecodeBookFrames(t *testing.T) {
	m := decodeMessage(t, `{"type":"book_snapshot","channel":"book:binance:BTC-USDT@2","seq":10,"venue":"binance","symbol":"BTC-USDT",`+
		`"depth":2,"known_depth":1000,"last_id":"100","bids":[["65000.01","0.50000000"],["65000.00","0.00000001"]],`+
		`"asks":[["65000.02","0.00120000","future"]],"exch_time":5,"send_time":6,"recv_time":7,"source":"live","new":[1]}`)
	want := md.BookUpdate{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", ExchTime: 5, SendTime: 6, RecvTime: 7},
		Snapshot: true, Seq: 10, FirstID: 100, LastID: 100, Depth: 1000,
		Bids: []md.Level{{Price: md.Decimal{Mant: 6500001, Scale: 2}, Qty: md.Decimal{Mant: 50000000, Scale: 8}},
			{Price: md.Decimal{Mant: 6500000, Scale: 2}, Qty: md.Decimal{Mant: 1, Scale: 8}}},
		Asks: []md.Level{{Price: md.Decimal{Mant: 6500002, Scale: 2}, Qty: md.Decimal{Mant: 120000, Scale: 8}}}}
	if m.Type != TypeBookSnapshot || m.Channel != "book:binance:BTC-USDT@2" || m.Seq != 10 || m.BookDepth != 2 ||
		fmt.Sprint(m.Book) != fmt.Sprint(want) {
		t.Fatalf("snapshot\n got %+v\nwant %+v", m, want)
	}
	m = decodeMessage(t, `{"type":"book_delta","channel":"book:binance:BTC-USDT@2","seq":11,"prev_seq":10,"venue":"binance",`+
		`"symbol":"BTC-USDT","first_id":"101","last_id":"102","bids":[["65000.00","0"]],"asks":[],"exch_time":8,"recv_time":9,"source":"live"}`)
	if m.Type != TypeBookDelta || m.Book.Seq != 11 || m.Book.PrevSeq != 10 || m.Book.FirstID != 101 || m.Book.LastID != 102 ||
		len(m.Book.Bids) != 1 || !m.Book.Bids[0].Qty.IsZero() || m.Book.Asks != nil || m.Book.Snapshot {
		t.Fatalf("delta %+v", m)
	}
	m = decodeMessage(t, `{"type":"book_status","channel":"book:binance:BTC-USDT","seq":11,"venue":"binance","symbol":"BTC-USDT",`+
		`"state":"invalid","reason":"checksum_failure","exch_time":0,"recv_time":20,"source":"live"}`)
	if m.Type != TypeBookStatus || m.BookStatus.State != md.BookInvalid || m.BookStatus.Reason != "checksum_failure" ||
		m.BookStatus.Seq != 11 || m.BookStatus.Header.RecvTime != 20 {
		t.Fatalf("status %+v", m)
	}
	m = decodeMessage(t, `{"type":"bbo","channel":"bbo:binance:BTC-USDT","seq":1,"venue":"binance","symbol":"BTC-USDT",`+
		`"bid_price":"65000.01","bid_qty":"0.50000000","ask_price":"65000.02","ask_qty":"0.00120000",`+
		`"update_id":"400900217","exch_time":5,"recv_time":7,"source":"live"}`)
	wantBBO := md.BBO{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT", ExchTime: 5, RecvTime: 7},
		BidPrice: md.Decimal{Mant: 6500001, Scale: 2}, BidQty: md.Decimal{Mant: 50000000, Scale: 8},
		AskPrice: md.Decimal{Mant: 6500002, Scale: 2}, AskQty: md.Decimal{Mant: 120000, Scale: 8}, UpdateID: 400900217}
	if m.Type != TypeBBO || m.Seq != 1 || m.BBO != wantBBO {
		t.Fatalf("bbo\n got %+v\nwant %+v", m.BBO, wantBBO)
	}
	for _, bad := range []string{
		`{"type":"book_delta","channel":"c","bids":[["1.5"]],"asks":[]}`,
		`{"type":"book_delta","channel":"c","bids":[["x","1"]]}`,
		`{"type":"book_status","channel":"c","state":"weird"}`,
		`{"type":"bbo","channel":"c","bid_price":"1","bid_qty":"1","ask_price":"1","ask_qty":"1","update_id":"-1"}`,
	} {
		c := &Client{in: md.NewInterner(0), msgs: make(chan Message, 1), seqs: map[string]seqState{}, ctx: context.Background()}
		if err := c.handle([]byte(bad)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: got %v, want a protocol error", bad, err)
		}
	}
}

func dec(s string) md.Decimal {
	d, err := ParseDecimalText([]byte(s))
	if err != nil {
		panic(err)
	}
	return d
}

func lvl(p, q string) md.Level { return md.Level{Price: dec(p), Qty: dec(q)} }

func TestBookApply(t *testing.T) {
	const ch = "book:binance:BTC-USDT@3"
	b := NewBook(ch)
	if b.Valid() || b.Reason() != "no_snapshot" {
		t.Fatal("new book valid")
	}
	apply := func(m Message) error { m.Channel = ch; return b.Apply(&m) }
	sides := func() string {
		var s []string
		for _, l := range b.Bids() {
			s = append(s, l.Price.String()+"x"+l.Qty.String())
		}
		s = append(s, "|")
		for _, l := range b.Asks() {
			s = append(s, l.Price.String()+"x"+l.Qty.String())
		}
		return strings.Join(s, " ")
	}
	// A delta before any snapshot is ignored.
	if err := apply(Message{Type: TypeBookDelta, Book: md.BookUpdate{Seq: 5, PrevSeq: 4, Bids: []md.Level{lvl("1.00", "1")}}}); err != nil || b.Seq() != 0 {
		t.Fatal(err)
	}
	apply(Message{Type: TypeBookSnapshot, BookDepth: 3, Book: md.BookUpdate{Snapshot: true, Seq: 10, Depth: 500,
		Bids: []md.Level{lvl("9.00", "1"), lvl("10.00", "2"), lvl("8.00", "3"), lvl("7.00", "4")},
		Asks: []md.Level{lvl("11.00", "1")}}})
	if !b.Valid() || b.Seq() != 10 || b.Depth() != 3 || b.KnownDepth() != 500 || sides() != "10.00x2 9.00x1 8.00x3 | 11.00x1" {
		t.Fatalf("after snapshot: %v %d %s", b.Valid(), b.Seq(), sides())
	}
	// Filtered deltas: prev_seq may be below the book's seq.
	if err := apply(Message{Type: TypeBookDelta, Book: md.BookUpdate{Seq: 12, PrevSeq: 8,
		Bids: []md.Level{lvl("10.00", "0"), lvl("7.50", "5")}, Asks: []md.Level{lvl("10.50", "7"), lvl("12.00", "1")}}}); err != nil {
		t.Fatal(err)
	}
	if b.Seq() != 12 || sides() != "9.00x1 8.00x3 7.50x5 | 10.50x7 11.00x1 12.00x1" {
		t.Fatalf("after delta: %s", sides())
	}
	// A duplicate is ignored; other channels are ignored.
	apply(Message{Type: TypeBookDelta, Book: md.BookUpdate{Seq: 12, PrevSeq: 11, Bids: []md.Level{lvl("9.00", "0")}}})
	b.Apply(&Message{Type: TypeBookDelta, Channel: "book:okx:BTC-USDT@3", Book: md.BookUpdate{Seq: 13, PrevSeq: 12, Bids: []md.Level{lvl("9.00", "0")}}})
	// Inserts beyond the depth are truncated.
	apply(Message{Type: TypeBookDelta, Book: md.BookUpdate{Seq: 13, PrevSeq: 12, Asks: []md.Level{lvl("10.00", "1")}}})
	if sides() != "9.00x1 8.00x3 7.50x5 | 10.00x1 10.50x7 11.00x1" {
		t.Fatalf("after insert: %s", sides())
	}
	// A gap.
	err := apply(Message{Type: TypeBookDelta, Book: md.BookUpdate{Seq: 20, PrevSeq: 15}})
	if !errors.Is(err, ErrBookGap) || b.Valid() || b.Reason() != "gap" {
		t.Fatalf("gap: %v valid %v %q", err, b.Valid(), b.Reason())
	}
	apply(Message{Type: TypeBookSnapshot, BookDepth: 3, Book: md.BookUpdate{Snapshot: true, Seq: 21, Bids: []md.Level{lvl("1.00", "1")}}})
	if !b.Valid() || sides() != "1.00x1 |" {
		t.Fatalf("resnapshot: %s", sides())
	}
	apply(Message{Type: TypeBookStatus, BookStatus: BookStatus{State: md.BookInvalid, Reason: "slow_consumer"}})
	if b.Valid() || b.Reason() != "slow_consumer" {
		t.Fatal("status invalid not applied")
	}
	apply(Message{Type: TypeBookSnapshot, BookDepth: 3, Book: md.BookUpdate{Snapshot: true, Seq: 30}})
	b.Apply(&Message{Type: TypeReconnected})
	if b.Valid() || b.Reason() != "reconnected" {
		t.Fatal("reconnect did not invalidate")
	}
}

// ---- end to end ----

// refBook is the truth: a map book, updated with every update published.
type refBook struct {
	bids, asks map[int64]int64
	rng        *rand.Rand
	seq        uint64
	venue, sym string
}

func newRef(seed uint64, venue, sym string) *refBook {
	return &refBook{bids: map[int64]int64{}, asks: map[int64]int64{}, rng: rand.New(rand.NewPCG(seed, 1)), venue: venue, sym: sym}
}

func mdl(p, q int64) md.Level {
	return md.Level{Price: md.Decimal{Mant: p, Scale: 2}, Qty: md.Decimal{Mant: q, Scale: 8}}
}

func (r *refBook) update(snapshot bool, bids, asks []md.Level) *md.BookUpdate {
	if snapshot {
		clear(r.bids)
		clear(r.asks)
	}
	for _, l := range bids {
		if l.Qty.Mant == 0 {
			delete(r.bids, l.Price.Mant)
		} else {
			r.bids[l.Price.Mant] = l.Qty.Mant
		}
	}
	for _, l := range asks {
		if l.Qty.Mant == 0 {
			delete(r.asks, l.Price.Mant)
		} else {
			r.asks[l.Price.Mant] = l.Qty.Mant
		}
	}
	r.seq++
	return &md.BookUpdate{Header: md.Header{Venue: r.venue, Symbol: r.sym, RecvTime: int64(r.seq)}, Snapshot: snapshot,
		Seq: r.seq, PrevSeq: r.seq - 1, FirstID: r.seq * 10, LastID: r.seq*10 + 5, Bids: bids, Asks: asks}
}

func (r *refBook) snapshot(n int) *md.BookUpdate {
	var bids, asks []md.Level
	for i := range n {
		bids = append(bids, mdl(100_000-1-int64(i)*3, 1+r.rng.Int64N(1e6)))
		asks = append(asks, mdl(100_000+1+int64(i)*3, 1+r.rng.Int64N(1e6)))
	}
	return r.update(true, bids, asks)
}

func (r *refBook) delta() *md.BookUpdate {
	var bids, asks []md.Level
	for range 1 + r.rng.IntN(6) {
		off := int64(r.rng.ExpFloat64()*15) + 1
		q := int64(0)
		if r.rng.IntN(3) > 0 {
			q = 1 + r.rng.Int64N(1e6)
		}
		if r.rng.IntN(2) == 0 {
			bids = append(bids, mdl(100_000-off, q))
		} else {
			asks = append(asks, mdl(100_000+off, q))
		}
	}
	return r.update(false, bids, asks)
}

// top returns the truth's best n levels of a side.
func (r *refBook) top(bid bool, n int) []md.Level {
	m := r.asks
	if bid {
		m = r.bids
	}
	px := slices.Sorted(maps.Keys(m))
	if bid {
		slices.Reverse(px)
	}
	out := []md.Level{}
	for _, p := range px[:min(n, len(px))] {
		out = append(out, mdl(p, m[p]))
	}
	return out
}

func checkBook(t *testing.T, b *Book, r *refBook) {
	t.Helper()
	if !b.Valid() {
		t.Fatalf("%s: not valid (%s)", b.Channel(), b.Reason())
	}
	for _, side := range []struct {
		bid       bool
		got, want []md.Level
	}{{true, b.Bids(), r.top(true, b.Depth())}, {false, b.Asks(), r.top(false, b.Depth())}} {
		if !slices.Equal(append([]md.Level{}, side.got...), side.want) {
			t.Fatalf("%s at seq %d (truth %d): bid=%v\n got %v\nwant %v", b.Channel(), b.Seq(), r.seq, side.bid, side.got, side.want)
		}
	}
}

// consume applies messages to books (creating one per book channel) until a trade with
// id marker arrives; it returns the statuses seen.
func consume(t *testing.T, c *Client, books map[string]*Book, marker uint64) []string {
	t.Helper()
	var statuses []string
	for {
		m := next(t, c)
		switch m.Type {
		case TypeTrade:
			if m.Trade.ID == md.NumericID(marker) {
				return statuses
			}
		case TypeBookStatus:
			statuses = append(statuses, m.Channel+" "+m.BookStatus.Reason)
		case TypeGap:
			t.Fatalf("gap reported: %+v", m)
		}
		if strings.HasPrefix(m.Channel, "book:") && books[m.Channel] == nil {
			books[m.Channel] = NewBook(m.Channel)
		}
		for _, b := range books {
			if err := b.Apply(&m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBookDepthsMatchTruth: clients at several depths, one through a wildcard, keep books
// equal to the truth's top levels through thousands of random deltas, an upstream
// invalid/valid cycle and a second instrument.
func TestBookDepthsMatchTruth(t *testing.T) {
	w := newGateway(t, stream.Config{})
	ctx := ctxT(t)
	r := newRef(1, "binance", "BTC-USDT")
	w.g.PublishBookUpdate(r.snapshot(60))
	for range 100 {
		w.g.PublishBookUpdate(r.delta())
	}
	c, err := Dial(ctx, w.url, Options{Buffer: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chans := []string{"book:binance:BTC-USDT@1", "book:binance:BTC-USDT@5", "book:binance:BTC-USDT@20",
		"book:binance:BTC-USDT", "book:*:*@3", "trades:*:*"}
	if err := c.Subscribe(ctx, chans...); err != nil {
		t.Fatal(err)
	}
	books := map[string]*Book{}
	marker := uint64(0)
	sync := func() {
		marker++
		w.g.PublishTrade(trade("x", "MARK", marker, "1", "1"))
		consume(t, c, books, marker)
	}
	sync()
	if len(books) != 5 {
		t.Fatalf("books %v", slices.Collect(maps.Keys(books)))
	}
	for round := range 10 {
		for range 500 {
			w.g.PublishBookUpdate(r.delta())
		}
		sync()
		for _, b := range books {
			checkBook(t, b, r)
		}
		if round == 5 { // upstream resync
			w.g.PublishBookStatus(&md.BookStatus{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT"},
				State: md.BookInvalid, Reason: md.IntegrityChecksumFailure, Seq: r.seq})
			sync()
			for _, b := range books {
				if b.Valid() || b.Reason() != "checksum_failure" {
					t.Fatalf("%s still valid after invalid status", b.Channel())
				}
			}
			w.g.PublishBookUpdate(r.snapshot(40))
			w.g.PublishBookStatus(&md.BookStatus{Header: md.Header{Venue: "binance", Symbol: "BTC-USDT"},
				State: md.BookValid, Seq: r.seq})
		}
	}
	// A second instrument reaches the wildcard subscriber only.
	r2 := newRef(2, "okx", "ETH-USDT")
	w.g.PublishBookUpdate(r2.snapshot(10))
	for range 300 {
		w.g.PublishBookUpdate(r2.delta())
	}
	sync()
	if b := books["book:okx:ETH-USDT@3"]; b == nil || len(books) != 6 {
		t.Fatalf("books %v", slices.Collect(maps.Keys(books)))
	} else {
		checkBook(t, b, r2)
	}
}

// TestBookSlowClientResnapshot: a client that stops reading is not disconnected from its
// book channel; it is told it fell behind (slow_consumer) and, once it reads again, gets
// a fresh snapshot after which its book equals the truth.
func TestBookSlowClientResnapshot(t *testing.T) {
	w := newGateway(t, stream.Config{ClientQueueBytes: 64 << 10, WriteTimeout: 20 * time.Second})
	ctx := ctxT(t)
	r := newRef(3, "binance", "BTC-USDT")
	w.g.PublishBookUpdate(r.snapshot(300))
	// A smallish receive buffer makes the socket fill sooner (too small a window makes
	// draining crawl).
	d := &websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
		}
		return c, err
	}}
	c, err := Dial(ctx, w.url, Options{Buffer: 4, Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(ctx, "book:binance:BTC-USDT@300", "trades:*:*"); err != nil {
		t.Fatal(err)
	}
	// Nobody calls Next: the client's buffer fills, its socket fills, its queue overflows.
	for i := 0; i%100 != 0 || w.gauge("tickflow_gateway_book_resnapshots_total") == 0; i++ {
		if i > 500_000 {
			t.Fatal("queue never overflowed")
		}
		w.g.PublishBookUpdate(r.delta())
	}
	for range 2000 {
		w.g.PublishBookUpdate(r.delta())
	}
	w.g.PublishTrade(trade("x", "MARK", 1, "1", "1"))
	books := map[string]*Book{}
	statuses := consume(t, c, books, 1)
	if !slices.Contains(statuses, "book:binance:BTC-USDT@300 slow_consumer") {
		t.Fatalf("no slow_consumer note: %v", statuses)
	}
	// The resync snapshot follows once the client caught up; then it is in sync.
	w.g.PublishTrade(trade("x", "MARK", 2, "1", "1"))
	consume(t, c, books, 2)
	checkBook(t, books["book:binance:BTC-USDT@300"], r)
	for range 200 {
		w.g.PublishBookUpdate(r.delta())
	}
	w.g.PublishTrade(trade("x", "MARK", 3, "1", "1"))
	consume(t, c, books, 3)
	checkBook(t, books["book:binance:BTC-USDT@300"], r)
	if v := w.gauge("tickflow_gateway_slow_consumer_disconnects_total"); v != 0 {
		t.Fatalf("disconnected: %v", v)
	}
}

// TestBookAfterReconnect: a reconnect invalidates the Book until the restored
// subscription's snapshot, which brings it back in sync.
func TestBookAfterReconnect(t *testing.T) {
	w := newGateway(t, stream.Config{})
	p := newProxy(t, strings.TrimPrefix(w.srv.URL, "http://"))
	ctx := ctxT(t)
	r := newRef(4, "binance", "BTC-USDT")
	w.g.PublishBookUpdate(r.snapshot(20))
	c, err := Dial(ctx, p.url(), Options{Reconnect: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(ctx, "book:binance:BTC-USDT@10", "trades:*:*"); err != nil {
		t.Fatal(err)
	}
	b := NewBook("book:binance:BTC-USDT@10")
	books := map[string]*Book{b.Channel(): b}
	w.g.PublishTrade(trade("x", "MARK", 1, "1", "1"))
	consume(t, c, books, 1)
	checkBook(t, b, r)
	p.set(true, "")
	p.cut()
	waitFor(t, "gateway to drop the client", func() bool { return w.gauge("tickflow_gateway_clients") == 0 })
	for range 50 {
		w.g.PublishBookUpdate(r.delta())
	}
	p.set(false, "")
	m := next(t, c)
	if m.Type != TypeReconnected {
		t.Fatalf("want reconnected, got %+v", m)
	}
	b.Apply(&m)
	if b.Valid() {
		t.Fatal("book valid right after reconnect")
	}
	waitFor(t, "re-subscription", func() bool { return w.gauge("tickflow_gateway_subscriptions") == 2 })
	w.g.PublishTrade(trade("x", "MARK", 2, "1", "1"))
	consume(t, c, books, 2)
	checkBook(t, b, r)
}
