package binance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
)

// Raw records in testdata/*.jsonl, one JSON object per line ('#' lines are comments):
//
//	{"type":"rest","dir":"in","meta":"200 /api/v3/exchangeInfo","frame":{...}}
//
// type is frame|rest|connect|disconnect|subscribe|resync|state, dir in|out|local. A frame that
// is a JSON value is the frame text verbatim; a JSON string holds text that is not JSON (or a
// JSON string frame, escaped). epoch defaults to testEpoch, seq counts records from 1 and
// recv_time defaults to testT0 + seq ms.
const (
	testEpoch uint64 = 1795307790000000000
	testT0    int64  = 1795307795000000000
)

type jsonlRecord struct {
	Type  string          `json:"type"`
	Dir   string          `json:"dir"`
	Conn  string          `json:"conn"`
	Epoch uint64          `json:"epoch"`
	Seq   uint64          `json:"seq"`
	Recv  int64           `json:"recv_time"`
	Meta  string          `json:"meta"`
	Frame json.RawMessage `json:"frame"`
}

var rawTypes = map[string]md.RawType{"frame": md.RawFrame, "rest": md.RawREST, "connect": md.RawConnect,
	"disconnect": md.RawDisconnect, "subscribe": md.RawSubscribe, "resync": md.RawResync, "state": md.RawState}

var dirs = map[string]md.Direction{"in": md.DirIn, "out": md.DirOut, "local": md.DirLocal}

// loadedRecord is a raw record with the testdata line it came from.
type loadedRecord struct {
	Line int
	Rec  md.RawRecord
}

// loadJSONL reads a testdata file of raw records.
func loadJSONL(tb testing.TB, path string) []loadedRecord {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []loadedRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var jr jsonlRecord
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&jr); err != nil {
			tb.Fatalf("%s:%d: %v", path, line, err)
		}
		typ, ok := rawTypes[jr.Type]
		if !ok {
			tb.Fatalf("%s:%d: unknown type %q", path, line, jr.Type)
		}
		dir, ok := dirs[jr.Dir]
		if !ok {
			tb.Fatalf("%s:%d: unknown dir %q", path, line, jr.Dir)
		}
		rec := md.RawRecord{Type: typ, Dir: dir, Venue: Venue, Conn: jr.Conn, Epoch: jr.Epoch, Seq: jr.Seq,
			RecvTime: jr.Recv, Meta: []byte(jr.Meta)}
		if rec.Conn == "" {
			rec.Conn = "trade-0"
		}
		if rec.Epoch == 0 {
			rec.Epoch = testEpoch
		}
		if rec.Seq == 0 {
			rec.Seq = uint64(len(out) + 1)
		}
		if rec.RecvTime == 0 {
			rec.RecvTime = testT0 + int64(rec.Seq)*1e6
		}
		if len(jr.Meta) == 0 {
			rec.Meta = nil
		}
		if len(jr.Frame) > 0 {
			if jr.Frame[0] == '"' {
				var s string
				if err := json.Unmarshal(jr.Frame, &s); err != nil {
					tb.Fatalf("%s:%d: frame: %v", path, line, err)
				}
				rec.Frame = []byte(s)
			} else {
				rec.Frame = append([]byte(nil), jr.Frame...)
			}
		}
		out = append(out, loadedRecord{Line: line, Rec: rec})
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return out
}

