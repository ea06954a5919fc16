// Package rerun runs recorded raw records through the current parsers and normalizer logic
// (normalizer.Offline: the same trade dedup, disconnect windows and book builder under the
// venue's depth-sync rules as the live pipeline) and writes the unified events to a
// sink.Store — the DuckDB or ClickHouse store, exactly once by the store's watermarks
// (ADR 0007). `tickflow import` (source reimport) and `tickflow renormalize` (a newer
// parser version) are thin wrappers around it.
//
// It ends with a [Report]: records parsed and rejected with their reasons, events emitted,
// stored and skipped per kind, and every book-integrity rule that failed, per venue.
//
// A Runner is not goroutine-safe: one goroutine feeds it. It does no I/O but the store's.
package rerun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/normalizer"
	"github.com/tickflow/tickflow/sink"
)

// DefaultBatchEvents is the number of events written per store transaction by default.
const DefaultBatchEvents = 20000

// maxListedGaps bounds the book gaps listed one by one per venue (all are counted).
const maxListedGaps = 50

// Config configures a [Runner].
type Config struct {
	// Registry resolves venues to connectors (default collectors.Default).
	Registry *collectors.Registry
	// Store receives the events (required).
	Store sink.Store
	// ParserVersion is stored with every event; 0 means each connector's own.
	ParserVersion uint16
	// Reimport marks every stored event source = reimport (tickflow import); otherwise the
	// parser's source (live, backfill) is kept.
	Reimport bool
	// From and To, when non-zero, store only events received in [From, To) (Unix ns).
	// Records outside are still normalized: state (instruments, books, trade ids) needs them.
	From, To int64
	// BatchEvents is the number of events per store write (default 20000).
	BatchEvents int
	// Log receives progress logs (default discard).
	Log *slog.Logger
}

// Validate reports invalid settings.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("rerun: config: a store is required"))
	}
	if c.To != 0 && c.From >= c.To {
		errs = append(errs, fmt.Errorf("rerun: config: time range [%d, %d) is empty: --from must be before --to", c.From, c.To))
	}
	if c.BatchEvents < 0 {
		errs = append(errs, fmt.Errorf("rerun: config: batch events %d < 0", c.BatchEvents))
	}
	return errors.Join(errs...)
}

// venueRun is the normalization of one venue.
type venueRun struct {
	off   *normalizer.Offline
	reg   *prometheus.Registry
	rep   *VenueReport
	batch sink.Batch // events waiting for the next store write
}

// Runner feeds raw records to one offline normalizer per venue and writes their events.
type Runner struct {
	cfg    Config
	kinds  func(md.Kind) bool
	venues map[string]*venueRun
	dec    *md.Decoder
	cur    *venueRun // venue of the record being processed (for emit)
	err    error
}

// New returns a Runner. It does no I/O.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Registry == nil {
		cfg.Registry = collectors.Default
	}
	if cfg.BatchEvents == 0 {
		cfg.BatchEvents = DefaultBatchEvents
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, venues: map[string]*venueRun{}, dec: md.NewDecoder()}
	r.kinds = func(k md.Kind) bool { return k == md.KindTrade || k == md.KindIntegrity }
	if ks, ok := cfg.Store.(sink.KindStore); ok {
		r.kinds = ks.StoresKind
	}
	return r, nil
}

func (r *Runner) venue(name string) (*venueRun, error) {
	if v, ok := r.venues[name]; ok {
		return v, nil
	}
	conn, err := r.cfg.Registry.Lookup(name)
	if err != nil {
		return nil, err
	}
	v := &venueRun{reg: prometheus.NewRegistry(), rep: newVenueReport(name)}
	v.off = normalizer.NewOffline(conn, normalizer.OfflineConfig{
		ParserVersion: r.cfg.ParserVersion,
		Metrics:       normalizer.NewMetrics(v.reg),
		Log:           r.cfg.Log,
		Emit:          r.emit,
		Reject: func(rec *md.RawRecord, reason string, err error) {
			v.rep.reject(reasonLabel(reason), fmt.Sprintf("%s/%s epoch %d seq %d: %v", rec.Venue, rec.Conn, rec.Epoch, rec.Seq, err))
		},
	})
	v.rep.ParserVersion = v.off.ParserVersion()
	r.venues[name] = v
	return v, nil
}

