package stream

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tickflow/tickflow/stream/internal/jsonscan"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		op     op
		id     int64
		hasID  bool
		chans  []string
		code   ErrorCode // "" = success
		errHas string
	}{
		{name: "subscribe", in: `{"op":"subscribe","channels":["trades:binance:BTC-USDT","trades:*:*"],"id":1}`,
			op: opSubscribe, id: 1, hasID: true, chans: []string{"trades:binance:BTC-USDT", "trades:*:*"}},
		{name: "canonical and dedup", in: `{"op":"subscribe","channels":["trades:Binance:btc-usdt","trades:binance:BTC-USDT"]}`,
			op: opSubscribe, chans: []string{"trades:binance:BTC-USDT"}},
		{name: "unsubscribe", in: ` {"id":-3, "op":"unsubscribe","channels":["integrity:*:*"]} `, op: opUnsubscribe, id: -3, hasID: true,
			chans: []string{"integrity:*:*"}},
		{name: "ping", in: `{"op":"ping","id":7}`, op: opPing, id: 7, hasID: true},
		{name: "list", in: `{"op":"list"}`, op: opList},
		{name: "unknown fields ignored", in: `{"op":"ping","resume":{"a":[1,2]},"x":null}`, op: opPing},
		{name: "escaped key", in: `{"o\u0070":"ping"}`, op: opPing},
		{name: "duplicate op last wins", in: `{"op":"list","op":"ping"}`, op: opPing},

		{name: "not json", in: `subscribe please`, code: CodeBadRequest, errHas: "not valid JSON"},
		{name: "truncated", in: `{"op":"subscribe","id":4`, code: CodeBadRequest, errHas: "not valid JSON"},
		{name: "empty", in: ``, code: CodeBadRequest, errHas: "not valid JSON"},
		{name: "array", in: `[{"op":"ping"}]`, code: CodeBadRequest, errHas: "must be a JSON object"},
		{name: "missing op", in: `{"id":5}`, id: 5, hasID: true, code: CodeBadRequest, errHas: `missing "op"`},
		{name: "unknown op", in: `{"op":"subscrbe","id":6}`, id: 6, hasID: true, code: CodeBadRequest, errHas: `unknown op "subscrbe"`},
		{name: "op not string", in: `{"op":1,"id":6}`, id: 6, hasID: true, code: CodeBadRequest, errHas: `"op" must be a string`},
		{name: "id string", in: `{"op":"ping","id":"7"}`, code: CodeBadRequest, errHas: `"id" must be an integer, got a string`},
		{name: "id float", in: `{"op":"ping","id":1.5}`, code: CodeBadRequest, errHas: `fits 64 bits, got 1.5`},
		{name: "id huge", in: `{"op":"ping","id":99999999999999999999}`, code: CodeBadRequest, errHas: "fits 64 bits"},
		{name: "no channels", in: `{"op":"subscribe","id":8}`, id: 8, hasID: true, code: CodeBadRequest, errHas: `needs "channels"`},
		{name: "empty channels", in: `{"op":"subscribe","channels":[],"id":8}`, id: 8, hasID: true, code: CodeBadRequest, errHas: `needs "channels"`},
		{name: "channels not array", in: `{"op":"subscribe","channels":"trades:*:*","id":9}`, id: 9, hasID: true, code: CodeBadRequest, errHas: "must be an array"},
		{name: "channel not string", in: `{"op":"subscribe","channels":[1],"id":9}`, id: 9, hasID: true, code: CodeBadRequest, errHas: "only strings"},
		{name: "bad channel", in: `{"op":"subscribe","channels":["trades-binance"],"id":10}`, id: 10, hasID: true, code: CodeBadRequest, errHas: "want <kind>:<venue>:<symbol>"},
		{name: "unknown kind", in: `{"op":"subscribe","channels":["candles:binance:BTC-USDT"],"id":11}`, id: 11, hasID: true, code: CodeUnknownChannel, errHas: "not served"},
		{name: "book depths", in: `{"op":"subscribe","channels":["book:binance:BTC-USDT@20","book:Binance:btc-usdt@20","book:*:*"],"id":13}`,
			op: opSubscribe, id: 13, hasID: true, chans: []string{"book:binance:BTC-USDT@20", "book:*:*"}},
		{name: "bad book depth", in: `{"op":"subscribe","channels":["book:binance:BTC-USDT@2000"],"id":14}`, id: 14, hasID: true,
			code: CodeBadRequest, errHas: "over the limit of 1000"},
		{name: "too many in one request", in: `{"op":"subscribe","channels":["trades:a:A","trades:a:B","trades:a:C","trades:a:D"],"id":12}`,
			id: 12, hasID: true, code: CodeTooManySubscriptions, errHas: "over the limit of 3"},
	}
	var s jsonscan.Scanner
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, rerr := parseRequest(&s, []byte(tt.in), 3)
			if req.hasID != tt.hasID || (tt.hasID && req.id != tt.id) {
				t.Errorf("id = %d/%v, want %d/%v", req.id, req.hasID, tt.id, tt.hasID)
			}
			if tt.code != "" {
				if rerr == nil {
					t.Fatalf("accepted, want %s", tt.code)
				}
				if rerr.code != tt.code || !strings.Contains(rerr.msg, tt.errHas) {
					t.Fatalf("got %s %q, want %s containing %q", rerr.code, rerr.msg, tt.code, tt.errHas)
				}
				return
			}
			if rerr != nil {
				t.Fatalf("unexpected error %v", rerr)
			}
			if req.op != tt.op {
				t.Fatalf("op = %v, want %v", req.op, tt.op)
			}
			if got := channelNames(req.channels); strings.Join(got, ",") != strings.Join(tt.chans, ",") {
				t.Fatalf("channels = %q, want %q", got, tt.chans)
			}
		})
	}
}

