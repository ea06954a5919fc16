package rerun

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tickflow/tickflow/md"
)

// ReasonUnknownVenue is the reject reason of records of a venue no connector handles.
const ReasonUnknownVenue = "unknown_venue"

// Report is the outcome of a run, per venue (sorted by name).
type Report struct {
	Venues []*VenueReport `json:"venues"`
}

// VenueReport is the outcome of one venue.
type VenueReport struct {
	Venue         string `json:"venue"`
	ParserVersion uint16 `json:"parser_version"`
	// Records counts the raw records normalized (every type, markers included).
	Records uint64 `json:"records"`
	// Parsed counts the frame and REST records the parser accepted.
	Parsed uint64 `json:"parsed"`
	// Rejected counts rejected inputs (unreadable lines and records the parser refused)
	// per reason; Examples holds the first detail of each reason.
	Rejected map[string]uint64 `json:"rejected"`
	Examples map[string]string `json:"examples"`
	// Events holds per kind name ("trade", "book", ...) what was emitted and stored.
	Events map[string]*KindResult `json:"events"`
	// Book lists the book-integrity rules and how often each failed.
	Book []RuleResult `json:"book_rules"`
	// BookGaps lists the first book gaps (U/u continuity failures) one by one.
	BookGaps []Gap `json:"book_gaps"`
	// TradeGaps counts trade-id gaps (ids that never arrived).
	TradeGaps uint64 `json:"trade_gaps"`
	// Holes are raw offsets missing from the input (lost before they were archived).
	Holes []Hole `json:"holes,omitempty"`

	bookGaps   uint64
	invalidBy  map[md.IntegrityType]uint64
	checksumEv uint64
}

// KindResult counts one kind's events.
type KindResult struct {
	Emitted uint64 `json:"emitted"`
	// Stored were written; Duplicates were at or below the store's watermark (already
	// stored: a re-import, or an older capture than what the store holds).
	Stored     uint64 `json:"stored"`
	Duplicates uint64 `json:"duplicates"`
	// OutOfRange were outside the --from/--to range; NotStored are kinds the store does
	// not store.
	OutOfRange uint64 `json:"out_of_range"`
	NotStored  uint64 `json:"not_stored"`
}

// RuleResult is one book-integrity rule and how often it failed.
type RuleResult struct {
	Rule   string `json:"rule"`
	Failed uint64 `json:"failed"`
}

// Gap is one book gap: the venue update ids that were missing, when it was seen.
type Gap struct {
	Symbol   string `json:"symbol"`
	FirstID  uint64 `json:"first_id"`
	LastID   uint64 `json:"last_id"`
	RecvTime int64  `json:"recv_time"`
}

// Hole is a range of raw offsets of one partition missing from the input.
type Hole struct {
	Partition int   `json:"partition"`
	First     int64 `json:"first"`
	Last      int64 `json:"last"`
}

func newVenueReport(venue string) *VenueReport {
	return &VenueReport{Venue: venue, Rejected: map[string]uint64{}, Examples: map[string]string{},
		Events: map[string]*KindResult{}, invalidBy: map[md.IntegrityType]uint64{}}
}

func (v *VenueReport) reject(reason, detail string) {
	v.Rejected[reason]++
	if _, ok := v.Examples[reason]; !ok {
		if len(detail) > 200 {
			detail = detail[:200] + "..."
		}
		v.Examples[reason] = detail
	}
}

func (v *VenueReport) rejectedTotal() uint64 {
	var n uint64
	for _, c := range v.Rejected {
		n += c
	}
	return n
}

func (v *VenueReport) kind(k md.Kind) *KindResult {
	kr := v.Events[k.String()]
	if kr == nil {
		kr = &KindResult{}
		v.Events[k.String()] = kr
	}
	return kr
}

func (v *VenueReport) noteIntegrity(e *md.Integrity) {
	switch {
	case e.Type == md.IntegrityGap && e.Stream == md.KindBookUpdate:
		v.bookGaps++
		if len(v.BookGaps) < maxListedGaps {
			v.BookGaps = append(v.BookGaps, Gap{Symbol: e.Symbol, FirstID: e.FirstID, LastID: e.LastID, RecvTime: e.RecvTime})
		}
	case e.Type == md.IntegrityGap && e.Stream == md.KindTrade:
		v.TradeGaps++
	case e.Type == md.IntegrityChecksumFailure:
		v.checksumEv++
	}
}

func (v *VenueReport) noteStatus(st *md.BookStatus) {
	if st.State == md.BookInvalid {
		v.invalidBy[st.Reason]++
	}
}

