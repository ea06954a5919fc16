package normalizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/tickflow/tickflow/md"
)

// tr is a trade with id and exchange time ts (ms for readability).
func tr(id uint64, ts int64) *md.Trade {
	t := &md.Trade{ID: md.NumericID(id)}
	t.ExchTime = ts
	t.RecvTime = ts + 1000
	return t
}

func g(from, to uint64, ft, tt int64) idGap {
	return idGap{From: from, To: to, FromTime: ft, ToTime: tt}
}

type admitStep struct {
	id      uint64
	ts      int64
	verdict tradeVerdict
	gap     idGap // for tradeEmitGap
	hi      uint64
	gaps    []idGap // open gaps after the step
}

func verdictName(v tradeVerdict) string {
	return [...]string{"emit", "emit_gap", "fill", "duplicate"}[v]
}

func runSteps(t *testing.T, s *tradeSeq, steps []admitStep) {
	t.Helper()
	for i, st := range steps {
		v, gap := s.admit(tr(st.id, st.ts))
		if v != st.verdict {
			t.Fatalf("step %d (id %d): verdict %s, want %s", i, st.id, verdictName(v), verdictName(st.verdict))
		}
		if v == tradeEmitGap && gap != st.gap {
			t.Fatalf("step %d (id %d): opened gap %+v, want %+v", i, st.id, gap, st.gap)
		}
		if s.Hi != st.hi {
			t.Fatalf("step %d (id %d): hi %d, want %d", i, st.id, s.Hi, st.hi)
		}
		if !slices.Equal(s.Gaps, st.gaps) && (len(s.Gaps) != 0 || len(st.gaps) != 0) {
			t.Fatalf("step %d (id %d): gaps %+v, want %+v", i, st.id, s.Gaps, st.gaps)
		}
	}
}