func testdataCases(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata/*.jsonl: %v", err)
	}
	return files
}

// formatRecord writes a record header line and what Parse made of it, as stable text.
func formatRecord(b *strings.Builder, line int, rec *md.RawRecord, out *collectors.Output, err error) {
	fmt.Fprintf(b, "line %d: %s %s seq=%d", line, rec.Type, dirName(rec.Dir), rec.Seq)
	if len(rec.Meta) > 0 {
		fmt.Fprintf(b, " meta=%q", rec.Meta)
	}
	b.WriteByte('\n')
	if err != nil {
		fmt.Fprintf(b, "\terror: %v\n", err)
		return
	}
	for i := range out.Instruments {
		b.WriteString("\t")
		b.WriteString(formatInstrument(&out.Instruments[i]))
		b.WriteByte('\n')
	}
	for i := range out.Trades {
		b.WriteString("\t")
		b.WriteString(formatTrade(&out.Trades[i]))
		b.WriteByte('\n')
	}
	for i := range out.BBOs {
		b.WriteString("\t")
		b.WriteString(formatBBO(&out.BBOs[i]))
		b.WriteByte('\n')
	}
	for i := range out.Books {
		b.WriteString("\t")
		b.WriteString(formatBook(&out.Books[i]))
		b.WriteByte('\n')
	}
}

func dirName(d md.Direction) string {
	switch d {
	case md.DirIn:
		return "in"
	case md.DirOut:
		return "out"
	}
	return "local"
}

func formatInstrument(in *md.Instrument) string {
	status := "listed"
	if in.Status != md.Listed {
		status = "delisted(" + strconv.Itoa(int(in.Status)) + ")"
	}
	return fmt.Sprintf("instrument %s %s native=%s kind=%s base=%s quote=%s tick=%s lot=%s status=%s valid_from=%d",
		in.Venue, in.Symbol, in.Native, in.Kind, in.Base, in.Quote, in.TickSize, in.LotSize, status, in.ValidFrom)
}

func formatTrade(t *md.Trade) string {
	return fmt.Sprintf("trade %s %s id=%s price=%s qty=%s side=%s source=%s exch=%d send=%d recv=%d prov=%d/%d/%d pv=%d",
		t.Venue, t.Symbol, t.ID.String(), t.Price, t.Qty, t.Side, t.Source, t.ExchTime, t.SendTime, t.RecvTime,
		t.Prov.Epoch, t.Prov.Seq, t.Prov.Index, t.ParserVersion)
}

func formatHeader(h *md.Header) string {
	return fmt.Sprintf("source=%s exch=%d send=%d recv=%d prov=%d/%d/%d", h.Source, h.ExchTime, h.SendTime, h.RecvTime,
		h.Prov.Epoch, h.Prov.Seq, h.Prov.Index)
}

func formatBBO(q *md.BBO) string {
	return fmt.Sprintf("bbo %s %s u=%d bid=%s@%s ask=%s@%s %s", q.Venue, q.Symbol, q.UpdateID, q.BidQty, q.BidPrice,
		q.AskQty, q.AskPrice, formatHeader(&q.Header))
}

func formatBook(m *collectors.BookMsg) string {
	levels := func(ls []md.Level) string {
		parts := make([]string, len(ls))
		for i, l := range ls {
			parts[i] = l.Qty.String() + "@" + l.Price.String()
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	kind := "delta"
	if m.Snapshot {
		kind = "snapshot"
	}
	return fmt.Sprintf("book %s %s %s ids=%d..%d prev=%d depth=%d bids=%s asks=%s %s", m.Venue, m.Symbol, kind,
		m.FirstID, m.LastID, m.PrevID, m.Depth, levels(m.Bids), levels(m.Asks), formatHeader(&m.Header))
}

// exchangeInfoRecord returns the exchangeInfo record of testdata/stream.jsonl (BTCUSDT and
// PEPEUSDT as binancesim serves them).
func exchangeInfoRecord(tb testing.TB) md.RawRecord {
	tb.Helper()
	for _, lr := range loadJSONL(tb, filepath.Join("testdata", "stream.jsonl")) {
		if lr.Rec.Type == md.RawREST && strings.HasSuffix(string(lr.Rec.Meta), "/api/v3/exchangeInfo") {
			return lr.Rec
		}
	}
	tb.Fatal("no exchangeInfo in testdata/stream.jsonl")
	return md.RawRecord{}
}

// loadedParser returns a parser that has seen the testdata exchangeInfo.
func loadedParser(tb testing.TB) *Parser {
	tb.Helper()
	p := NewParser()
	rec := exchangeInfoRecord(tb)
	var out collectors.Output
	if err := p.Parse(&rec, &out); err != nil {
		tb.Fatal(err)
	}
	if len(out.Instruments) != 2 {
		tb.Fatalf("exchangeInfo gave %d instruments, want 2", len(out.Instruments))
	}
	return p
}