// Book-integrity rules, in report order.
const (
	RuleContinuity = "U/u continuity: each delta continues the book (gap otherwise)"
	RuleBridge     = "snapshot bridges the buffered deltas (stale snapshot otherwise)"
	RuleCrossed    = "book not crossed (best bid < best ask)"
	RuleDrift      = "refresh snapshot agrees with the live book (drift otherwise)"
	RuleUnbridged  = "refresh snapshot rolls forward to the live book (unbridged otherwise)"
	RuleChecksum   = "venue checksum matches"
	RuleDisconnect = "connection stays up (books invalidated by a disconnect otherwise)"
)

// collectBookRules reads the normalizer's counters of one venue's run.
func (v *VenueReport) collectBookRules(reg *prometheus.Registry) error {
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("rerun: gather normalizer metrics: %w", err)
	}
	sum := func(name string, labels map[string]string) uint64 {
		var n float64
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if matches(m, labels) {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return uint64(n)
	}
	v.Book = []RuleResult{
		{RuleContinuity, sum("tickflow_normalizer_gaps_total", map[string]string{"stream": md.KindBookUpdate.String()})},
		{RuleBridge, sum("tickflow_normalizer_stale_snapshots_total", nil)},
		{RuleCrossed, sum("tickflow_normalizer_crossed_books_total", nil)},
		{RuleDrift, sum("tickflow_normalizer_book_refreshes_total", map[string]string{"result": "drift"})},
		{RuleUnbridged, sum("tickflow_normalizer_book_refreshes_total", map[string]string{"result": "unbridged"})},
		{RuleChecksum, max(v.checksumEv, v.invalidBy[md.IntegrityChecksumFailure])},
		{RuleDisconnect, v.invalidBy[md.IntegrityDisconnect]},
	}
	return nil
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, want := range labels {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == k && lp.GetValue() == want {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Failed returns the total of failed book rules, holes and rejected inputs over venues.
func (r *Report) Failed() (rules, rejected, holes uint64) {
	for _, v := range r.Venues {
		for _, b := range v.Book {
			rules += b.Failed
		}
		rejected += v.rejectedTotal()
		holes += uint64(len(v.Holes))
	}
	return
}

var kindOrder = []string{"trade", "book", "book_status", "bbo", "integrity"}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// WriteText writes the report for people: per venue, records, rejections by reason, events
// per kind, and every book-integrity rule with its failure count (and the gaps).
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(r.Venues) == 0 {
		b.WriteString("no records\n")
	}
	for _, v := range r.Venues {
		if v.ParserVersion == 0 {
			fmt.Fprintf(&b, "venue %s (no connector)\n", v.Venue)
		} else {
			fmt.Fprintf(&b, "venue %s (parser version %d)\n", v.Venue, v.ParserVersion)
		}
		fmt.Fprintf(&b, "  records normalized  %d\n", v.Records)
		fmt.Fprintf(&b, "  frames parsed       %d\n", v.Parsed)
		fmt.Fprintf(&b, "  rejected            %d\n", v.rejectedTotal())
		for _, reason := range sortedKeys(v.Rejected) {
			fmt.Fprintf(&b, "    %6d  %s\n            e.g. %s\n", v.Rejected[reason], reason, v.Examples[reason])
		}
		fmt.Fprintf(&b, "  events        %8s %8s %10s %12s %10s\n", "emitted", "stored", "duplicates", "out_of_range", "not_stored")
		seen := map[string]bool{}
		for _, k := range append(append([]string{}, kindOrder...), sortedKeys(v.Events)...) {
			kr := v.Events[k]
			if kr == nil || seen[k] {
				continue
			}
			seen[k] = true
			fmt.Fprintf(&b, "    %-11s %8d %8d %10d %12d %10d\n", k, kr.Emitted, kr.Stored, kr.Duplicates, kr.OutOfRange, kr.NotStored)
		}
		b.WriteString("  book integrity rules (failures)\n")
		for _, br := range v.Book {
			status := "ok"
			if br.Failed > 0 {
				status = "FAILED"
			}
			fmt.Fprintf(&b, "    %-6s %4d  %s\n", status, br.Failed, br.Rule)
		}
		for _, g := range v.BookGaps {
			fmt.Fprintf(&b, "      gap %s: update ids %d..%d missing (seen %s)\n", g.Symbol, g.FirstID, g.LastID,
				time.Unix(0, g.RecvTime).UTC().Format(time.RFC3339Nano))
		}
		if n := v.bookGaps - uint64(len(v.BookGaps)); n > 0 {
			fmt.Fprintf(&b, "      ... and %d more gaps\n", n)
		}
		fmt.Fprintf(&b, "  trade id gaps       %d\n", v.TradeGaps)
		if len(v.Holes) > 0 {
			fmt.Fprintf(&b, "  raw holes (records deleted from Kafka before they were archived) %d\n", len(v.Holes))
			for _, h := range v.Holes {
				fmt.Fprintf(&b, "    partition %d offsets %d..%d\n", h.Partition, h.First, h.Last)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
