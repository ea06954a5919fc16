// Command loadgen produces test input for the service integration tests of cmd/tickflow
// (services_integration_test.go) at a steady rate, as its own process so the race-built test
// binary does not limit the rate: unified trades (-mode unified, the sink's input, encoded
// with the md codec) or raw Binance frames (-mode raw, the normalizer's input: connect and
// subscribe markers, an exchangeInfo response, one trade per frame). Ids are dense: symbol i
// gets seq (unified) or trade id (raw) 1..n_i. It stops at -count events or on SIGTERM,
// flushes, and prints a JSON report with n_i per symbol and the failures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

type report struct {
	Acked     int64            `json:"acked"`
	Failed    int64            `json:"failed"`
	PerSymbol map[string]int64 `json:"per_symbol"` // unified symbol -> n (ids 1..n)
	Seconds   float64          `json:"seconds"`
	Rate      float64          `json:"rate"`
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "Kafka brokers")
	mode := flag.String("mode", "unified", "unified (trades for the sink) or raw (Binance frames for the normalizer)")
	venue := flag.String("venue", "loadgen", "venue of unified trades")
	prefix := flag.String("prefix", "S", "symbol prefix (unique per test run)")
	symbols := flag.Int("symbols", 16, "symbols")
	rate := flag.Int("rate", 10000, "events per second")
	count := flag.Int64("count", 0, "stop after this many events (0: until SIGTERM)")
	epoch := flag.Uint64("epoch", uint64(time.Now().UnixNano()), "provenance epoch (raw: connection epoch)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	bs := strings.Split(*brokers, ",")
	if err := transport.EnsureTopics(context.Background(), bs, transport.Topics([]string{"binance"}, transport.TopicDefaults{})); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: bs}, nil, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	var acked, failed atomic.Int64
	done := func(err error) {
		if err != nil {
			failed.Add(1)
		} else {
			acked.Add(1)
		}
	}
	names := make([]string, *symbols)
	for i := range names {
		names[i] = fmt.Sprintf("%s%d", *prefix, i)
	}
	per := make([]int64, *symbols)
	rep := report{PerSymbol: map[string]int64{}}
	start := time.Now()
	var rawSeq uint64
	produceRaw := func(typ md.RawType, dir md.Direction, meta, frame string) error {
		rawSeq++
		r := md.RawRecord{Type: typ, Dir: dir, Venue: "binance", Conn: "trade-0", Epoch: *epoch, Seq: rawSeq,
			RecvTime: time.Now().UnixNano(), Frame: []byte(frame)}
		if meta != "" {
			r.Meta = []byte(meta)
		}
		return prod.Produce(context.Background(), transport.RawTopic("binance"), r.Key(nil), md.AppendRaw(nil, &r), done)
	}
	if *mode == "raw" {
		var infos, natives []string
		for _, n := range names {
			infos = append(infos, fmt.Sprintf(`{"symbol":"%sUSDT","status":"TRADING","baseAsset":"%s","quoteAsset":"USDT","filters":[`+
				`{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},`+
				`{"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"}]}`, n, n))
			natives = append(natives, n+"USDT")
		}
		for _, step := range []struct {
			typ        md.RawType
			dir        md.Direction
			meta, body string
		}{
			{md.RawConnect, md.DirLocal, "url=ws://loadgen/stream", ""},
			{md.RawSubscribe, md.DirLocal, "symbols=" + strings.Join(natives, ","), ""},
			{md.RawREST, md.DirIn, "200 /api/v3/exchangeInfo", `{"timezone":"UTC","serverTime":1795307795368,"symbols":[` + strings.Join(infos, ",") + `]}`},
		} {
			if err := produceRaw(step.typ, step.dir, step.meta, step.body); err != nil {
				fmt.Fprintln(os.Stderr, "loadgen:", err)
				os.Exit(1)
			}
		}
		acked.Add(-3) // markers are not events
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	perTick := max(1, *rate/100)
	var sent int64
	var val []byte
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		for range perTick {
			if *count > 0 && sent >= *count {
				break loop
			}
			i := int(sent % int64(*symbols))
			per[i]++
			id := uint64(per[i])
			var err error
			if *mode == "raw" {
				now := time.Now().UnixMilli()
				f := fmt.Sprintf(`{"stream":"%s@trade","data":{"e":"trade","E":%d,"s":"%s","t":%d,"p":"65000.%02d","q":"0.01000","T":%d,"m":%t,"M":true}}`,
					strings.ToLower(names[i])+"usdt", now, names[i]+"USDT", id, id%100, now, id%2 == 0)
				err = produceRaw(md.RawFrame, md.DirIn, "", f)
			} else {
				tr := md.Trade{Header: md.Header{Venue: *venue, Symbol: names[i], RecvTime: time.Now().UnixNano(),
					Prov: md.Provenance{Epoch: *epoch, Seq: id}, ParserVersion: 1},
					ID: md.NumericID(id), Price: md.Decimal{Mant: 6500000 + int64(id%100), Scale: 2}, Qty: md.Decimal{Mant: 1, Scale: 3}}
				val = md.AppendTrade(val[:0:0], &tr)
				err = prod.Produce(context.Background(), transport.TopicTrades, []byte(*venue+"/"+names[i]), val, done)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "loadgen: produce:", err)
				failed.Add(1)
			}
			sent++
		}
	}
	fctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := prod.Close(fctx); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: close:", err)
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.Acked, rep.Failed = acked.Load(), failed.Load()
	rep.Rate = float64(sent) / rep.Seconds
	for i, n := range names {
		if *mode == "raw" {
			rep.PerSymbol[n+"-USDT"] = per[i]
		} else {
			rep.PerSymbol[n] = per[i]
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(&rep)
}
