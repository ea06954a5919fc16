package rawjson

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tickflow/tickflow/md"
)

func TestDecodeLines(t *testing.T) {
	const t0 = 1795307795000000000
	tests := []struct {
		name   string
		lines  []string
		want   []md.RawRecord // one per accepted line
		reason []string       // per line: "" accepted, "skip", or the LineError reason
	}{
		{
			name: "derived epoch and seq, REST url to meta, markers default to local",
			lines: []string{
				`{"venue":"binance","conn":"c0","type":"connect","recv_time":1795307795000000000}`,
				`{"venue":"binance","conn":"c0","type":"rest","url":"https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5","recv_time":"2026-11-22T00:00:00Z","frame":{"lastUpdateId":1}}`,
				`{"venue":"binance","conn":"c0","recv_time":1795307795000000002,"frame":"{\"e\":\"trade\"}"}`,
				`# a comment`,
				``,
				`{"venue":"binance","conn":"c0","type":"connect","recv_time":1795307795000000003}`,
			},
			want: []md.RawRecord{
				{Type: md.RawConnect, Dir: md.DirLocal, Venue: "binance", Conn: "c0", Epoch: t0, Seq: 1, RecvTime: t0},
				{Type: md.RawREST, Dir: md.DirIn, Venue: "binance", Conn: "c0", Epoch: t0, Seq: 2, RecvTime: 1795305600000000000,
					Meta: []byte("200 /api/v3/depth?symbol=BTCUSDT&limit=5"), Frame: []byte(`{"lastUpdateId":1}`)},
				{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: "c0", Epoch: t0, Seq: 3, RecvTime: t0 + 2, Frame: []byte(`{"e":"trade"}`)},
				{Type: md.RawConnect, Dir: md.DirLocal, Venue: "binance", Conn: "c0", Epoch: t0 + 3, Seq: 1, RecvTime: t0 + 3},
			},
			reason: []string{"", "", "", "skip", "skip", ""},
		},
		{
			name: "explicit epoch and seq; backwards rejected without changing state",
			lines: []string{
				`{"venue":"binance","conn":"c1","epoch":10,"seq":5,"recv_time":1,"frame":"a"}`,
				`{"venue":"binance","conn":"c1","epoch":9,"seq":6,"recv_time":2,"frame":"b"}`,
				`{"venue":"binance","conn":"c1","epoch":10,"seq":5,"recv_time":3,"frame":"c"}`,
				`{"venue":"binance","conn":"c1","recv_time":4,"frame_base64":"AAE=","dir":"out"}`,
			},
			want: []md.RawRecord{
				{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: "c1", Epoch: 10, Seq: 5, RecvTime: 1, Frame: []byte("a")},
				{Type: md.RawFrame, Dir: md.DirOut, Venue: "binance", Conn: "c1", Epoch: 10, Seq: 6, RecvTime: 4, Frame: []byte{0, 1}},
			},
			reason: []string{"", ReasonEpochBackward, ReasonSeqBackward, ""},
		},
		{
			name: "malformed lines",
			lines: []string{
				`{"venue":"binance","conn":"c2","recv_time":1,"frame":"x"`,
				`{"conn":"c2","recv_time":1}`,
				`{"venue":"binance","conn":"c2","recv_time":"yesterday"}`,
				`{"venue":"binance","conn":"c2","recv_time":-5}`,
				`{"venue":"binance","conn":"c2","recv_time":1,"type":"bogus"}`,
				`{"venue":"binance","conn":"c2","recv_time":1,"dir":"sideways"}`,
				`{"venue":"binance","conn":"c2","recv_time":1,"frame":12}`,
				`{"venue":"binance","conn":"c2","recv_time":1,"frame_base64":"!!"}`,
				`{"venue":"binance","conn":"c2","recv_time":1,"type":"rest","frame":"{}"}`,
				`{"venue":"binance","conn":"c2","recv_time":1,"type":"rest","url":"::nope","frame":"{}"}`,
			},
			reason: []string{ReasonInvalidJSON, ReasonMissingField, ReasonBadRecvTime, ReasonBadRecvTime, ReasonBadType,
				ReasonBadDir, ReasonBadFrame, ReasonBadFrame, ReasonMissingField, ReasonBadURL},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			var got []md.RawRecord
			for i, l := range tc.lines {
				var rec md.RawRecord
				err := d.Decode([]byte(l), &rec)
				var le *LineError
				switch {
				case tc.reason[i] == "skip":
					if !errors.Is(err, ErrSkip) {
						t.Fatalf("line %d: err %v, want ErrSkip", i, err)
					}
				case tc.reason[i] == "":
					if err != nil {
						t.Fatalf("line %d: %v", i, err)
					}
					got = append(got, rec)
				case !errors.As(err, &le) || le.Reason != tc.reason[i]:
					t.Fatalf("line %d: err %v, want reason %s", i, err, tc.reason[i])
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !sameRecord(&got[i], &tc.want[i]) {
					t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func sameRecord(a, b *md.RawRecord) bool {
	return a.Type == b.Type && a.Dir == b.Dir && a.Venue == b.Venue && a.Conn == b.Conn && a.Epoch == b.Epoch &&
		a.Seq == b.Seq && a.RecvTime == b.RecvTime && bytes.Equal(a.Meta, b.Meta) && bytes.Equal(a.Frame, b.Frame)
}

func TestAppendLineRoundTrip(t *testing.T) {
	recs := []md.RawRecord{
		{Type: md.RawREST, Dir: md.DirIn, Venue: "binance", Conn: "c", Epoch: 7, Seq: 2, RecvTime: 9,
			Meta: []byte("200 /api/v3/exchangeInfo"), Frame: []byte(`{"symbols":[]}`)},
		{Type: md.RawSubscribe, Dir: md.DirLocal, Venue: "binance", Conn: "c", Epoch: 7, Seq: 3, RecvTime: 10, Meta: []byte("symbols=A,B")},
		{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: "c", Epoch: 7, Seq: 4, RecvTime: 11, Frame: []byte{0xff, 0, 'x'}},
	}
	var d Decoder
	for i := range recs {
		line := AppendLine(nil, &recs[i])
		var got md.RawRecord
		if err := d.Decode(line, &got); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if !sameRecord(&got, &recs[i]) {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v", line, got, recs[i])
		}
	}
}

// FuzzDecodeLine: no line panics; an accepted line re-encodes to a line that decodes to the
// same record.
func FuzzDecodeLine(f *testing.F) {
	for _, s := range []string{
		`{"venue":"binance","conn":"c0","type":"connect","recv_time":1795307795000000000}`,
		`{"venue":"binance","conn":"c0","type":"rest","url":"/api/v3/depth?symbol=BTCUSDT","status":200,"recv_time":"2026-11-22T00:00:00Z","frame":{"lastUpdateId":1}}`,
		`{"venue":"binance","conn":"c1","epoch":10,"seq":5,"recv_time":1,"frame_base64":"AAE="}`,
		`{"venue":"binance","conn":"c1","recv_time":1,"frame":"{\"e\":\"trade\"}"}`,
		`# comment`,
		`{"venue":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var d Decoder
		var rec md.RawRecord
		if err := d.Decode(line, &rec); err != nil {
			var le *LineError
			if !errors.Is(err, ErrSkip) && !errors.As(err, &le) {
				t.Fatalf("error is neither ErrSkip nor *LineError: %v", err)
			}
			return
		}
		out := AppendLine(nil, &rec)
		var d2 Decoder
		var back md.RawRecord
		if err := d2.Decode(out, &back); err != nil {
			t.Fatalf("re-encoded line %s does not decode: %v", out, err)
		}
		if !sameRecord(&rec, &back) {
			t.Fatalf("round trip differs:\n%+v\n%+v", rec, back)
		}
	})
}