func TestTradeSeqAdmit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []admitStep
	}{
		{"first id is emitted and sets the high mark", []admitStep{
			{id: 5000, ts: 10, verdict: tradeEmit, hi: 5000},
		}},
		{"contiguous ids are emitted", []admitStep{
			{id: 1, ts: 10, verdict: tradeEmit, hi: 1},
			{id: 2, ts: 11, verdict: tradeEmit, hi: 2},
			{id: 3, ts: 12, verdict: tradeEmit, hi: 3},
		}},
		{"a jump opens a gap with the times around it", []admitStep{
			{id: 100, ts: 10, verdict: tradeEmit, hi: 100},
			{id: 105, ts: 15, verdict: tradeEmitGap, gap: g(101, 104, 10, 15), hi: 105, gaps: []idGap{g(101, 104, 10, 15)}},
			{id: 106, ts: 16, verdict: tradeEmit, hi: 106, gaps: []idGap{g(101, 104, 10, 15)}},
		}},
		{"a jump of one id opens a one-id gap", []admitStep{
			{id: 100, ts: 10, verdict: tradeEmit, hi: 100},
			{id: 102, ts: 12, verdict: tradeEmitGap, gap: g(101, 101, 10, 12), hi: 102, gaps: []idGap{g(101, 101, 10, 12)}},
			{id: 101, ts: 11, verdict: tradeFill, hi: 102},
			{id: 101, ts: 11, verdict: tradeDuplicate, hi: 102},
		}},
		{"fill at the gap start", []admitStep{
			{id: 100, ts: 10, verdict: tradeEmit, hi: 100},
			{id: 105, ts: 15, verdict: tradeEmitGap, gap: g(101, 104, 10, 15), hi: 105, gaps: []idGap{g(101, 104, 10, 15)}},
			{id: 101, ts: 11, verdict: tradeFill, hi: 105, gaps: []idGap{g(102, 104, 10, 15)}},
		}},
		{"fill at the gap end", []admitStep{
			{id: 100, ts: 10, verdict: tradeEmit, hi: 100},
			{id: 105, ts: 15, verdict: tradeEmitGap, gap: g(101, 104, 10, 15), hi: 105, gaps: []idGap{g(101, 104, 10, 15)}},
			{id: 104, ts: 14, verdict: tradeFill, hi: 105, gaps: []idGap{g(101, 103, 10, 15)}},
		}},
		{"fill in the middle splits the gap", []admitStep{
			{id: 100, ts: 10, verdict: tradeEmit, hi: 100},
			{id: 110, ts: 20, verdict: tradeEmitGap, gap: g(101, 109, 10, 20), hi: 110, gaps: []idGap{g(101, 109, 10, 20)}},
			{id: 105, ts: 15, verdict: tradeFill, hi: 110, gaps: []idGap{g(101, 104, 10, 20), g(106, 109, 10, 20)}},
			{id: 107, ts: 17, verdict: tradeFill, hi: 110, gaps: []idGap{g(101, 104, 10, 20), g(106, 106, 10, 20), g(108, 109, 10, 20)}},
			{id: 106, ts: 16, verdict: tradeFill, hi: 110, gaps: []idGap{g(101, 104, 10, 20), g(108, 109, 10, 20)}},
		}},
		{"filling every id closes the gap; refills are duplicates", []admitStep{
			{id: 100, ts: 10, verdict: tradeEmit, hi: 100},
			{id: 104, ts: 14, verdict: tradeEmitGap, gap: g(101, 103, 10, 14), hi: 104, gaps: []idGap{g(101, 103, 10, 14)}},
			{id: 102, ts: 12, verdict: tradeFill, hi: 104, gaps: []idGap{g(101, 101, 10, 14), g(103, 103, 10, 14)}},
			{id: 101, ts: 11, verdict: tradeFill, hi: 104, gaps: []idGap{g(103, 103, 10, 14)}},
			{id: 103, ts: 13, verdict: tradeFill, hi: 104},
			{id: 101, ts: 11, verdict: tradeDuplicate, hi: 104},
			{id: 102, ts: 12, verdict: tradeDuplicate, hi: 104},
			{id: 103, ts: 13, verdict: tradeDuplicate, hi: 104},
		}},
		{"duplicates below the high mark and of the high mark", []admitStep{
			{id: 100, ts: 10, verdict: tradeEmit, hi: 100},
			{id: 101, ts: 11, verdict: tradeEmit, hi: 101},
			{id: 101, ts: 11, verdict: tradeDuplicate, hi: 101},
			{id: 100, ts: 10, verdict: tradeDuplicate, hi: 101},
			{id: 1, ts: 1, verdict: tradeDuplicate, hi: 101},
		}},
		{"duplicates inside a filled range and outside every gap", []admitStep{
			{id: 100, ts: 10, verdict: tradeEmit, hi: 100},
			{id: 110, ts: 20, verdict: tradeEmitGap, gap: g(101, 109, 10, 20), hi: 110, gaps: []idGap{g(101, 109, 10, 20)}},
			{id: 120, ts: 30, verdict: tradeEmitGap, gap: g(111, 119, 20, 30), hi: 120, gaps: []idGap{g(101, 109, 10, 20), g(111, 119, 20, 30)}},
			{id: 105, ts: 15, verdict: tradeFill, hi: 120, gaps: []idGap{g(101, 104, 10, 20), g(106, 109, 10, 20), g(111, 119, 20, 30)}},
			{id: 105, ts: 15, verdict: tradeDuplicate, hi: 120, gaps: []idGap{g(101, 104, 10, 20), g(106, 109, 10, 20), g(111, 119, 20, 30)}},
			{id: 110, ts: 20, verdict: tradeDuplicate, hi: 120, gaps: []idGap{g(101, 104, 10, 20), g(106, 109, 10, 20), g(111, 119, 20, 30)}},
			{id: 100, ts: 10, verdict: tradeDuplicate, hi: 120, gaps: []idGap{g(101, 104, 10, 20), g(106, 109, 10, 20), g(111, 119, 20, 30)}},
			{id: 115, ts: 25, verdict: tradeFill, hi: 120, gaps: []idGap{g(101, 104, 10, 20), g(106, 109, 10, 20), g(111, 114, 20, 30), g(116, 119, 20, 30)}},
		}},
		{"fills in any order across several gaps", []admitStep{
			{id: 10, ts: 10, verdict: tradeEmit, hi: 10},
			{id: 13, ts: 13, verdict: tradeEmitGap, gap: g(11, 12, 10, 13), hi: 13, gaps: []idGap{g(11, 12, 10, 13)}},
			{id: 16, ts: 16, verdict: tradeEmitGap, gap: g(14, 15, 13, 16), hi: 16, gaps: []idGap{g(11, 12, 10, 13), g(14, 15, 13, 16)}},
			{id: 15, ts: 15, verdict: tradeFill, hi: 16, gaps: []idGap{g(11, 12, 10, 13), g(14, 14, 13, 16)}},
			{id: 11, ts: 11, verdict: tradeFill, hi: 16, gaps: []idGap{g(12, 12, 10, 13), g(14, 14, 13, 16)}},
			{id: 14, ts: 14, verdict: tradeFill, hi: 16, gaps: []idGap{g(12, 12, 10, 13)}},
			{id: 12, ts: 12, verdict: tradeFill, hi: 16},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, &tradeSeq{}, tc.steps)
		})
	}
}