// reasonLabel shortens a parser error's reason kind to what failed: "binance: trade price _"
// for "binance: trade price _: md: invalid decimal syntax" (the report shows the whole error
// as the reason's example).
func reasonLabel(kind string) string {
	first := strings.Index(kind, ": ")
	if first < 0 {
		return kind
	}
	if second := strings.Index(kind[first+2:], ": "); second >= 0 {
		return kind[:first+2+second]
	}
	return kind
}

// Reject counts a record that could not even be read (e.g. a malformed import line) for
// venue (NoVenue when unknown) under reason, with detail as its example.
func (r *Runner) Reject(venue, reason, detail string) { r.report(venue).reject(reason, detail) }

// Hole records raw offsets known to be missing from the input (deleted from Kafka before
// they were archived): they appear in the report as an integrity failure.
func (r *Runner) Hole(venue string, partition int, first, last int64) {
	rep := r.report(venue)
	rep.Holes = append(rep.Holes, Hole{Partition: partition, First: first, Last: last})
}

// report returns the report of venue, creating a bare one for unknown venues.
func (r *Runner) report(venue string) *VenueReport {
	if v := r.venues[venue]; v != nil {
		return v.rep
	}
	if v, err := r.venue(venue); err == nil {
		return v.rep
	}
	v := &venueRun{rep: newVenueReport(venue)}
	r.venues[venue] = v
	return v.rep
}

// Process normalizes one raw record (borrowed) and writes full batches. It returns an error
// only when the store failed; unknown venues and malformed records are counted as rejected.
func (r *Runner) Process(ctx context.Context, rec *md.RawRecord) error {
	if r.err != nil {
		return r.err
	}
	v, err := r.venue(rec.Venue)
	if err != nil {
		r.report(rec.Venue).reject(ReasonUnknownVenue, err.Error())
		return nil
	}
	if v.off == nil { // a venue created as unknown earlier
		v.rep.reject(ReasonUnknownVenue, "no connector for venue "+rec.Venue)
		return nil
	}
	v.rep.Records++
	before := v.rep.rejectedTotal()
	r.cur = v
	if err := v.off.Process(ctx, rec); err != nil {
		r.err = err
		return err
	}
	if (rec.Type == md.RawFrame || rec.Type == md.RawREST) && v.rep.rejectedTotal() == before {
		v.rep.Parsed++
	}
	if v.batch.Len() >= r.cfg.BatchEvents {
		return r.flush(ctx, v)
	}
	return nil
}

