package normalizer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/tickflow/tickflow/collectors/binance"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// kafka-go keeps idle connection reapers on its default transport.
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}

const (
	venue = "binance"
	slot  = "trade-0"
	// t0 is a realistic receive time base, Unix ns.
	t0 int64 = 1795307795000000000
	// exchangeInfo for BTCUSDT (tick 0.01, step 0.00001) and PEPEUSDT (tick 1e-8, step 1), in
	// the documented shape (fields tickflow does not read left out).
	exchangeInfo = `{"timezone":"UTC","serverTime":1795307795368,"symbols":[` +
		`{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT","filters":[` +
		`{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},` +
		`{"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"}]},` +
		`{"symbol":"PEPEUSDT","status":"TRADING","baseAsset":"PEPE","quoteAsset":"USDT","filters":[` +
		`{"filterType":"PRICE_FILTER","minPrice":"0.00000001","maxPrice":"1.00000000","tickSize":"0.00000001"},` +
		`{"filterType":"LOT_SIZE","minQty":"1.00","maxQty":"92141578000000.00","stepSize":"1.00"}]}]}`
)

func ms(n int) int64 { return t0 + int64(n)*1e6 }

// exchTime is the exchange time given to trade id in the test frames (ms resolution).
func exchTime(id uint64) int64 { return (1795307700000 + int64(id)) * 1e6 }

// rawBuilder appends the records of one connection epoch with consecutive seqs.
type rawBuilder struct {
	recs  []md.RawRecord
	epoch uint64
	seq   uint64
}

func (b *rawBuilder) epochStart(epoch uint64) { b.epoch, b.seq = epoch, 0 }

func (b *rawBuilder) add(typ md.RawType, dir md.Direction, recv int64, meta, frame string) *rawBuilder {
	b.seq++
	r := md.RawRecord{Type: typ, Dir: dir, Venue: venue, Conn: slot, Epoch: b.epoch, Seq: b.seq, RecvTime: recv, Frame: []byte(frame)}
	if meta != "" {
		r.Meta = []byte(meta)
	}
	b.recs = append(b.recs, r)
	return b
}

func (b *rawBuilder) connect(recv int64) *rawBuilder {
	b.add(md.RawConnect, md.DirLocal, recv, "url=ws://sim/stream", "")
	return b.add(md.RawSubscribe, md.DirLocal, recv, "symbols=BTCUSDT,PEPEUSDT", "")
}

func (b *rawBuilder) trade(recv int64, sym string, id uint64, price, qty string) *rawBuilder {
	f := fmt.Sprintf(`{"stream":"%s@trade","data":{"e":"trade","E":%d,"s":"%s","t":%d,"p":"%s","q":"%s","T":%d,"m":%t,"M":true}}`,
		strings.ToLower(sym), exchTime(id)/1e6+1, sym, id, price, qty, exchTime(id)/1e6, id%2 == 0)
	return b.add(md.RawFrame, md.DirIn, recv, "", f)
}

func btc(b *rawBuilder, recv int64, id uint64) *rawBuilder {
	return b.trade(recv, "BTCUSDT", id, fmt.Sprintf("65000.%02d000000", id%100), "0.01000000")
}

func pepe(b *rawBuilder, recv int64, id uint64) *rawBuilder {
	return b.trade(recv, "PEPEUSDT", id, "0.00001234", "123456789012.00")
}

// restTrades records a REST trade list response for ids [from, to].
func (b *rawBuilder) restTrades(recv int64, path, sym string, from, to uint64) *rawBuilder {
	var items []string
	for id := from; id <= to; id++ {
		price, qty := fmt.Sprintf("65000.%02d000000", id%100), "0.01000000"
		if sym == "PEPEUSDT" {
			price, qty = "0.00001234", "123456789012.00"
		}
		items = append(items, fmt.Sprintf(`{"id":%d,"price":"%s","qty":"%s","quoteQty":"1","time":%d,"isBuyerMaker":%t,"isBestMatch":true}`,
			id, price, qty, exchTime(id)/1e6, id%2 == 0))
	}
	meta := "200 " + path + "?symbol=" + sym
	if path == "/api/v3/historicalTrades" {
		meta += fmt.Sprintf("&fromId=%d&limit=%d", from, to-from+1)
	} else {
		meta += "&limit=100"
	}
	return b.add(md.RawREST, md.DirIn, recv, meta, "["+strings.Join(items, ",")+"]")
}

