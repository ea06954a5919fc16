package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tickflow/tickflow/archive"
	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/collectors/binance"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink/duckdb"
	"github.com/tickflow/tickflow/transport"
)

// fixedBinance is the Binance connector after a simulated parser fix: version 2 reports every
// trade as a buy (version 1, the real parser, reads the side from "m").
type fixedBinance struct{ binance.Connector }

func (fixedBinance) ParserVersion() uint16        { return 2 }
func (fixedBinance) NewParser() collectors.Parser { return &fixedParser{binance.NewParser()} }

type fixedParser struct{ *binance.Parser }

func (p *fixedParser) Parse(rec *md.RawRecord, out *collectors.Output) error {
	err := p.Parser.Parse(rec, out)
	for i := range out.Trades {
		out.Trades[i].Side = md.SideBuy
	}
	return err
}

const renormT0 = int64(1795307795000000000)

// renormRecords returns a Binance capture: connect, exchangeInfo, subscribe, then trades
// t=1..40 (odd ids taker buys, even ids taker sells), one record per millisecond.
func renormRecords() []md.RawRecord {
	const epoch = uint64(renormT0)
	mk := func(seq uint64, typ md.RawType, dir md.Direction, meta, frame string) md.RawRecord {
		return md.RawRecord{Type: typ, Dir: dir, Venue: "binance", Conn: "stream-0", Epoch: epoch, Seq: seq,
			RecvTime: renormT0 + int64(seq)*int64(time.Millisecond), Meta: []byte(meta), Frame: []byte(frame)}
	}
	recs := []md.RawRecord{
		mk(1, md.RawConnect, md.DirLocal, "", ""),
		mk(2, md.RawREST, md.DirIn, "200 /api/v3/exchangeInfo", `{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"},{"filterType":"LOT_SIZE","stepSize":"0.00001"}]}]}`),
		mk(3, md.RawSubscribe, md.DirLocal, "symbols=BTCUSDT", ""),
	}
	for id := 1; id <= 40; id++ {
		seq := uint64(3 + id)
		ms := (renormT0 + int64(seq)*int64(time.Millisecond)) / 1e6
		recs = append(recs, mk(seq, md.RawFrame, md.DirIn, "", fmt.Sprintf(
			`{"stream":"btcusdt@trade","data":{"e":"trade","E":%d,"s":"BTCUSDT","t":%d,"p":"50000.%02d","q":"0.01000","T":%d,"m":%t}}`,
			ms, id, id, ms, id%2 == 0)))
	}
	return recs
}

// tradeRecv is the receive time of the record of trade id.
func tradeRecv(id int) int64 { return renormT0 + int64(3+id)*int64(time.Millisecond) }

func setRetention(t *testing.T, brokers []string, ms string) {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	res, err := cl.IncrementalAlterConfigs(context.Background(), &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{ResourceType: kafka.ResourceTypeTopic,
			ResourceName: transport.RawTopic("binance"), Configs: []kafka.IncrementalAlterConfigsRequestConfig{{
				Name: "retention.ms", Value: ms, ConfigOperation: kafka.ConfigOperationSet}}}}})
	if err != nil || res.Resources[0].Error != nil {
		t.Fatalf("set retention: %v %v", err, res)
	}
}

