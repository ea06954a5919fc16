package normalizer

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/tickflow/tickflow/collectors/binance"
	"github.com/tickflow/tickflow/md"
)

// TestOffline: the offline normalizer runs the live normalizer's logic on records handed to
// it: events come out encoded with the requested parser version, trade-id dedup applies,
// and a malformed record goes to Reject with its reason instead of a dead-letter topic.
func TestOffline(t *testing.T) {
	type emitted struct {
		kind md.Kind
		t    md.Trade
	}
	var got []emitted
	var rejected []string
	dec := md.NewDecoder()
	off := NewOffline(binance.Connector{}, OfflineConfig{
		ParserVersion: 9,
		Emit: func(kind md.Kind, val []byte) error {
			e := emitted{kind: kind}
			if kind == md.KindTrade {
				if err := dec.DecodeTrade(&e.t, val); err != nil {
					t.Fatal(err)
				}
			}
			got = append(got, e)
			return nil
		},
		Reject: func(rec *md.RawRecord, reason string, err error) {
			rejected = append(rejected, reason+"|"+err.Error())
		},
	})
	if off.ParserVersion() != 9 {
		t.Fatalf("parser version %d, want 9", off.ParserVersion())
	}
	seq := uint64(0)
	feed := func(typ md.RawType, meta, frame string) {
		seq++
		rec := md.RawRecord{Type: typ, Dir: md.DirIn, Venue: venue, Conn: slot, Epoch: 1, Seq: seq, RecvTime: t0 + int64(seq),
			Meta: []byte(meta), Frame: []byte(frame)}
		if err := off.Process(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
	}
	trade := func(id int) string {
		return `{"e":"trade","E":1,"s":"BTCUSDT","t":` + strconv.Itoa(id) + `,"p":"1.00","q":"1.00000","T":1,"m":false}`
	}
	feed(md.RawREST, "200 /api/v3/exchangeInfo", exchangeInfo)
	feed(md.RawFrame, "", trade(5))
	feed(md.RawFrame, "", trade(5)) // duplicate id: dropped
	feed(md.RawFrame, "", `{"e":"trade","s":"BTCUSDT","t":6,"p":"x","q":"1","T":1}`)
	feed(md.RawFrame, "", trade(6))
	var ids []uint64
	for _, e := range got {
		if e.kind != md.KindTrade {
			continue
		}
		if e.t.ParserVersion != 9 {
			t.Errorf("trade %d parser version %d, want 9", e.t.ID.Num, e.t.ParserVersion)
		}
		ids = append(ids, e.t.ID.Num)
	}
	if len(ids) != 2 || ids[0] != 5 || ids[1] != 6 {
		t.Fatalf("trades %v, want [5 6] (the duplicate dropped)", ids)
	}
	if len(rejected) != 1 || !strings.HasPrefix(rejected[0], "binance: trade price _: md:") {
		t.Fatalf("rejected %q, want one bad-price rejection with its reason", rejected)
	}
	if off.Counts()["trade"] != 2 {
		t.Fatalf("counts %v, want 2 trades", off.Counts())
	}
}
