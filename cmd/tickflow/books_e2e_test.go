package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	binancesim "github.com/tickflow/tickflow/collectors/sim/binance"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/stream/client"
	"github.com/tickflow/tickflow/transport"
)

// refBook is the test's own book, built only from what the pipeline published.
type refBook struct {
	bids, asks map[int64]md.Level // by price mantissa
	seq        uint64
	valid      bool
}

func (b *refBook) apply(ls []md.Level, side map[int64]md.Level) {
	for _, l := range ls {
		if l.Qty.Mant == 0 {
			delete(side, l.Price.Mant)
		} else {
			side[l.Price.Mant] = l
		}
	}
}

// top returns the best n levels of a side as canonical decimal strings.
func top(side map[int64]md.Level, n int, desc bool) [][2]string {
	ps := make([]int64, 0, len(side))
	for p := range side {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool {
		if desc {
			return ps[i] > ps[j]
		}
		return ps[i] < ps[j]
	})
	if len(ps) > n {
		ps = ps[:n]
	}
	out := make([][2]string, len(ps))
	for i, p := range ps {
		l := side[p]
		out[i] = [2]string{string(binancesim.AppendCanonicalDecimal(nil, l.Price.String())),
			string(binancesim.AppendCanonicalDecimal(nil, l.Qty.String()))}
	}
	return out
}