// FuzzClientMessage checks the client request parser: it never panics, accepts only valid
// JSON, agrees with encoding/json on op, id and channels, returns canonical channels, and
// every error it reports is a known code with a message.
// Seed corpus: testdata/fuzz/FuzzClientMessage. Run: go test -fuzz FuzzClientMessage ./stream
func FuzzClientMessage(f *testing.F) {
	f.Add([]byte(`{"op":"subscribe","channels":["trades:binance:BTC-USDT","trades:*:*"],"id":1}`))
	f.Add([]byte(`{"op":"ping","id":7}`))
	f.Add([]byte(`{"op":"subscribe","channels":["book:binance:BTC-USDT@20","book:*:*","bbo:*:ETH-USDT"],"id":2}`))
	f.Add([]byte(`{"op":"subscribe","channels":["book:binance:BTC-USDT@0","book:a:B@1001"]}`))
	f.Add([]byte(`{"op":"unsubscribe","channels":["book:Binance:btc-usdt@5","book:binance:BTC-USDT@5"],"id":3}`))
	var s jsonscan.Scanner
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 8
		req, rerr := parseRequest(&s, in, max)
		if rerr != nil {
			if rerr.msg == "" || !knownCode(rerr.code) {
				t.Fatalf("error without message or with unknown code: %+v", rerr)
			}
			if req.hasID && !json.Valid(in) {
				t.Fatalf("echoes id %d of invalid JSON %q", req.id, in)
			}
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		var std map[string]json.RawMessage
		if err := json.Unmarshal(in, &std); err != nil {
			t.Fatalf("accepted %q that is not an object: %v", in, err)
		}
		var op string
		if err := json.Unmarshal(std["op"], &op); err != nil || op != opNames[req.op] {
			t.Fatalf("op %q, encoding/json says %q (%v)", opNames[req.op], op, err)
		}
		if raw, ok := std["id"]; ok != req.hasID {
			t.Fatalf("hasID %v, encoding/json sees id %v", req.hasID, ok)
		} else if ok {
			var id int64
			if err := json.Unmarshal(raw, &id); err != nil || id != req.id {
				t.Fatalf("id %d, encoding/json says %d (%v)", req.id, id, err)
			}
		}
		if req.op != opSubscribe && req.op != opUnsubscribe {
			return
		}
		var chans []string
		if err := json.Unmarshal(std["channels"], &chans); err != nil {
			t.Fatalf("channels accepted, encoding/json: %v", err)
		}
		if len(req.channels) == 0 || len(req.channels) > max || len(req.channels) > len(chans) {
			t.Fatalf("%d channels from %d", len(req.channels), len(chans))
		}
		for _, c := range chans {
			ch, err := ParseChannel(c)
			if err != nil && utf8.ValidString(c) {
				t.Fatalf("channel %q accepted in request, rejected alone: %v", c, err)
			}
			again, err := ParseChannel(ch.String())
			if err != nil || again != ch {
				t.Fatalf("channel %q not canonical: %v %v", ch, again, err)
			}
		}
	})
}

func knownCode(c ErrorCode) bool {
	for _, k := range errorCodes {
		if k == c {
			return true
		}
	}
	return false
}
