package rerun

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/collectors/binance"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
	"github.com/tickflow/tickflow/transport"
)

// memStore is a sink.Store keeping rows in memory behind the shared watermark logic, so the
// tests see exactly what a real store would keep.
type memStore struct {
	wm     sink.Watermarks
	trades []md.Trade
	writes int
	fail   error
}

func (s *memStore) Write(_ context.Context, b *sink.Batch) (sink.WriteResult, error) {
	var res sink.WriteResult
	if s.fail != nil {
		return res, s.fail
	}
	s.writes++
	for i := range b.Trades {
		if _, ok := s.wm.Admit(md.KindTrade, &b.Trades[i].Header); ok {
			s.trades = append(s.trades, b.Trades[i])
			res.Written.Trades++
		} else {
			res.Duplicates.Trades++
		}
	}
	s.wm.Commit()
	return res, nil
}
func (s *memStore) Offsets(context.Context) ([]transport.Offset, error) { return nil, nil }
func (s *memStore) Close() error                                        { return nil }

const capture = `{"venue":"binance","conn":"c0","type":"rest","url":"/api/v3/exchangeInfo","recv_time":1000,"frame":{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"},{"filterType":"LOT_SIZE","stepSize":"0.001"}]}]}}
{"venue":"binance","conn":"c0","recv_time":2000,"frame":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.00","q":"1.000","T":1,"m":false}}
{"venue":"binance","conn":"c0","recv_time":3000,"frame":{"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1.01","q":"1.000","T":1,"m":true}}
{"venue":"binance","conn":"c0","recv_time":4000,"frame":{"e":"trade","E":1,"s":"BTCUSDT","t":3,"p":"1.02","q":"1.000","T":1,"m":true}}
`

func registry() *collectors.Registry {
	r := collectors.NewRegistry()
	r.Register(binance.Connector{})
	return r
}

func run(t *testing.T, st sink.Store, cfg Config, in string) (*Report, error) {
	t.Helper()
	cfg.Store, cfg.Registry = st, registry()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ImportJSONL(context.Background(), strings.NewReader(in), r); err != nil {
		return nil, err
	}
	return r.Finish(context.Background())
}

// TestRunnerSourceRangeAndBatches: reimport marks the source; a time range stores only the
// events inside it (the rest counted out of range); small batches write several times.
func TestRunnerSourceRangeAndBatches(t *testing.T) {
	tests := []struct {
		name                     string
		cfg                      Config
		wantStored, wantOutRange uint64
		wantSource               md.Source
		wantWrites               int
	}{
		{"reimport, one batch", Config{Reimport: true}, 3, 0, md.SourceReimport, 1},
		{"live source kept, batches of 1", Config{BatchEvents: 1}, 3, 0, md.SourceLive, 3},
		{"range [3000, 4000)", Config{From: 3000, To: 4000}, 1, 2, md.SourceLive, 1},
		{"parser version override", Config{ParserVersion: 7}, 3, 0, md.SourceLive, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &memStore{}
			rep, err := run(t, st, tc.cfg, capture)
			if err != nil {
				t.Fatal(err)
			}
			kr := rep.Venues[0].Events["trade"]
			if kr.Stored != tc.wantStored || kr.OutOfRange != tc.wantOutRange || kr.Emitted != 3 {
				t.Fatalf("trades %+v, want 3 emitted, %d stored, %d out of range", *kr, tc.wantStored, tc.wantOutRange)
			}
			if st.writes != tc.wantWrites {
				t.Errorf("%d store writes, want %d", st.writes, tc.wantWrites)
			}
			wantPV := uint16(binance.ParserVersion)
			if tc.cfg.ParserVersion != 0 {
				wantPV = tc.cfg.ParserVersion
			}
			for _, tr := range st.trades {
				if tr.Source != tc.wantSource || tr.ParserVersion != wantPV {
					t.Errorf("trade %d: source %v parser %d, want %v %d", tr.ID.Num, tr.Source, tr.ParserVersion, tc.wantSource, wantPV)
				}
			}
			if rep.Venues[0].ParserVersion != wantPV {
				t.Errorf("report parser version %d, want %d", rep.Venues[0].ParserVersion, wantPV)
			}
		})
	}
}

// TestRunnerIdempotent: the same capture twice into one store stores nothing the second time.
func TestRunnerIdempotent(t *testing.T) {
	st := &memStore{}
	if _, err := run(t, st, Config{Reimport: true}, capture); err != nil {
		t.Fatal(err)
	}
	rep, err := run(t, st, Config{Reimport: true}, capture)
	if err != nil {
		t.Fatal(err)
	}
	if kr := rep.Venues[0].Events["trade"]; kr.Stored != 0 || kr.Duplicates != 3 || len(st.trades) != 3 {
		t.Fatalf("second import: %+v, %d trades in store; want 0 stored, 3 duplicates, 3 kept", *kr, len(st.trades))
	}
}

// TestRunnerStoreError: a failing store stops the run with the store's error.
func TestRunnerStoreError(t *testing.T) {
	boom := errors.New("disk full")
	_, err := run(t, &memStore{fail: boom}, Config{}, capture)
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want the store's error", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Store: &memStore{}}, ""},
		{Config{}, "a store is required"},
		{Config{Store: &memStore{}, From: 5, To: 5}, "--from must be before --to"},
		{Config{Store: &memStore{}, BatchEvents: -1}, "batch events -1 < 0"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestReasonLabel(t *testing.T) {
	for in, want := range map[string]string{
		"binance: trade price _: md: invalid decimal syntax":         "binance: trade price _",
		"binance: trade for unknown symbol _ (no exchangeInfo seen)": "binance: trade for unknown symbol _ (no exchangeInfo seen)",
		"plain": "plain",
	} {
		if got := reasonLabel(in); got != want {
			t.Errorf("reasonLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadLine: lines longer than MaxLineBytes are skipped whole; the next line is intact.
func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+10)
	in := "a\n" + long + "\nb\nlast"
	st := &memStore{}
	r, err := New(Config{Store: st, Registry: registry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ImportJSONL(context.Background(), strings.NewReader(in), r); err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Finish(context.Background())
	var buf bytes.Buffer
	_ = rep.WriteText(&buf)
	v := rep.Venues[0]
	if v.Venue != NoVenue || v.Rejected[ReasonLineTooLong] != 1 || v.Rejected["invalid_json"] != 3 {
		t.Fatalf("rejections %v, want 1 line_too_long and 3 invalid_json (a, b, last):\n%s", v.Rejected, buf.String())
	}
}