// TestEndToEndBooksMatchExchange runs the pipeline against the simulator with every
// order-book fault injected (gaps, drops, duplicates, reordering, garbled frames, delayed
// snapshots, disconnects) and checks every book message the pipeline publishes as valid
// against the exchange's own top-N hash for the same update id: zero mismatches. It also
// checks the unified sequence is contiguous per instrument and reports how long books spent
// invalid per fault (at most 2 s each).
func TestEndToEndBooksMatchExchange(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end book run skipped in -short mode")
	}
	const hashDepth = 20
	var bookLog syncBuffer
	sim, err := binancesim.New(binancesim.Config{Seed: 11, Symbols: 4, TradeRate: 400, BookLog: &bookLog,
		BookHashDepth: hashDepth,
		Faults: binancesim.Faults{DepthGapRate: 0.003, DepthDropRate: 0.002, DepthDuplicateRate: 0.003,
			DepthReorderRate: 0.002, MalformedRate: 0.001, SnapshotDelay: 150 * time.Millisecond,
			DisconnectEvery: 12 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	// A fixed broker port: the pipeline is restarted halfway and the test's own consumer and
	// WebSocket client keep reading across the restart.
	brokerAddr := stablePort(t)
	runArgs := []string{"--binance-ws", "ws://" + sim.Addr(), "--binance-rest", "http://" + sim.Addr(),
		"--binance-channels", "trade,depth,bookTicker", "--binance-depth-limit", "100", "--read-timeout", "5s",
		"--broker-addr", brokerAddr}
	h := startPipeline(t, dir, runArgs...)
	restarted := false
	var restartFrom, restartTo int64
	defer func() { h.stop(t) }()

	// A WebSocket client of the gateway keeps depth-20 books of every symbol.
	type wsCheck struct {
		symbol string
		lastID uint64
		hash   uint64
	}
	wsChecks := make(chan []wsCheck, 1)
	wsCtx, wsCancel := context.WithCancel(context.Background())
	defer wsCancel()
	wc, err := client.Dial(wsCtx, "ws://"+h.info.HTTPAddr+"/ws", client.Options{Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	if err := wc.Subscribe(wsCtx, "book:binance:*@20"); err != nil {
		t.Fatal(err)
	}
	go func() {
		var out []wsCheck
		books := map[string]*client.Book{}
		for {
			m, err := wc.Next(wsCtx)
			if err != nil {
				wsChecks <- out
				return
			}
			if m.Type != client.TypeBookSnapshot && m.Type != client.TypeBookDelta && m.Type != client.TypeBookStatus {
				continue
			}
			b := books[m.Channel]
			if b == nil {
				b = client.NewBook(m.Channel)
				books[m.Channel] = b
			}
			if err := b.Apply(&m); err != nil || !b.Valid() || m.Type == client.TypeBookStatus || b.KnownDepth() < hashDepth {
				continue
			}
			conv := func(ls []md.Level) [][2]string {
				out := make([][2]string, 0, hashDepth)
				for i := 0; i < len(ls) && i < hashDepth; i++ {
					out = append(out, [2]string{string(binancesim.AppendCanonicalDecimal(nil, ls[i].Price.String())),
						string(binancesim.AppendCanonicalDecimal(nil, ls[i].Qty.String()))})
				}
				return out
			}
			out = append(out, wsCheck{m.Book.Symbol, m.Book.LastID, binancesim.HashTopN(conv(b.Bids()), conv(b.Asks()), hashDepth)})
		}
	}()

	// Read the unified books topic like any Kafka consumer would.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	parts, err := transport.Partitions(ctx, []string{h.info.Brokers}, transport.TopicBooks)
	if err != nil {
		t.Fatal(err)
	}
	cons := transport.NewConsumer(transport.ConsumerConfig{Brokers: []string{h.info.Brokers}, Name: "test"}, nil, nil)
	var offs []transport.Offset
	for _, p := range parts {
		offs = append(offs, transport.Offset{Topic: transport.TopicBooks, Partition: p, Next: transport.OffsetOldest})
	}
	if err := cons.Assign(offs); err != nil {
		t.Fatal(err)
	}
	defer cons.Close()

	type check struct {
		symbol string
		lastID uint64
		hash   uint64
		snap   bool
		nb, na int
	}
	var checks []check
	books := map[string]*refBook{}
	var invalidSince = map[string]int64{}
	var invalidDurations []time.Duration
	seqErrors, notKnown := 0, 0
	dec := md.NewDecoder()
	var u md.BookUpdate
	var st md.BookStatus
	runFor := 30 * time.Second
	end := time.Now().Add(runFor)
	for time.Now().Before(end) {
		if !restarted && time.Until(end) < runFor/2 {
			// Clean restart on the same data dir: books come back from their checkpoints and
			// continue their sequences (a book not restored would start again at seq 1).
			restartFrom = time.Now().UnixNano()
			h.stop(t)
			h = startPipeline(t, dir, runArgs...)
			restartTo = time.Now().UnixNano()
			restarted = true
		}
		msgs, err := cons.PollTimeout(ctx, 1000, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			k, _ := md.PeekKind(m.Value)
			switch k {
			case md.KindBookStatus:
				if err := dec.DecodeBookStatus(&st, m.Value); err != nil {
					t.Fatal(err)
				}
				b := books[st.Symbol]
				if st.State == md.BookInvalid {
					if b != nil {
						b.valid = false
					}
					invalidSince[st.Symbol] = st.RecvTime
				} else if since, ok := invalidSince[st.Symbol]; ok {
					// Episodes spanning the deliberate restart are downtime, not fault recovery.
					if !(restartFrom != 0 && since < restartTo && st.RecvTime > restartFrom) {
						invalidDurations = append(invalidDurations, time.Duration(st.RecvTime-since))
					}
					delete(invalidSince, st.Symbol)
				}
			case md.KindBookUpdate:
				if err := dec.DecodeBookUpdate(&u, m.Value); err != nil {
					t.Fatal(err)
				}
				b := books[u.Symbol]
				if b == nil {
					b = &refBook{}
					books[u.Symbol] = b
				}
				if b.seq != 0 && u.Seq <= b.seq {
					continue // re-emitted after a restart from the checkpoint: already applied
				}
				if b.seq != 0 && u.Seq != b.seq+1 || u.PrevSeq != u.Seq-1 {
					seqErrors++
					t.Logf("%s: seq %d (prev %d) after %d", u.Symbol, u.Seq, u.PrevSeq, b.seq)
				}
				b.seq = u.Seq
				if u.Snapshot {
					b.bids, b.asks, b.valid = map[int64]md.Level{}, map[int64]md.Level{}, true
				} else if !b.valid {
					t.Fatalf("%s: delta seq %d published while the book is invalid", u.Symbol, u.Seq)
				}
				b.apply(u.Bids, b.bids)
				b.apply(u.Asks, b.asks)
				if u.Depth < hashDepth {
					notKnown++
					continue // fewer levels known right than the hash covers: a refresh is under way
				}
				checks = append(checks, check{u.Symbol, u.LastID,
					binancesim.HashTopN(top(b.bids, hashDepth, true), top(b.asks, hashDepth, false), hashDepth), u.Snapshot, len(b.bids), len(b.asks)})
			}
		}
	}
	sim.StopTrading()
	wsCancel()
	gw := <-wsChecks

	// The exchange's truth: "<NATIVE> <u> <hash>" per depth event.
	unified := unifiedOf(t, sim.Addr())
	truth := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(bookLog.Bytes()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		hv, err := strconv.ParseUint(f[2], 16, 64)
		if err != nil {
			t.Fatalf("book log line %q: %v", sc.Text(), err)
		}
		truth[unified[f[0]]+"/"+f[1]] = hv
	}
	compared, mismatches := 0, 0
	pattern := map[string][]byte{}
	for _, c := range checks {
		want, ok := truth[c.symbol+"/"+strconv.FormatUint(c.lastID, 10)]
		ch := byte('.')
		switch {
		case !ok:
			ch = '?'
		case want != c.hash && c.snap:
			ch = 'S'
		case want != c.hash:
			ch = 'x'
		case c.snap:
			ch = 's'
		}
		pattern[c.symbol] = append(pattern[c.symbol], ch)
	}
	for sym, p := range pattern {
		t.Logf("%s: %s", sym, p)
	}
	for _, c := range checks {
		want, ok := truth[c.symbol+"/"+strconv.FormatUint(c.lastID, 10)]
		if !ok {
			continue // a snapshot taken between two depth events has no log line
		}
		compared++
		if want != c.hash {
			mismatches++
			if mismatches <= 5 {
				t.Errorf("%s at update %d: book hash %x, exchange %x", c.symbol, c.lastID, c.hash, want)
			}
		}
	}
	stats := sim.Stats()
	t.Logf("book messages %d (+%d with fewer than %d levels known right), compared with the exchange %d, mismatches %d; seq errors %d; faults: %+v",
		len(checks), notKnown, hashDepth, compared, mismatches, seqErrors, stats)
	if compared < 200 {
		t.Fatalf("only %d book states compared; the run produced too little", compared)
	}
	if mismatches != 0 || seqErrors != 0 {
		t.Fatalf("%d mismatches, %d sequence errors", mismatches, seqErrors)
	}
	wsCompared, wsMismatches := 0, 0
	for _, c := range gw {
		want, ok := truth[c.symbol+"/"+strconv.FormatUint(c.lastID, 10)]
		if !ok {
			continue
		}
		wsCompared++
		if want != c.hash {
			wsMismatches++
		}
	}
	t.Logf("gateway client books: %d states compared with the exchange, %d mismatches", wsCompared, wsMismatches)
	if wsCompared < 100 || wsMismatches != 0 {
		t.Fatalf("gateway books: %d compared, %d mismatches", wsCompared, wsMismatches)
	}
	// The store alone rebuilds each book (book_at) to a state the exchange had.
	storeCompared := 0
	for sym := range books {
		rows, err := query(h.info.HTTPAddr, fmt.Sprintf(
			"SELECT side, price_mant, price_scale, qty_mant, qty_scale, book_seq, known_depth, valid FROM book_at('binance', '%s', TIMESTAMP_NS '2100-01-01 00:00:00', %d) ORDER BY side, level", sym, hashDepth))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 || rows[0][7] != "true" {
			continue
		}
		var bids, asks [][2]string
		for _, r := range rows {
			pm, _ := strconv.ParseInt(r[1], 10, 64)
			ps, _ := strconv.Atoi(r[2])
			qm, _ := strconv.ParseInt(r[3], 10, 64)
			qs, _ := strconv.Atoi(r[4])
			lv := [2]string{string(binancesim.AppendCanonicalDecimal(nil, md.Decimal{Mant: pm, Scale: uint8(ps)}.String())),
				string(binancesim.AppendCanonicalDecimal(nil, md.Decimal{Mant: qm, Scale: uint8(qs)}.String()))}
			if r[0] == "bid" {
				bids = append(bids, lv)
			} else {
				asks = append(asks, lv)
			}
		}
		idRows, err := query(h.info.HTTPAddr, fmt.Sprintf(
			"SELECT last_id, depth FROM book_updates WHERE venue = 'binance' AND symbol = '%s' AND book_seq = %s", sym, rows[0][5]))
		if err != nil || len(idRows) != 1 {
			t.Fatalf("book_updates for %s seq %s: %v %v", sym, rows[0][5], idRows, err)
		}
		if d, _ := strconv.Atoi(idRows[0][1]); d < hashDepth {
			continue
		}
		want, ok := truth[sym+"/"+idRows[0][0]]
		if !ok {
			continue
		}
		storeCompared++
		if got := binancesim.HashTopN(bids, asks, hashDepth); got != want {
			t.Errorf("%s rebuilt from the store at book seq %s: hash %x, exchange %x", sym, rows[0][5], got, want)
		}
	}
	t.Logf("books rebuilt from the store alone and matched with the exchange: %d of %d symbols", storeCompared, len(books))
	if storeCompared == 0 {
		t.Error("no book could be rebuilt from the store and compared")
	}
	sort.Slice(invalidDurations, func(i, j int) bool { return invalidDurations[i] < invalidDurations[j] })
	if n := len(invalidDurations); n > 0 {
		t.Logf("books invalid %d times: median %s, max %s", n, invalidDurations[n/2], invalidDurations[n-1])
		if invalidDurations[n-1] > 2*time.Second {
			t.Errorf("a book stayed invalid for %s (> 2s)", invalidDurations[n-1])
		}
	} else {
		t.Error("no fault made a book invalid: the fault injection did not reach the books")
	}
}

// stablePort returns a free loopback address below the ephemeral port range: a client
// retrying a closed ephemeral port can self-connect to it (same source and destination port)
// and occupy it, so a restarted server could not bind it again.
func stablePort(t *testing.T) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		addr := "127.0.0.1:" + strconv.Itoa(20000+int(time.Now().UnixNano()%10000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}
