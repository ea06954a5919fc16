package normalizer

import "github.com/tickflow/tickflow/md"

// maxGapsPerInstrument bounds the open id gaps remembered per instrument; the oldest is
// forgotten first (its ids can then no longer be filled).
const maxGapsPerInstrument = 256

// idGap is a range of trade ids not seen yet.
type idGap struct {
	From     uint64 `json:"from"`
	To       uint64 `json:"to"`
	FromTime int64  `json:"from_time"`
	ToTime   int64  `json:"to_time"`
}

// tradeSeq is the trade-id continuity state of one instrument whose venue ids are
// contiguous (ADR 0003).
type tradeSeq struct {
	Seen   bool    `json:"seen,omitempty"` // a trade was seen (ids may start at 0)
	Hi     uint64  `json:"hi"`
	HiTime int64   `json:"hi_time"`
	Gaps   []idGap `json:"gaps,omitempty"`
}

// tradeVerdict says what to do with a trade.
type tradeVerdict uint8

const (
	tradeEmit      tradeVerdict = iota // new, above the high mark
	tradeEmitGap                       // new, above the high mark after a jump: a gap opened
	tradeFill                          // fills an open gap
	tradeDuplicate                     // already emitted
)

// admit decides about trade t and updates the state. For tradeEmitGap, the returned gap is
// the one opened.
func (s *tradeSeq) admit(t *md.Trade) (tradeVerdict, idGap) {
	x := t.ID.Num
	ts := t.ExchTime
	if ts == 0 {
		ts = t.RecvTime
	}
	switch {
	case !s.Seen:
		s.Seen = true
		s.Hi, s.HiTime = x, ts
		return tradeEmit, idGap{}
	case x == s.Hi+1:
		s.Hi, s.HiTime = x, ts
		return tradeEmit, idGap{}
	case x > s.Hi:
		g := idGap{From: s.Hi + 1, To: x - 1, FromTime: s.HiTime, ToTime: ts}
		if len(s.Gaps) >= maxGapsPerInstrument {
			s.Gaps = append(s.Gaps[:0], s.Gaps[1:]...)
		}
		s.Gaps = append(s.Gaps, g)
		s.Hi, s.HiTime = x, ts
		return tradeEmitGap, g
	}
	for i := range s.Gaps {
		g := &s.Gaps[i]
		if x < g.From || x > g.To {
			continue
		}
		switch {
		case g.From == g.To:
			s.Gaps = append(s.Gaps[:i], s.Gaps[i+1:]...)
		case x == g.From:
			g.From++
		case x == g.To:
			g.To--
		default:
			rest := idGap{From: x + 1, To: g.To, FromTime: g.FromTime, ToTime: g.ToTime}
			g.To = x - 1
			s.Gaps = append(s.Gaps, idGap{})
			copy(s.Gaps[i+2:], s.Gaps[i+1:])
			s.Gaps[i+1] = rest
			if len(s.Gaps) > maxGapsPerInstrument {
				s.Gaps = append(s.Gaps[:0], s.Gaps[1:]...)
			}
		}
		return tradeFill, idGap{}
	}
	return tradeDuplicate, idGap{}
}
