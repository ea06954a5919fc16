package sink

import (
	"github.com/tickflow/tickflow/md"
)

// Key identifies one watermark: a stream of one instrument, of one event kind, as produced by
// one parser version. Events of one key arrive in strictly increasing provenance (ADR 0002,
// 0007), so a provenance at or below the key's watermark is a duplicate.
//
// The parser version is part of the key so that re-normalized events (same provenance, newer
// parser_version) are stored beside the old ones instead of being dropped as duplicates
// (ARCHITECTURE.md "Re-normalization is not blocked by dedup"); the stores' views then pick
// the newest version per event id. With a single parser version this is exactly the
// (venue, symbol, kind) watermark of ADR 0007.
type Key struct {
	Venue         string
	Symbol        string
	Kind          md.Kind
	ParserVersion uint16
}

// Mark is the watermark of one [Key] as cached by [Watermarks].
type Mark struct {
	Key Key
	// ID is a dense number assigned when the mark is first seen, stable for the lifetime of
	// the Watermarks. Stores may use it to refer to the key within one write.
	ID uint32
	// Stored is the highest provenance committed to the store.
	Stored md.Provenance
	// Next is the highest provenance admitted by the write in progress (== Stored when the
	// mark is not dirty).
	Next  md.Provenance
	dirty bool
}

// Watermarks is a store's in-memory cache of watermarks with a pending layer for the write in
// progress: [Watermarks.Admit] decides per event and advances the pending watermark;
// [Watermarks.Commit] makes the pending state the stored state once the store's transaction
// committed, [Watermarks.Rollback] forgets it when it did not. Every store runs the same
// comparison through this type ("exactly once, the same way on every backend").
//
// The zero value is ready to use. Not goroutine-safe.
type Watermarks struct {
	m     map[Key]*Mark
	all   []*Mark
	dirty []*Mark
	last  *Mark
}

// Len returns the number of keys known.
func (w *Watermarks) Len() int { return len(w.all) }

// Get returns the stored watermark of k.
func (w *Watermarks) Get(k Key) (md.Provenance, bool) {
	m, ok := w.m[k]
	if !ok {
		return md.Provenance{}, false
	}
	return m.Stored, true
}

// Load sets the stored watermark of k, as read from the store. It must not be called while a
// write is in progress (between Admit and Commit/Rollback).
func (w *Watermarks) Load(k Key, p md.Provenance) {
	m := w.mark(k)
	m.Stored, m.Next = p, p
}

// Reset forgets every key, e.g. before reloading from the store after an uncertain commit.
func (w *Watermarks) Reset() {
	clear(w.m)
	w.all = w.all[:0]
	w.dirty = w.dirty[:0]
	w.last = nil
}

func (w *Watermarks) mark(k Key) *Mark {
	if m, ok := w.m[k]; ok {
		return m
	}
	if w.m == nil {
		w.m = make(map[Key]*Mark)
	}
	m := &Mark{Key: k, ID: uint32(len(w.all))}
	w.m[k] = m
	w.all = append(w.all, m)
	return m
}

// Admit reports whether an event of kind with header h is above its key's watermark (the
// stored one, or the highest admitted earlier in this write) and if so advances the pending
// watermark to it. It returns the key's mark either way. Keys never seen have the zero
// watermark, so the zero provenance is never admitted.
func (w *Watermarks) Admit(kind md.Kind, h *md.Header) (*Mark, bool) {
	m := w.last
	if m == nil || m.Key.Kind != kind || m.Key.ParserVersion != h.ParserVersion ||
		m.Key.Symbol != h.Symbol || m.Key.Venue != h.Venue {
		m = w.mark(Key{Venue: h.Venue, Symbol: h.Symbol, Kind: kind, ParserVersion: h.ParserVersion})
		w.last = m
	}
	if h.Prov.Compare(m.Next) <= 0 {
		return m, false
	}
	m.Next = h.Prov
	if !m.dirty {
		m.dirty = true
		w.dirty = append(w.dirty, m)
	}
	return m, true
}

// Dirty returns the marks advanced by the write in progress, in first-admitted order. The
// slice is valid until Commit or Rollback.
func (w *Watermarks) Dirty() []*Mark { return w.dirty }

// Commit makes the pending watermarks stored. Call it after the store's transaction
// committed.
func (w *Watermarks) Commit() {
	for _, m := range w.dirty {
		m.Stored = m.Next
		m.dirty = false
	}
	w.dirty = w.dirty[:0]
}

// Rollback forgets the pending watermarks. Call it when the store's transaction failed.
func (w *Watermarks) Rollback() {
	for _, m := range w.dirty {
		m.Next = m.Stored
		m.dirty = false
	}
	w.dirty = w.dirty[:0]
}
