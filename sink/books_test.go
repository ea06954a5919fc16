package sink

import (
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

func bookUpdate(symbol string, seq uint64, nb, na int) md.BookUpdate {
	u := md.BookUpdate{Header: md.Header{Venue: "binance", Symbol: symbol, RecvTime: 1e18 + int64(seq),
		Prov: md.Provenance{Epoch: 1, Seq: seq}, ParserVersion: 1},
		Snapshot: seq == 1, Seq: seq, PrevSeq: seq - 1, FirstID: seq * 10, LastID: seq*10 + 9, Depth: 1000}
	for i := range nb {
		u.Bids = append(u.Bids, md.Level{Price: md.Decimal{Mant: 1000 - int64(i) - int64(seq), Scale: 2},
			Qty: md.Decimal{Mant: int64(seq*100) + int64(i), Scale: 3}})
	}
	for i := range na {
		u.Asks = append(u.Asks, md.Level{Price: md.Decimal{Mant: 1001 + int64(i) + int64(seq), Scale: 2},
			Qty: md.Decimal{Mant: int64(seq*100) + int64(i), Scale: 3}})
	}
	return u
}

func bookStatus(symbol string, seq uint64, state md.BookState) md.BookStatus {
	return md.BookStatus{Header: md.Header{Venue: "binance", Symbol: symbol, RecvTime: 5,
		Prov: md.Provenance{Epoch: 1, Seq: seq}, ParserVersion: 1},
		State: state, Reason: md.IntegrityGap, Seq: seq}
}

func bbo(symbol string, seq uint64) md.BBO {
	return md.BBO{Header: md.Header{Venue: "binance", Symbol: symbol, RecvTime: 7,
		Prov: md.Provenance{Epoch: 1, Seq: seq}, ParserVersion: 1},
		BidPrice: md.Decimal{Mant: 100, Scale: 1}, BidQty: md.Decimal{Mant: 3},
		AskPrice: md.Decimal{Mant: 101, Scale: 1}, AskQty: md.Decimal{Mant: 4}, UpdateID: seq}
}

// TestDecodeBookKinds decodes every book kind into a batch and checks each event, levels
// included, survives later decodes (the level arena grows and earlier updates keep their
// levels) and Reset.
func TestDecodeBookKinds(t *testing.T) {
	dec := md.NewDecoder()
	var b Batch
	all := storedKinds(bookStore{newMemStore()})
	for round := range 3 {
		var books []md.BookUpdate
		var sts []md.BookStatus
		var bbos []md.BBO
		for i := range uint64(40) {
			// Sizes vary per round so the arena must grow, and some updates have no levels.
			u := bookUpdate("BTC-USDT", i+1, int(i%7)*(round+1), int(i%3)*(round+2))
			st := bookStatus("ETH-USDT", i+1, md.BookState(1+i%2))
			q := bbo("SOL-USDT", i+1)
			books, sts, bbos = append(books, u), append(sts, st), append(bbos, q)
			for _, v := range [][]byte{md.AppendBookUpdate(nil, &u), md.AppendBookStatus(nil, &st),
				md.AppendBBO(nil, &q)} {
				if reason, err := decodeInto(dec, &b, all, v); err != nil {
					t.Fatalf("round %d: decode: %s %v", round, reason, err)
				}
			}
		}
		if b.Len() != 120 || b.Levels() != levelsOf(books) {
			t.Fatalf("round %d: len %d levels %d", round, b.Len(), b.Levels())
		}
		for i := range books {
			if !equalBooks(&b.Books[i], &books[i]) {
				t.Fatalf("round %d: book %d\n got %+v\nwant %+v", round, i, b.Books[i], books[i])
			}
		}
		if !reflect.DeepEqual(b.BookStatus, sts) || !reflect.DeepEqual(b.BBOs, bbos) {
			t.Fatalf("round %d: statuses or BBOs differ", round)
		}
		b.Reset()
		if b.Len() != 0 || b.Levels() != 0 {
			t.Fatalf("after reset: len %d levels %d", b.Len(), b.Levels())
		}
	}
}

func levelsOf(us []md.BookUpdate) int {
	n := 0
	for i := range us {
		n += len(us[i].Bids) + len(us[i].Asks)
	}
	return n
}

// equalBooks compares two updates, treating nil and empty level slices alike.
func equalBooks(a, b *md.BookUpdate) bool {
	x, y := *a, *b
	x.Bids, x.Asks, y.Bids, y.Asks = nil, nil, nil, nil
	return reflect.DeepEqual(x, y) && slices.Equal(a.Bids, b.Bids) && slices.Equal(a.Asks, b.Asks)
}

// TestDecodeBooksDoesNotAllocate: once a batch has grown to a stream's needs, decoding the
// next batch of book updates, statuses and BBOs allocates nothing.
func TestDecodeBooksDoesNotAllocate(t *testing.T) {
	dec := md.NewDecoder()
	var vals [][]byte
	for i := range uint64(200) {
		u := bookUpdate([]string{"BTC-USDT", "ETH-USDT"}[i%2], i+1, 1+int(i%20), 1+int(i%13))
		st := bookStatus("BTC-USDT", i+1, md.BookValid)
		q := bbo("BTC-USDT", i+1)
		vals = append(vals, md.AppendBookUpdate(nil, &u), md.AppendBookStatus(nil, &st), md.AppendBBO(nil, &q))
	}
	var b Batch
	all := storedKinds(bookStore{newMemStore()})
	run := func() {
		b.Reset()
		for _, v := range vals {
			if _, err := decodeInto(dec, &b, all, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	run() // grow
	if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
		t.Fatalf("decoding a batch of book events allocates %v times", allocs)
	}
}

// TestBatchReleasesHugeArena: a batch of exceptionally many levels does not pin its memory.
func TestBatchReleasesHugeArena(t *testing.T) {
	var b Batch
	u := bookUpdate("BTC-USDT", 1, maxArenaLevels/2+1, maxArenaLevels/2+1)
	b.addBook(&u)
	b.Reset()
	if cap(b.levels) != 0 {
		t.Fatalf("arena of %d levels kept", cap(b.levels))
	}
	small := bookUpdate("BTC-USDT", 1, 10, 10)
	b.addBook(&small)
	c := cap(b.levels)
	b.Reset()
	if cap(b.levels) != c {
		t.Fatal("small arena not kept")
	}
}

func TestDecodeBookKindsRejects(t *testing.T) {
	dec := md.NewDecoder()
	all := storedKinds(bookStore{newMemStore()})
	noVenue := bookUpdate("BTC-USDT", 1, 2, 2)
	noVenue.Venue = ""
	zeroProv := bookStatus("BTC-USDT", 0, md.BookValid)
	zeroProv.Prov = md.Provenance{}
	noRecv := bbo("BTC-USDT", 1)
	noRecv.RecvTime = 0
	good := bookUpdate("BTC-USDT", 1, 3, 3)
	enc := md.AppendBookUpdate(nil, &good)
	cases := []struct {
		name   string
		value  []byte
		kinds  kindSet
		reason string
	}{
		{"book without venue", md.AppendBookUpdate(nil, &noVenue), all, ReasonInvalidHeader},
		{"status with zero provenance", md.AppendBookStatus(nil, &zeroProv), all, ReasonInvalidHeader},
		{"bbo without receive time", md.AppendBBO(nil, &noRecv), all, ReasonInvalidHeader},
		{"truncated book", enc[:len(enc)-2], all, ReasonTruncated},
		{"book for a store without books", enc, baseKinds, ReasonUnsupportedKind},
		{"candle", []byte{md.WireVersion, byte(md.KindCandle), 0}, all, ReasonUnsupportedKind},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b Batch
			reason, err := decodeInto(dec, &b, tc.kinds, tc.value)
			if err == nil || reason != tc.reason {
				t.Fatalf("reason %q err %v, want %q", reason, err, tc.reason)
			}
			if b.Len() != 0 || len(b.levels) != 0 {
				t.Fatalf("batch changed: %+v", b)
			}
		})
	}
}

func TestStoredKinds(t *testing.T) {
	if k := storedKinds(newMemStore()); k != baseKinds {
		t.Fatalf("plain store kinds %b", k)
	}
	k := storedKinds(bookStore{newMemStore()})
	for _, kind := range []md.Kind{md.KindTrade, md.KindIntegrity, md.KindBookUpdate,
		md.KindBookStatus, md.KindBBO} {
		if !k.has(kind) {
			t.Errorf("book store does not get %s", kind)
		}
	}
	if k.has(md.KindCandle) || k.has(md.Kind(200)) {
		t.Error("kinds the Runner cannot decode")
	}
}

func TestKindCounts(t *testing.T) {
	a := KindCounts{Trades: 1, Integrity: 2, Books: 3, BookStatus: 4, BBOs: 5, Funding: 6,
		OpenInterest: 7, Liquidations: 8}
	if a.Total() != 36 || a.Add(a) != (KindCounts{Trades: 2, Integrity: 4, Books: 6,
		BookStatus: 8, BBOs: 10, Funding: 12, OpenInterest: 14, Liquidations: 16}) {
		t.Fatalf("total %d add %+v", a.Total(), a.Add(a))
	}
}

// TestRunnerStoresBooks: book updates and statuses from TopicBooks and BBOs from TopicBBO
// reach a store that stores them, deduplicated per kind, and are counted per kind; a store
// that does not declare them gets them dead-lettered instead.
func TestRunnerStoresBooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startWith(t, Config{MaxRows: 7, MaxDelay: time.Hour}, true)
		var books, bbos [][]byte
		for i := range uint64(10) {
			u := bookUpdate("BTC-USDT", i+1, 3, 2)
			books = append(books, md.AppendBookUpdate(nil, &u))
			if i%5 == 4 {
				st := bookStatus("BTC-USDT", i+1, md.BookInvalid)
				books = append(books, md.AppendBookStatus(nil, &st))
			}
			q := bbo("BTC-USDT", i+1)
			bbos = append(bbos, md.AppendBBO(nil, &q))
		}
		h.src.push(transport.TopicBooks, 0, books...)
		h.src.push(transport.TopicBBO, 1, bbos...)
		h.src.push(transport.TopicBooks, 0, books[3:6]...) // a replay: 2 updates, 1 status
		synctest.Wait()
		h.stop(t)
		m := h.runner.m
		for _, c := range []struct {
			name string
			got  float64
			want float64
		}{
			{"written{book}", testutil.ToFloat64(m.books.written), 10},
			{"duplicates{book}", testutil.ToFloat64(m.books.duplicates), 2},
			{"written{book_status}", testutil.ToFloat64(m.bookStatus.written), 2},
			{"duplicates{book_status}", testutil.ToFloat64(m.bookStatus.duplicates), 1},
			{"written{bbo}", testutil.ToFloat64(m.bbo.written), 10},
			{"book_levels_written", testutil.ToFloat64(m.levels), 50},
			{"messages", testutil.ToFloat64(m.messages), 25},
		} {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		h.store.mu.Lock()
		stored := h.store.books
		h.store.mu.Unlock()
		if len(stored) != 10 {
			t.Fatalf("%d books stored", len(stored))
		}
		for i := range stored {
			want := bookUpdate("BTC-USDT", uint64(i+1), 3, 2)
			if !equalBooks(&stored[i], &want) {
				t.Fatalf("book %d\n got %+v\nwant %+v", i, stored[i], want)
			}
		}
		_, _, off := h.store.snapshot()
		if off[transport.TopicPartition{Topic: transport.TopicBooks}] != 15 ||
			off[transport.TopicPartition{Topic: transport.TopicBBO, Partition: 1}] != 10 {
			t.Fatalf("offsets %v", off)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var dead []string
		h := start(t, Config{MaxDelay: time.Hour, DeadLetter: func(_ transport.Message, r string) {
			mu.Lock()
			dead = append(dead, r)
			mu.Unlock()
		}})
		u := bookUpdate("BTC-USDT", 1, 1, 1)
		h.src.push(transport.TopicBooks, 0, md.AppendBookUpdate(nil, &u))
		synctest.Wait()
		h.stop(t)
		mu.Lock()
		defer mu.Unlock()
		if len(dead) != 1 || dead[0][:len(ReasonUnsupportedKind)] != ReasonUnsupportedKind {
			t.Fatalf("dead letters %q", dead)
		}
	})
}
