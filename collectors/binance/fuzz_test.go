package binance

import (
	"bytes"
	"testing"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
)

// FuzzParse feeds arbitrary records to a parser that knows the testdata instruments. Parse
// must never panic; every trade it returns must be well-formed: a known instrument, prices and
// quantities at the instrument's scales whose text re-parses to the same value, provenance
// from the record with the trade's index; BBOs and book levels at the instrument's scales.
//
//	go test ./collectors/binance/ -run '^$' -fuzz FuzzParse -fuzztime 30s
func FuzzParse(f *testing.F) {
	for _, path := range testdataCases(f) {
		for _, lr := range loadJSONL(f, path) {
			f.Add(uint8(lr.Rec.Type), uint8(lr.Rec.Dir), string(lr.Rec.Meta), lr.Rec.Frame)
		}
	}
	f.Add(uint8(md.RawFrame), uint8(md.DirIn), "", tradeFrame("BTCUSDT", "18446744073709551615", "-0.01", "-0"))
	f.Add(uint8(md.RawFrame), uint8(md.DirIn), "", []byte(`{"data":{"e":"trade","s":"PEPEUSDT","t":0,"p":"+0.00000001","q":"9223372036854775807"}}`))
	f.Add(uint8(md.RawREST), uint8(md.DirIn), "200 /api/v3/trades?symbol=PEPEUSDT", []byte(`[{"id":1,"price":"0.1","qty":"1"},{}]`))

	ei := exchangeInfoRecord(f)
	f.Fuzz(func(t *testing.T, typ, dir uint8, meta string, frame []byte) {
		p := NewParser()
		var out collectors.Output
		if err := p.Parse(&ei, &out); err != nil {
			t.Fatal(err)
		}
		rec := md.RawRecord{Type: md.RawType(typ), Dir: md.Direction(dir), Venue: Venue, Conn: "trade-0",
			Epoch: 77, Seq: 5, RecvTime: 99, Meta: []byte(meta), Frame: frame}
		keep := bytes.Clone(frame)
		out.Reset()
		if err := p.Parse(&rec, &out); err != nil {
			return
		}
		if !bytes.Equal(frame, keep) {
			t.Fatal("Parse modified the frame")
		}
		for i := range out.Instruments {
			// (Nameless instruments are accepted today: see TestExchangeInfoRejectsNamelessSymbol.)
			if in := &out.Instruments[i]; in.Venue != Venue || in.Symbol == "" {
				t.Fatalf("instrument %+v", in)
			}
		}
		knownScales := func(sym string) (price, qty uint8, ok bool) {
			for _, native := range []string{"BTCUSDT", "PEPEUSDT"} {
				if c := p.Instrument(native); c != nil && c.Symbol == sym {
					return c.PriceScale(), c.QtyScale(), true
				}
			}
			return 0, 0, false
		}
		reparse := func(what string, d md.Decimal, scale uint8) {
			back, err := md.ParseDecimal(d.AppendText(nil), d.Scale)
			if err != nil || back != d || d.Scale != scale {
				t.Fatalf("%s %v (scale %d, want %d) does not re-parse: %v, %v", what, d, d.Scale, scale, back, err)
			}
		}
		for i := range out.BBOs {
			q := &out.BBOs[i]
			ps, qs, ok := knownScales(q.Symbol)
			if !ok || q.Venue != Venue || q.Prov != (md.Provenance{Epoch: 77, Seq: 5, Index: uint32(i)}) {
				t.Fatalf("bbo %d: %+v", i, q)
			}
			reparse("bid", q.BidPrice, ps)
			reparse("ask", q.AskPrice, ps)
			reparse("bid qty", q.BidQty, qs)
			reparse("ask qty", q.AskQty, qs)
		}
		for i := range out.Books {
			m := &out.Books[i]
			ps, qs, ok := knownScales(m.Symbol)
			if !ok || m.Venue != Venue || m.Prov.Epoch != 77 || m.Prov.Seq != 5 {
				t.Fatalf("book %d: %+v", i, m.Header)
			}
			if m.Snapshot && m.FirstID != m.LastID {
				t.Fatalf("snapshot with ids %d..%d", m.FirstID, m.LastID)
			}
			for _, l := range append(append([]md.Level(nil), m.Bids...), m.Asks...) {
				reparse("level price", l.Price, ps)
				reparse("level qty", l.Qty, qs)
			}
		}
		for i := range out.Trades {
			tr := &out.Trades[i]
			var in *md.Instrument
			for _, native := range []string{"BTCUSDT", "PEPEUSDT"} {
				if c := p.Instrument(native); c != nil && c.Symbol == tr.Symbol {
					in = c
				}
			}
			for j := range out.Instruments {
				if out.Instruments[j].Symbol == tr.Symbol {
					in = &out.Instruments[j]
				}
			}
			if in == nil {
				t.Fatalf("trade of unknown instrument %q", tr.Symbol)
			}
			if tr.Venue != Venue || tr.RecvTime != 99 || tr.Prov != (md.Provenance{Epoch: 77, Seq: 5, Index: uint32(i)}) {
				t.Fatalf("trade %d header %+v", i, tr.Header)
			}
			if !tr.ID.IsNumeric() || (tr.Side != md.SideBuy && tr.Side != md.SideSell) {
				t.Fatalf("trade %d id %v side %v", i, tr.ID, tr.Side)
			}
			if tr.Price.Scale != in.PriceScale() || tr.Qty.Scale != in.QtyScale() {
				t.Fatalf("trade %d scales %d/%d, instrument %d/%d", i, tr.Price.Scale, tr.Qty.Scale, in.PriceScale(), in.QtyScale())
			}
			for _, d := range []md.Decimal{tr.Price, tr.Qty} {
				back, err := md.ParseDecimal(d.AppendText(nil), d.Scale)
				if err != nil || back != d {
					t.Fatalf("trade %d: %v does not re-parse: %v, %v", i, d, back, err)
				}
			}
			if rec.Type == md.RawFrame && tr.Source != md.SourceLive || rec.Type == md.RawREST && tr.Source != md.SourceBackfill {
				t.Fatalf("trade %d source %v from a %v record", i, tr.Source, rec.Type)
			}
		}
	})
}