// TestTradeSeqGapTimesFallBackToRecv: without an exchange time, gap times are receive times.
func TestTradeSeqGapTimesFallBackToRecv(t *testing.T) {
	var s tradeSeq
	a := &md.Trade{ID: md.NumericID(1)}
	a.RecvTime = 111
	b := &md.Trade{ID: md.NumericID(5)}
	b.RecvTime = 555
	s.admit(a)
	v, gap := s.admit(b)
	if v != tradeEmitGap || gap != g(2, 4, 111, 555) {
		t.Fatalf("%s %+v", verdictName(v), gap)
	}
}

// TestTradeSeqGapCap: at most maxGapsPerInstrument gaps are remembered; the oldest is
// forgotten first and its ids can no longer be filled (they count as duplicates).
func TestTradeSeqGapCap(t *testing.T) {
	var s tradeSeq
	id := uint64(1000)
	s.admit(tr(id, 1))
	for i := range maxGapsPerInstrument {
		id += 2 // each step skips one id: one gap {id-1}
		if v, _ := s.admit(tr(id, int64(i+2))); v != tradeEmitGap {
			t.Fatalf("jump %d: %s", i, verdictName(v))
		}
	}
	if len(s.Gaps) != maxGapsPerInstrument || s.Gaps[0].From != 1001 {
		t.Fatalf("%d gaps, first %+v", len(s.Gaps), s.Gaps[0])
	}
	id += 2
	s.admit(tr(id, 9999))
	if len(s.Gaps) != maxGapsPerInstrument {
		t.Fatalf("%d gaps after one more jump, want the cap %d", len(s.Gaps), maxGapsPerInstrument)
	}
	if s.Gaps[0].From != 1003 || s.Gaps[len(s.Gaps)-1].From != id-1 {
		t.Fatalf("oldest gap not evicted: first %+v last %+v", s.Gaps[0], s.Gaps[len(s.Gaps)-1])
	}
	if v, _ := s.admit(tr(1001, 1)); v != tradeDuplicate {
		t.Fatalf("id of the evicted gap: %s, want duplicate", verdictName(v))
	}
	if v, _ := s.admit(tr(1003, 1)); v != tradeFill {
		t.Fatalf("id of the oldest kept gap: %s, want fill", verdictName(v))
	}
	for i := 1; i < len(s.Gaps); i++ {
		if s.Gaps[i].From <= s.Gaps[i-1].To {
			t.Fatalf("gaps out of order at %d: %+v %+v", i, s.Gaps[i-1], s.Gaps[i])
		}
	}
}