// emit decodes one unified event into the batch (or counts why it is not stored).
func (r *Runner) emit(kind md.Kind, val []byte) error {
	rep := r.cur.rep
	b := &r.cur.batch
	kr := rep.kind(kind)
	kr.Emitted++
	if !r.kinds(kind) {
		kr.NotStored++
		return nil
	}
	var h *md.Header
	switch kind {
	case md.KindTrade:
		b.Trades = append(b.Trades, md.Trade{})
		t := &b.Trades[len(b.Trades)-1]
		if err := r.dec.DecodeTrade(t, val); err != nil {
			return fmt.Errorf("rerun: decode own trade: %w", err)
		}
		h = &t.Header
	case md.KindIntegrity:
		b.Integrity = append(b.Integrity, md.Integrity{})
		e := &b.Integrity[len(b.Integrity)-1]
		if err := r.dec.DecodeIntegrity(e, val); err != nil {
			return fmt.Errorf("rerun: decode own integrity event: %w", err)
		}
		h = &e.Header
		rep.noteIntegrity(e)
	case md.KindBookUpdate:
		b.Books = append(b.Books, md.BookUpdate{})
		u := &b.Books[len(b.Books)-1]
		if err := r.dec.DecodeBookUpdate(u, val); err != nil {
			return fmt.Errorf("rerun: decode own book update: %w", err)
		}
		h = &u.Header
	case md.KindBookStatus:
		b.BookStatus = append(b.BookStatus, md.BookStatus{})
		st := &b.BookStatus[len(b.BookStatus)-1]
		if err := r.dec.DecodeBookStatus(st, val); err != nil {
			return fmt.Errorf("rerun: decode own book status: %w", err)
		}
		h = &st.Header
		rep.noteStatus(st)
	case md.KindBBO:
		b.BBOs = append(b.BBOs, md.BBO{})
		q := &b.BBOs[len(b.BBOs)-1]
		if err := r.dec.DecodeBBO(q, val); err != nil {
			return fmt.Errorf("rerun: decode own BBO: %w", err)
		}
		h = &q.Header
	default:
		kr.NotStored++
		return nil
	}
	if (r.cfg.From != 0 && h.RecvTime < r.cfg.From) || (r.cfg.To != 0 && h.RecvTime >= r.cfg.To) {
		kr.OutOfRange++
		dropLast(b, kind)
		return nil
	}
	if r.cfg.Reimport {
		h.Source = md.SourceReimport
	}
	return nil
}

func dropLast(b *sink.Batch, kind md.Kind) {
	switch kind {
	case md.KindTrade:
		b.Trades = b.Trades[:len(b.Trades)-1]
	case md.KindIntegrity:
		b.Integrity = b.Integrity[:len(b.Integrity)-1]
	case md.KindBookUpdate:
		b.Books = b.Books[:len(b.Books)-1]
	case md.KindBookStatus:
		b.BookStatus = b.BookStatus[:len(b.BookStatus)-1]
	case md.KindBBO:
		b.BBOs = b.BBOs[:len(b.BBOs)-1]
	}
}

// flush writes v's batch and adds the result to its report.
func (r *Runner) flush(ctx context.Context, v *venueRun) error {
	if v.batch.Len() == 0 {
		return nil
	}
	res, err := r.cfg.Store.Write(ctx, &v.batch)
	if err != nil {
		r.err = fmt.Errorf("rerun: store write of %d %s events: %w", v.batch.Len(), v.rep.Venue, err)
		return r.err
	}
	add := func(k md.Kind, w, d int) {
		if w == 0 && d == 0 {
			return
		}
		kr := v.rep.kind(k)
		kr.Stored += uint64(w)
		kr.Duplicates += uint64(d)
	}
	add(md.KindTrade, res.Written.Trades, res.Duplicates.Trades)
	add(md.KindIntegrity, res.Written.Integrity, res.Duplicates.Integrity)
	add(md.KindBookUpdate, res.Written.Books, res.Duplicates.Books)
	add(md.KindBookStatus, res.Written.BookStatus, res.Duplicates.BookStatus)
	add(md.KindBBO, res.Written.BBOs, res.Duplicates.BBOs)
	v.batch = sink.Batch{}
	return nil
}

// Finish writes what is left and returns the report (venues sorted by name).
func (r *Runner) Finish(ctx context.Context) (*Report, error) {
	if r.err != nil {
		return nil, r.err
	}
	names := make([]string, 0, len(r.venues))
	for n := range r.venues {
		names = append(names, n)
	}
	sort.Strings(names)
	rep := &Report{}
	for _, n := range names {
		v := r.venues[n]
		if err := r.flush(ctx, v); err != nil {
			return nil, err
		}
		if v.reg != nil {
			if err := v.rep.collectBookRules(v.reg); err != nil {
				return nil, err
			}
		}
		rep.Venues = append(rep.Venues, v.rep)
	}
	return rep, nil
}