func produceRaw(t *testing.T, p *transport.Producer, recs []md.RawRecord) {
	t.Helper()
	for i := range recs {
		if err := p.Produce(context.Background(), transport.RawTopic("binance"), recs[i].Key(nil), md.AppendRaw(nil, &recs[i]), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRenormalizeFromArchiveAndTopic: rows stored with parser v1; the first half of the raw
// history is then only in the archive (deleted from the topic by retention) and the second
// half only in the topic. Re-normalizing a time range across both with a fixed parser (v2)
// must make the views show v2 rows for exactly the ids in the range — including ids read
// from the archive — with the fix applied, the v1 rows elsewhere, and the row counts of the
// views unchanged. A version not above the stored one is refused.
func TestRenormalizeFromArchiveAndTopic(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	broker, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir(), RetentionInterval: time.Hour}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	brokers := []string{broker.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics([]string{"binance"}, transport.TopicDefaults{RawPartitions: 2})[:1]); err != nil {
		t.Fatal(err)
	}
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(context.Background())
	recs := renormRecords()
	half := 3 + 20 // markers + trades 1..20

	// 1. First half produced and archived, then deleted from the topic by retention.
	produceRaw(t, prod, recs[:half])
	dataDir := t.TempDir()
	arch, err := archive.New(archive.Config{Dir: filepath.Join(dataDir, "archive"), Brokers: brokers, Venues: []string{"binance"},
		FlushEvery: 10 * time.Millisecond, NoGuard: true})
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- arch.Run(actx) }()
	waitFor(t, 30*time.Second, "first half archived", func() bool { return archivedCount(t, filepath.Join(dataDir, "archive")) == half })
	acancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	setRetention(t, brokers, "1")
	waitFor(t, 10*time.Second, "retention to delete the archived half", func() bool {
		time.Sleep(5 * time.Millisecond)
		broker.ApplyRetention()
		spans, err := archive.RawOffsets(ctx, brokers, "binance")
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range spans {
			if sp.First != sp.End {
				return false
			}
		}
		return true
	})
	setRetention(t, brokers, "86400000")
	// 2. Second half only in the topic.
	produceRaw(t, prod, recs[half:])

	// 3. Rows with parser v1 (what the live pipeline stored).
	reg1 := collectors.NewRegistry()
	reg1.Register(binance.Connector{})
	base := renormOptions{store: storeFlags{dataDir: dataDir}, kafkaBrokers: brokers[0], venues: "binance"}
	o1 := base
	o1.parserVersion = 1
	var out bytes.Buffer
	if err := renormalize(ctx, o1, reg1, log, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "trade             40       40") {
		t.Fatalf("v1 run did not store 40 trades:\n%s", out.String())
	}
	before := viewRows(t, dataDir)

	// 4. The fix, over trades 11..30 (11..20 only in the archive, 21..30 only in the topic).
	reg2 := collectors.NewRegistry()
	reg2.Register(fixedBinance{})
	o2 := base
	o2.parserVersion = 2
	o2.from, o2.to = strconv.FormatInt(tradeRecv(11), 10), strconv.FormatInt(tradeRecv(31), 10)
	out.Reset()
	if err := renormalize(ctx, o2, reg2, log, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "trade             40       20          0           20") || strings.Contains(out.String(), "holes") {
		t.Fatalf("v2 run: want 40 trades emitted, 20 stored, 20 out of range, no holes:\n%s", out.String())
	}
	after := viewRows(t, dataDir)
	if len(after) != 40 || len(before) != 40 {
		t.Fatalf("trades_v has %d rows after, %d before; want 40 both", len(after), len(before))
	}
	for id := 1; id <= 40; id++ {
		wantV, wantSide := "1", "buy"
		if id%2 == 0 {
			wantSide = "sell"
		}
		if id >= 11 && id <= 30 {
			wantV, wantSide = "2", "buy"
		}
		if got := after[id]; got != wantV+"/"+wantSide {
			t.Errorf("trade %d in trades_v: %s, want %s/%s", id, got, wantV, wantSide)
		}
	}

	// 5. The same version again (or an older one) is refused, unless resuming an interrupted
	// run, which stores nothing twice.
	err = renormalize(ctx, o2, reg2, log, &out)
	if err == nil || !strings.Contains(err.Error(), "not above the version 2 already stored") {
		t.Fatalf("re-running with version 2: err %v, want a refusal", err)
	}
	o3 := o2
	o3.resume = true
	out.Reset()
	if err := renormalize(ctx, o3, reg2, log, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "trade             40        0         20           20") {
		t.Fatalf("--resume after a complete run: want 0 stored, 20 duplicates:\n%s", out.String())
	}
	o3.parserVersion = 3
	if err := renormalize(ctx, o3, reg2, log, &out); err == nil || !strings.Contains(err.Error(), "pass --parser-version 2") {
		t.Fatalf("--resume with another version: err %v, want a refusal naming version 2", err)
	}
}

// archivedCount counts the records archived for binance (all partitions).
func archivedCount(t *testing.T, root string) int {
	parts, err := archive.Partitions(root, "binance")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range parts {
		r, err := archive.OpenPartition(root, "binance", p)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
			n++
		}
		r.Close()
	}
	return n
}

// viewRows returns trades_v as trade id -> "parser_version/side".
func viewRows(t *testing.T, dataDir string) map[int]string {
	t.Helper()
	st, err := duckdb.OpenReadOnly(context.Background(), filepath.Join(dataDir, "tickflow.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Query(context.Background(), "SELECT trade_id_num, parser_version, side::VARCHAR FROM trades_v")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, r := range rows.Values {
		out[int(r[0].(uint64))] = fmt.Sprintf("%v/%v", r[1], r[2])
	}
	return out
}