// TestTradeSeqGapCapOnSplit: splitting a gap by a fill in its middle must respect the cap too,
// or a storm of partial backfills grows the state (and every checkpoint) without bound.
func TestTradeSeqGapCapOnSplit(t *testing.T) {
	var s tradeSeq
	id := uint64(1000)
	s.admit(tr(id, 1))
	for range maxGapsPerInstrument {
		id += 4 // gaps of three ids
		s.admit(tr(id, 2))
	}
	grew := 0
	for _, gp := range slices.Clone(s.Gaps) {
		if v, _ := s.admit(tr(gp.From+1, 3)); v != tradeFill {
			t.Fatalf("middle fill: %s", verdictName(v))
		}
		grew = max(grew, len(s.Gaps))
	}
	if grew > maxGapsPerInstrument {
		t.Fatalf("tradeSeq.admit splits gaps without applying maxGapsPerInstrument: %d gaps (cap %d); "+
			"trades.go middle-split case should evict the oldest gap when the cap is exceeded", grew, maxGapsPerInstrument)
	}
}

// TestTradeSeqIDZero: an instrument whose first trade id is 0. Hi == 0 must not be mistaken
// for "no trade yet" once trade 0 was seen: a repeat of 0 is a duplicate and a jump is a gap.
func TestTradeSeqIDZero(t *testing.T) {
	var s tradeSeq
	if v, _ := s.admit(tr(0, 1)); v != tradeEmit {
		t.Fatalf("id 0: %s", verdictName(v))
	}
	var problems []string
	if v, _ := s.admit(tr(0, 1)); v != tradeDuplicate {
		problems = append(problems, "a repeated id 0 is "+verdictName(v))
	}
	s = tradeSeq{}
	s.admit(tr(0, 1))
	if v, gap := s.admit(tr(3, 2)); v != tradeEmitGap || gap.From != 1 || gap.To != 2 {
		problems = append(problems, "the jump 0 -> 3 is "+verdictName(v)+", no gap {1,2}")
	}
	if len(problems) > 0 {
		t.Fatalf("tradeSeq uses Hi == 0 as \"no trade yet\": %v; keep an explicit flag (e.g. Seen bool) in tradeSeq", problems)
	}
}

// TestTradeSeqCheckpointRoundTrip: the state survives the checkpoint encoding exactly.
func TestTradeSeqCheckpointRoundTrip(t *testing.T) {
	var s tradeSeq
	for _, id := range []uint64{10, 20, 15, 30} {
		s.admit(tr(id, int64(id)*1e6))
	}
	b, err := json.Marshal(map[string]*tradeSeq{"BTC-USDT": &s})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]*tradeSeq
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back["BTC-USDT"], &s) {
		t.Fatalf("round trip %s: %+v, want %+v", b, back["BTC-USDT"], &s)
	}
	// The restored state decides exactly like the original.
	for _, id := range []uint64{12, 15, 25, 31, 16} {
		v1, g1 := s.admit(tr(id, 1))
		v2, g2 := back["BTC-USDT"].admit(tr(id, 1))
		if v1 != v2 || g1 != g2 {
			t.Fatalf("id %d: restored %s, original %s", id, verdictName(v2), verdictName(v1))
		}
	}
}

func TestReasonKind(t *testing.T) {
	for _, tc := range []struct{ err, want string }{
		{`binance: trade for unknown symbol "DOGEUSDT" (no exchangeInfo seen)`, `binance: trade for unknown symbol _ (no exchangeInfo seen)`},
		{`binance: trade price "66955.111": md: decimal has more precision than the instrument scale`,
			`binance: trade price _: md: decimal has more precision than the instrument scale`},
		{`binance: REST trade 12 without id`, `binance: REST trade _ without id`},
	} {
		if got := reasonKind(errors.New(tc.err)); got != tc.want[:min(len(tc.want), 80)] {
			t.Errorf("reasonKind(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
	long := reasonKind(fmt.Errorf("%s", string(make([]byte, 200))))
	if len(long) > 80 {
		t.Errorf("reason kind of %d bytes", len(long))
	}
}