// broker is an embedded Kafka with the binance topics.
type broker struct {
	b       *transport.Embedded
	brokers []string
	raw     *transport.Producer
}

func startBroker(t *testing.T, ctx context.Context) *broker {
	t.Helper()
	e, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	br := &broker{b: e, brokers: []string{e.Addr()}}
	if err := transport.EnsureTopics(ctx, br.brokers, transport.Topics([]string{venue}, transport.TopicDefaults{})); err != nil {
		t.Fatal(err)
	}
	br.raw, err = transport.NewProducer(transport.ProducerConfig{Brokers: br.brokers}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = br.raw.Close(context.Background()) })
	return br
}

// writeRaw produces raw records to tickflow.raw.binance and waits for them to be stored.
func (br *broker) writeRaw(t *testing.T, ctx context.Context, recs []md.RawRecord) {
	t.Helper()
	for i := range recs {
		if err := br.raw.Produce(ctx, transport.RawTopic(venue), recs[i].Key(nil), md.AppendRaw(nil, &recs[i]), func(err error) {
			if err != nil {
				t.Errorf("raw record not stored: %v", err)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := br.raw.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// running is a Normalizer running on its own goroutine.
type running struct {
	n      *Normalizer
	reg    *prometheus.Registry
	prod   *transport.Producer
	cancel context.CancelFunc
	done   chan error
}

func (br *broker) startNormalizer(t *testing.T) *running {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: br.brokers}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{reg: prometheus.NewRegistry(), prod: prod, done: make(chan error, 1)}
	r.n = New(Config{Brokers: br.brokers, CheckpointEvery: 100 * time.Millisecond}, binance.Connector{}, prod, NewMetrics(r.reg), log)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.n.Run(ctx) }()
	return r
}

// stop cancels Run, waits for its final checkpoint and closes the producer.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("normalizer Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("normalizer did not stop")
	}
	if err := r.prod.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// waitCaughtUp waits until a checkpoint covers every raw record written so far (checkpoints
// are written after the events before them are acknowledged).
func (br *broker) waitCaughtUp(t *testing.T, ctx context.Context, r *running) state {
	t.Helper()
	ends, err := transport.EndOffsets(ctx, br.brokers, transport.RawTopic(venue))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-r.done:
			t.Fatalf("normalizer stopped: %v", err)
		default:
		}
		b, err := LatestCheckpoint(ctx, br.brokers, venue)
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			var st state
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("checkpoint %s: %v", b, err)
			}
			caught := true
			for p, end := range ends {
				if end > 0 && st.Offsets[p] != end {
					caught = false
				}
			}
			if caught {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("normalizer did not catch up with raw ends %v", ends)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readTopic returns every message of a topic, all partitions.
func (br *broker) readTopic(t *testing.T, ctx context.Context, topic string) []transport.Message {
	t.Helper()
	ends, err := transport.EndOffsets(ctx, br.brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	var offs []transport.Offset
	var total int64
	for p, end := range ends {
		if end > 0 {
			offs = append(offs, transport.Offset{Topic: topic, Partition: p, Next: transport.OffsetOldest})
			total += end
		}
	}
	if total == 0 {
		return nil
	}
	c := transport.NewConsumer(transport.ConsumerConfig{Brokers: br.brokers, Name: "test-read"}, nil, slog.New(slog.DiscardHandler))
	defer c.Close()
	if err := c.Assign(offs); err != nil {
		t.Fatal(err)
	}
	var out []transport.Message
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for int64(len(out)) < total {
		msgs, err := c.Poll(rctx, 1000)
		if err != nil {
			t.Fatalf("read %s after %d of %d: %v", topic, len(out), total, err)
		}
		for _, m := range msgs {
			m.Key, m.Value = slices.Clone(m.Key), slices.Clone(m.Value)
			out = append(out, m)
		}
	}
	return out
}

type tradeKey struct {
	symbol string
	id     uint64
}

func decodeTrades(t *testing.T, msgs []transport.Message) ([]md.Trade, map[tradeKey]int) {
	t.Helper()
	dec := md.NewDecoder()
	var out []md.Trade
	count := map[tradeKey]int{}
	for _, m := range msgs {
		var tr md.Trade
		if err := dec.DecodeTrade(&tr, m.Value); err != nil {
			t.Fatalf("trade message: %v", err)
		}
		if string(m.Key) != tr.Venue+"/"+tr.Symbol {
			t.Errorf("trade key %q for %s/%s", m.Key, tr.Venue, tr.Symbol)
		}
		out = append(out, tr)
		count[tradeKey{tr.Symbol, tr.ID.Num}]++
	}
	return out, count
}

func decodeIntegrity(t *testing.T, msgs []transport.Message) []md.Integrity {
	t.Helper()
	dec := md.NewDecoder()
	var out []md.Integrity
	for _, m := range msgs {
		var e md.Integrity
		if err := dec.DecodeIntegrity(&e, m.Value); err != nil {
			t.Fatalf("integrity message: %v", err)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prov.Compare(out[j].Prov) < 0 })
	return out
}

func metricSum(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				ok := false
				for _, lp := range m.GetLabel() {
					ok = ok || lp.GetName() == k && lp.GetValue() == v
				}
				if !ok {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func wantIDs(sym string, ids ...uint64) []tradeKey {
	var out []tradeKey
	for _, id := range ids {
		out = append(out, tradeKey{sym, id})
	}
	return out
}

// TestNormalizerEndToEnd writes a recorded Binance session into raw on an embedded broker and
// runs the normalizer over it, then stops it, appends more raw and runs a new normalizer that
// resumes from the checkpoint. It checks: each trade is emitted exactly once although raw holds
// duplicated frames and overlapping REST backfills; an id jump emits a gap event and its
// backfill a backfill event; a reconnect emits a disconnect window per subscribed symbol from
// the old epoch's last inbound record to the new epoch's connect; a malformed frame is
// dead-lettered with its reason; and the restarted normalizer emits nothing twice.
func TestNormalizerEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br := startBroker(t, ctx)

	const e1, e2, e3 = uint64(1795307790000000000), uint64(1795307800000000000), uint64(1795307810000000000)
	var b rawBuilder
	b.epochStart(e1)
	b.connect(ms(1))
	b.add(md.RawREST, md.DirIn, ms(3), "200 /api/v3/exchangeInfo", exchangeInfo)
	b.add(md.RawFrame, md.DirOut, ms(4), "", `{"id":1,"method":"SUBSCRIBE","params":["btcusdt@trade","pepeusdt@trade"]}`)
	b.add(md.RawFrame, md.DirIn, ms(5), "", `{"result":null,"id":1}`)
	btc(&b, ms(6), 100)
	btc(&b, ms(7), 101)
	btc(&b, ms(8), 101) // duplicated frame
	pepe(&b, ms(9), 500)
	btc(&b, ms(10), 102)
	btc(&b, ms(11), 105)                                                                                                  // jump: gap 103..104
	b.add(md.RawFrame, md.DirIn, ms(12), "", `{"stream":"btcusdt@trade","data":{"e":"trade","E":1795307795389,"s":"BTCU`) // malformed
	malformedSeq := b.seq
	pepe(&b, ms(13), 501)
	b.restTrades(ms(14), "/api/v3/historicalTrades", "BTCUSDT", 103, 104) // fills the gap
	b.restTrades(ms(15), "/api/v3/historicalTrades", "BTCUSDT", 101, 105) // overlaps: all duplicates
	btc(&b, ms(16), 106)                                                  // last inbound record of e1
	b.add(md.RawDisconnect, md.DirLocal, ms(17), "reason=eof", "")

	b.epochStart(e2)
	b.connect(ms(30))
	b.add(md.RawREST, md.DirIn, ms(31), "200 /api/v3/exchangeInfo", exchangeInfo)
	btc(&b, ms(32), 106) // already emitted in e1
	btc(&b, ms(33), 107)
	pepe(&b, ms(34), 502)
	b.restTrades(ms(35), "/api/v3/trades", "PEPEUSDT", 500, 502) // tail check: all duplicates
	phase1 := len(b.recs)
	br.writeRaw(t, ctx, b.recs)

	n1 := br.startNormalizer(t)
	st := br.waitCaughtUp(t, ctx, n1)
	n1.stop(t)

	trades, count := decodeTrades(t, br.readTopic(t, ctx, transport.TopicTrades))
	want := append(wantIDs("BTC-USDT", 100, 101, 102, 103, 104, 105, 106, 107), wantIDs("PEPE-USDT", 500, 501, 502)...)
	checkOnce(t, "after the first run", count, want)
	for _, tr := range trades {
		backfill := tr.Symbol == "BTC-USDT" && (tr.ID.Num == 103 || tr.ID.Num == 104)
		if (tr.Source == md.SourceBackfill) != backfill || tr.ParserVersion != binance.ParserVersion || tr.ExchTime != exchTime(tr.ID.Num) {
			t.Errorf("trade %s %d: source %v parser %d exch %d", tr.Symbol, tr.ID.Num, tr.Source, tr.ParserVersion, tr.ExchTime)
		}
	}
	if got := metricSum(t, n1.reg, "tickflow_normalizer_duplicates_total", map[string]string{"kind": "trade"}); got != 10 {
		t.Errorf("duplicates_total = %v, want 10 (1 frame, 5 overlapping backfill, 1 re-sent, 3 tail check)", got)
	}

	ints := decodeIntegrity(t, br.readTopic(t, ctx, transport.TopicIntegrity))
	wantInts := []md.Integrity{
		{Header: md.Header{Venue: venue, Symbol: "BTC-USDT", RecvTime: ms(11), Prov: md.Provenance{Epoch: e1, Seq: 11}},
			Type: md.IntegrityGap, Stream: md.KindTrade, From: exchTime(102), To: exchTime(105), FirstID: 103, LastID: 104, Count: 2},
		{Header: md.Header{Venue: venue, Symbol: "BTC-USDT", RecvTime: ms(14), Prov: md.Provenance{Epoch: e1, Seq: 14, Index: 2}, Source: md.SourceBackfill},
			Type: md.IntegrityBackfill, Stream: md.KindTrade, From: exchTime(103), To: exchTime(103), FirstID: 103, LastID: 104, Count: 2},
		{Header: md.Header{Venue: venue, Symbol: "BTC-USDT", RecvTime: ms(30), Prov: md.Provenance{Epoch: e2, Seq: 1, Index: 0}},
			Type: md.IntegrityDisconnect, Stream: md.KindTrade, From: ms(16), To: ms(30)},
		{Header: md.Header{Venue: venue, Symbol: "PEPE-USDT", RecvTime: ms(30), Prov: md.Provenance{Epoch: e2, Seq: 1, Index: 1}},
			Type: md.IntegrityDisconnect, Stream: md.KindTrade, From: ms(16), To: ms(30)},
	}
	checkIntegrity(t, "after the first run", ints, wantInts)

	// The malformed frame is on the dead-letter topic, whole, with its reason.
	checkDeadLetter(t, ctx, br, malformedSeq)
	if got := metricSum(t, n1.reg, "tickflow_normalizer_deadletter_total", nil); got != 1 {
		t.Errorf("deadletter_total = %v, want 1", got)
	}
	if got := metricSum(t, n1.reg, "tickflow_normalizer_disconnects_total", nil); got != 1 {
		t.Errorf("disconnects_total = %v, want 1", got)
	}
	if st.Counts["trade"] != 11 || st.Counts["integrity"] != 4 {
		t.Errorf("checkpoint counts %v, want 11 trades, 4 integrity", st.Counts)
	}

	// Phase 2: more raw, and a new normalizer on the same broker that resumes from the
	// checkpoint. The first new record ends e2, so the disconnect window of e3 starts at e2's
	// last inbound record, known only from the checkpointed slot state; e3 carries no
	// exchangeInfo, so its trades parse only with the checkpointed instruments.
	b.recs = b.recs[:0]
	b.add(md.RawDisconnect, md.DirLocal, ms(36), "reason=close_1000", "")
	b.epochStart(e3)
	b.connect(ms(60))
	btc(&b, ms(62), 108)
	btc(&b, ms(63), 107) // duplicate of phase 1
	pepe(&b, ms(64), 503)
	btc(&b, ms(65), 111)                                                  // jump: gap 109..110
	b.restTrades(ms(66), "/api/v3/historicalTrades", "BTCUSDT", 108, 111) // 109, 110 fill; 108, 111 duplicates
	br.writeRaw(t, ctx, b.recs)

	n2 := br.startNormalizer(t)
	st = br.waitCaughtUp(t, ctx, n2)
	n2.stop(t)

	_, count = decodeTrades(t, br.readTopic(t, ctx, transport.TopicTrades))
	want = append(want, tradeKey{"BTC-USDT", 108}, tradeKey{"BTC-USDT", 109}, tradeKey{"BTC-USDT", 110}, tradeKey{"BTC-USDT", 111},
		tradeKey{"PEPE-USDT", 503})
	checkOnce(t, "after the restart", count, want)
	if got := metricSum(t, n2.reg, "tickflow_normalizer_records_total", nil); got != float64(len(b.recs)) {
		t.Errorf("restarted normalizer processed %v records, want only the %d new ones (phase 1 had %d)", got, len(b.recs), phase1)
	}
	if got := metricSum(t, n2.reg, "tickflow_normalizer_duplicates_total", map[string]string{"kind": "trade"}); got != 3 {
		t.Errorf("duplicates_total after restart = %v, want 3", got)
	}
	ints = decodeIntegrity(t, br.readTopic(t, ctx, transport.TopicIntegrity))
	wantInts = append(wantInts,
		md.Integrity{Header: md.Header{Venue: venue, Symbol: "BTC-USDT", RecvTime: ms(60), Prov: md.Provenance{Epoch: e3, Seq: 1, Index: 0}},
			Type: md.IntegrityDisconnect, Stream: md.KindTrade, From: ms(35), To: ms(60)},
		md.Integrity{Header: md.Header{Venue: venue, Symbol: "PEPE-USDT", RecvTime: ms(60), Prov: md.Provenance{Epoch: e3, Seq: 1, Index: 1}},
			Type: md.IntegrityDisconnect, Stream: md.KindTrade, From: ms(35), To: ms(60)},
		md.Integrity{Header: md.Header{Venue: venue, Symbol: "BTC-USDT", RecvTime: ms(65), Prov: md.Provenance{Epoch: e3, Seq: 6}},
			Type: md.IntegrityGap, Stream: md.KindTrade, From: exchTime(108), To: exchTime(111), FirstID: 109, LastID: 110, Count: 2},
		md.Integrity{Header: md.Header{Venue: venue, Symbol: "BTC-USDT", RecvTime: ms(66), Prov: md.Provenance{Epoch: e3, Seq: 7, Index: 4}, Source: md.SourceBackfill},
			Type: md.IntegrityBackfill, Stream: md.KindTrade, From: exchTime(109), To: exchTime(109), FirstID: 109, LastID: 110, Count: 2},
	)
	checkIntegrity(t, "after the restart", ints, wantInts)
	if st.Counts["trade"] != 16 || st.Counts["integrity"] != 8 {
		t.Errorf("checkpoint counts %v, want 16 trades, 8 integrity", st.Counts)
	}
	if got := n2.n.Counts(); got["trade"] != 16 {
		t.Errorf("Counts() = %v", got)
	}
	if seq := st.Trades["BTC-USDT"]; seq == nil || seq.Hi != 111 || len(seq.Gaps) != 0 {
		t.Errorf("BTC-USDT trade state %+v, want hi 111 and no gaps", seq)
	}
}

func checkOnce(t *testing.T, when string, count map[tradeKey]int, want []tradeKey) {
	t.Helper()
	for k, n := range count {
		if n != 1 {
			t.Errorf("%s: trade %s %d emitted %d times", when, k.symbol, k.id, n)
		}
		if !slices.Contains(want, k) {
			t.Errorf("%s: unexpected trade %s %d", when, k.symbol, k.id)
		}
	}
	for _, k := range want {
		if count[k] == 0 {
			t.Errorf("%s: trade %s %d missing", when, k.symbol, k.id)
		}
	}
}

func checkIntegrity(t *testing.T, when string, got, want []md.Integrity) {
	t.Helper()
	sort.Slice(want, func(i, j int) bool { return want[i].Prov.Compare(want[j].Prov) < 0 })
	if len(got) != len(want) {
		for _, e := range got {
			t.Logf("got %s %s %+v", e.Type, e.Symbol, e)
		}
		t.Fatalf("%s: %d integrity events, want %d", when, len(got), len(want))
	}
	for i := range want {
		w := want[i]
		w.ParserVersion = binance.ParserVersion
		if got[i] != w {
			t.Errorf("%s: integrity event %d:\n got %+v\nwant %+v", when, i, got[i], w)
		}
	}
}

// checkDeadLetter reads tickflow.md.deadletter with kafka-go (transport.Message has no
// headers) and checks the one record there.
func checkDeadLetter(t *testing.T, ctx context.Context, br *broker, seq uint64) {
	t.Helper()
	ends, err := transport.EndOffsets(ctx, br.brokers, transport.TopicDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	part := -1
	for p, end := range ends {
		total += end
		if end > 0 {
			part = p
		}
	}
	if total != 1 {
		t.Fatalf("dead-letter topic holds %d records, want 1", total)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: br.brokers, Topic: transport.TopicDeadLetter, Partition: part, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := r.ReadMessage(rctx)
	if err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{}
	for _, h := range m.Headers {
		headers[h.Key] = string(h.Value)
	}
	if !strings.Contains(headers["reason"], "invalid JSON") {
		t.Errorf("dead letter reason %q", headers["reason"])
	}
	if headers["source_topic"] != transport.RawTopic(venue) {
		t.Errorf("dead letter source_topic %q", headers["source_topic"])
	}
	if string(m.Key) != venue+"/"+slot {
		t.Errorf("dead letter key %q", m.Key)
	}
	var rec md.RawRecord
	if err := md.NewDecoder().DecodeRaw(&rec, m.Value); err != nil {
		t.Fatalf("dead letter value is not the raw envelope: %v", err)
	}
	if rec.Seq != seq || !strings.HasSuffix(string(rec.Frame), `"s":"BTCU`) {
		t.Errorf("dead letter holds seq %d %q", rec.Seq, rec.Frame)
	}
}

// TestNormalizerDisconnectAcrossEmptyEpoch: a connection that came up and went down again
// without receiving anything must not shorten the outage. Data is missing from the last inbound
// record of the first epoch until the third epoch connected; the disconnect windows emitted
// for each symbol must cover all of it.
func TestNormalizerDisconnectAcrossEmptyEpoch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br := startBroker(t, ctx)

	var b rawBuilder
	b.epochStart(1795307790000000000)
	b.connect(ms(1))
	b.add(md.RawREST, md.DirIn, ms(2), "200 /api/v3/exchangeInfo", exchangeInfo)
	btc(&b, ms(3), 100) // last inbound record before the outage
	b.add(md.RawDisconnect, md.DirLocal, ms(4), "reason=eof", "")
	b.epochStart(1795307800000000000)
	b.connect(ms(20)) // connected, then dropped before any response
	b.add(md.RawDisconnect, md.DirLocal, ms(21), "reason=eof", "")
	b.epochStart(1795307810000000000)
	b.connect(ms(40))
	b.add(md.RawREST, md.DirIn, ms(41), "200 /api/v3/exchangeInfo", exchangeInfo)
	btc(&b, ms(42), 101)
	br.writeRaw(t, ctx, b.recs)

	n := br.startNormalizer(t)
	br.waitCaughtUp(t, ctx, n)
	n.stop(t)

	covered := map[string][][2]int64{}
	for _, e := range decodeIntegrity(t, br.readTopic(t, ctx, transport.TopicIntegrity)) {
		if e.Type == md.IntegrityDisconnect {
			covered[e.Symbol] = append(covered[e.Symbol], [2]int64{e.From, e.To})
		}
	}
	for _, sym := range []string{"BTC-USDT", "PEPE-USDT"} {
		if !coversWindow(covered[sym], ms(3), ms(40)) {
			t.Fatalf("%s disconnect windows %v do not cover the outage [%d, %d]: normalizer.track resets "+
				"LastRecv at every epoch change and skips the window when the ending epoch had no inbound record",
				sym, covered[sym], ms(3), ms(40))
		}
	}
}

// coversWindow reports whether the union of windows covers [from, to].
func coversWindow(ws [][2]int64, from, to int64) bool {
	sort.Slice(ws, func(i, j int) bool { return ws[i][0] < ws[j][0] })
	at := from
	for _, w := range ws {
		if w[0] > at {
			break
		}
		at = max(at, w[1])
	}
	return at >= to
}
