package normalizer

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// onBook handles one venue book message: it buffers deltas while a book waits for its
// snapshot, bridges snapshots to the buffered deltas under the venue's rule, applies deltas
// to live books, and invalidates books on gaps and crossed states. It publishes nothing for
// a book it knows is wrong.
func (n *Normalizer) onBook(ctx context.Context, bp collectors.BookParser, m *collectors.BookMsg) error {
	b := n.st.Books[m.Symbol]
	if b == nil {
		b = newBook(m.Symbol, m)
		n.st.Books[m.Symbol] = b
	}
	n.m.levels(m.Venue).Add(float64(len(m.Bids) + len(m.Asks)))
	b.changed = true
	if m.Snapshot {
		return n.onSnapshot(ctx, bp, b, m)
	}
	if !b.Live {
		b.bufferCopy(m)
		// Usually the collector is already fetching a snapshot (it saw the same gap); after a
		// restart whose book could not be restored, nobody is: ask (rate-limited, stale-safe).
		n.requestSnapshot(ctx, b, &m.Header, "invalid")
		return nil
	}
	switch bp.ContinueBook(b.LastID, m) {
	case collectors.BookSkip:
		n.m.duplicates(m.Venue, md.KindBookUpdate).Inc()
		return nil
	case collectors.BookGap:
		n.m.gaps(m.Venue, md.KindBookUpdate).Inc()
		gap := md.Integrity{Header: m.Header, Type: md.IntegrityGap, Stream: md.KindBookUpdate,
			From: m.RecvTime, To: m.RecvTime, FirstID: b.LastID + 1, LastID: m.FirstID - 1, Count: m.FirstID - 1 - b.LastID}
		gap.ExchTime = 0
		if err := n.invalidate(ctx, b, &m.Header, md.IntegrityGap, &gap); err != nil {
			return err
		}
		b.bufferCopy(m)
		return nil
	}
	if !b.applyLevels(&b.Bids, m.Bids) || !b.applyLevels(&b.Asks, m.Asks) {
		return n.invalidate(ctx, b, &m.Header, md.IntegrityResyncStarted, nil)
	}
	b.LastID = m.LastID
	if b.crossed() {
		n.m.crossed(m.Venue).Inc()
		n.requestSnapshot(ctx, b, &m.Header, "crossed")
		return n.invalidate(ctx, b, &m.Header, md.IntegrityResyncStarted, nil)
	}
	b.remember(m)
	u := &n.bu
	*u = md.BookUpdate{Header: m.Header, FirstID: m.FirstID, LastID: m.LastID, Depth: b.knownDepth(),
		Bids: append(u.Bids[:0], m.Bids...), Asks: append(u.Asks[:0], m.Asks...)}
	if err := n.publishBook(ctx, b, u); err != nil {
		return err
	}
	if b.pending != nil && b.LastID >= b.pending.LastID {
		p := b.pending
		b.pending = nil
		if err := n.refresh(ctx, bp, b, p, &m.Header); err != nil {
			return err
		}
	} else if n.cfg.BookSnapshotEvery > 0 && m.RecvTime-b.LastSnapPub >= int64(n.cfg.BookSnapshotEvery) {
		// Periodic full snapshot: a consumer starting from the live end (a new gateway) or
		// rebuilding from the store needs a recent base. Deterministic: driven by receive times.
		if err := n.publishSnapshot(ctx, b, &m.Header); err != nil {
			return err
		}
	}
	if b.SnapDepth > 0 && u.Depth < max(b.SnapDepth/2, 1) {
		n.requestSnapshot(ctx, b, &m.Header, "depth")
	}
	return nil
}

// refresh adopts a snapshot taken while the book is live: rolled forward to the book's
// position with the remembered deltas, it extends how deep the book is known right and
// checks the current book for drift (they must agree within the old known depth). A
// snapshot newer than the book waits until the book catches up.
//
// h is the header of the record being processed: the published snapshot takes its provenance
// (with a distinct index), so it sorts after everything published for the book before.
func (n *Normalizer) refresh(ctx context.Context, bp collectors.BookParser, b *book, snap *collectors.BookMsg, h *md.Header) error {
	if snap.LastID > b.LastID {
		c := *snap
		c.Bids = append([]md.Level(nil), snap.Bids...)
		c.Asks = append([]md.Level(nil), snap.Asks...)
		b.pending = &c
		return nil
	}
	nb := &n.scratch
	*nb = book{Symbol: b.Symbol, Bids: side{Bid: true, Px: nb.Bids.Px[:0], Qty: nb.Bids.Qty[:0]},
		Asks: side{Px: nb.Asks.Px[:0], Qty: nb.Asks.Qty[:0]}}
	if !nb.loadSnapshot(snap) {
		return nil
	}
	if snap.LastID < b.LastID {
		last := snap.LastID
		for _, d := range b.ringFrom() {
			switch bp.ContinueBook(last, &d) {
			case collectors.BookSkip:
				continue
			case collectors.BookGap:
				n.m.refreshes(b.Symbol, "unbridged").Inc()
				return nil
			}
			if !nb.applyLevels(&nb.Bids, d.Bids) || !nb.applyLevels(&nb.Asks, d.Asks) {
				return nil
			}
			last = d.LastID
		}
		if last != b.LastID {
			n.m.refreshes(b.Symbol, "unbridged").Inc()
			return nil
		}
	}
	if nb.crossed() {
		return nil
	}
	if k := int(b.knownDepth()); !sameTop(&b.Bids, &nb.Bids, k) || !sameTop(&b.Asks, &nb.Asks, k) {
		n.m.refreshes(b.Symbol, "drift").Inc()
		if !n.logged["drift"] {
			n.logged["drift"] = true
			n.log.Warn("book drift found by a refresh snapshot; book replaced (logged once)", "symbol", b.Symbol)
		}
	} else {
		n.m.refreshes(b.Symbol, "ok").Inc()
	}
	b.Bids, nb.Bids = nb.Bids, b.Bids
	b.Asks, nb.Asks = nb.Asks, b.Asks
	b.PxScale, b.QtyScale = nb.PxScale, nb.QtyScale
	b.BidFloor, b.AskCeil, b.HasBidFloor, b.HasAskCeil, b.SnapDepth = nb.BidFloor, nb.AskCeil, nb.HasBidFloor, nb.HasAskCeil, nb.SnapDepth
	return n.publishSnapshot(ctx, b, h)
}

// Provenance index offsets for events a record causes beyond its own messages, so each
// (symbol, kind) keeps unique, increasing provenance (the sink's watermark, ADR 0007):
// resync-started next to a gap event of the same record, snapshots after its deltas.
const (
	resyncIndex   = 1 << 16
	snapshotIndex = 1 << 20
)

// publishSnapshot publishes the whole book as a snapshot message, with h's provenance.
func (n *Normalizer) publishSnapshot(ctx context.Context, b *book, h *md.Header) error {
	u := &n.bu
	*u = md.BookUpdate{Header: *h, Snapshot: true, FirstID: b.LastID, LastID: b.LastID, Depth: b.knownDepth(),
		Bids: b.Bids.appendLevels(u.Bids[:0], b.PxScale, b.QtyScale, 0),
		Asks: b.Asks.appendLevels(u.Asks[:0], b.PxScale, b.QtyScale, 0)}
	u.Symbol = b.Symbol
	u.Prov.Index += snapshotIndex
	b.LastSnapPub = h.RecvTime
	return n.publishBook(ctx, b, u)
}

func sameTop(a, b *side, k int) bool {
	k = min(k, len(a.Px), len(b.Px))
	for i := 0; i < k; i++ {
		if a.Px[i] != b.Px[i] || a.Qty[i] != b.Qty[i] {
			return false
		}
	}
	return true
}

// resyncRequest is the control message asking a collector for a fresh snapshot of one
// symbol. Epoch and Seq locate the raw record that prompted it; collectors ignore requests
// for an epoch that is no longer current (stale).
type resyncRequest struct {
	Venue  string `json:"venue"`
	Symbol string `json:"symbol"`
	Epoch  uint64 `json:"epoch"`
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// requestSnapshot asks the collector for a snapshot of b's symbol on the control topic, at
// most once per 2 s per book, and never while the normalizer is behind (re-normalizing or
// lagging: the venue state the request would concern is long gone).
func (n *Normalizer) requestSnapshot(ctx context.Context, b *book, h *md.Header, reason string) {
	if n.prod == nil || time.Now().UnixNano()-h.RecvTime > int64(5*time.Second) {
		return
	}
	if b.askedAt != 0 && h.RecvTime-b.askedAt < int64(2*time.Second) {
		return
	}
	b.askedAt = h.RecvTime
	req, _ := json.Marshal(resyncRequest{Venue: h.Venue, Symbol: b.Symbol, Epoch: h.Prov.Epoch, Seq: h.Prov.Seq, Reason: reason})
	n.m.resyncRequests(h.Venue, reason).Inc()
	_ = n.prod.Produce(ctx, transport.ControlTopic(h.Venue), appendKey(nil, h.Venue, b.Symbol), req, nil)
}

func (n *Normalizer) onSnapshot(ctx context.Context, bp collectors.BookParser, b *book, m *collectors.BookMsg) error {
	if b.Live {
		return n.refresh(ctx, bp, b, m, &m.Header)
	}
	// Drop buffered deltas the snapshot already contains; the first remaining one must
	// bridge it. If the snapshot is older than the buffer can bridge, wait for a newer one
	// (the collector re-fetches by the same rule).
	first := 0
	for first < len(b.Buf) && bp.ContinueBook(m.LastID, &b.Buf[first]) == collectors.BookSkip {
		first++
	}
	if first < len(b.Buf) && bp.ContinueBook(m.LastID, &b.Buf[first]) == collectors.BookGap {
		n.m.staleSnapshots(m.Venue).Inc()
		b.Buf = append(b.Buf[:0], b.Buf[first:]...)
		return nil
	}
	if !b.loadSnapshot(m) {
		return nil
	}
	applied := first
	for ; applied < len(b.Buf); applied++ {
		d := &b.Buf[applied]
		v := bp.ContinueBook(b.LastID, d)
		if v == collectors.BookSkip {
			continue
		}
		if v == collectors.BookGap || !b.applyLevels(&b.Bids, d.Bids) || !b.applyLevels(&b.Asks, d.Asks) {
			// The buffer itself has a hole: keep what follows it and wait for a new snapshot.
			b.Buf = append(b.Buf[:0], b.Buf[applied:]...)
			return nil
		}
		b.LastID = d.LastID
	}
	b.Buf = b.Buf[:0]
	if b.crossed() {
		n.m.crossed(m.Venue).Inc()
		return nil
	}
	b.Live = true
	b.LastSnapPub = m.RecvTime
	b.ring, b.ringNext, b.pending = b.ring[:0], 0, nil
	u := &n.bu
	*u = md.BookUpdate{Header: m.Header, Snapshot: true, FirstID: b.LastID, LastID: b.LastID, Depth: b.knownDepth(),
		Bids: b.Bids.appendLevels(u.Bids[:0], b.PxScale, b.QtyScale, 0),
		Asks: b.Asks.appendLevels(u.Asks[:0], b.PxScale, b.QtyScale, 0)}
	if err := n.publishBook(ctx, b, u); err != nil {
		return err
	}
	st := md.BookStatus{Header: m.Header, State: md.BookValid, Seq: b.Seq}
	if err := n.emitBookStatus(ctx, &st); err != nil {
		return err
	}
	if b.InvalidSince != 0 {
		ev := md.Integrity{Header: m.Header, Type: md.IntegrityResyncDone, Stream: md.KindBookUpdate,
			From: b.InvalidSince, To: m.RecvTime}
		n.m.invalidTime(m.Venue).Observe(float64(m.RecvTime-b.InvalidSince) / float64(time.Second))
		b.InvalidSince = 0
		if err := n.emitIntegrity(ctx, &ev); err != nil {
			return err
		}
	}
	return nil
}

// invalidate marks a live book wrong: status invalid (reason), an optional integrity event,
// and a resync-started event. The book then waits for a snapshot.
func (n *Normalizer) invalidate(ctx context.Context, b *book, h *md.Header, reason md.IntegrityType, ev *md.Integrity) error {
	if !b.Live {
		return nil
	}
	b.Live = false
	b.InvalidSince = h.RecvTime
	b.Buf = b.Buf[:0]
	b.ring, b.ringNext, b.pending = b.ring[:0], 0, nil
	st := md.BookStatus{Header: *h, State: md.BookInvalid, Reason: reason, Seq: b.Seq}
	st.Symbol = b.Symbol
	if err := n.emitBookStatus(ctx, &st); err != nil {
		return err
	}
	if ev != nil {
		if err := n.emitIntegrity(ctx, ev); err != nil {
			return err
		}
	}
	rs := md.Integrity{Header: *h, Type: md.IntegrityResyncStarted, Stream: md.KindBookUpdate, From: h.RecvTime}
	rs.Symbol = b.Symbol
	rs.Prov.Index += resyncIndex
	return n.emitIntegrity(ctx, &rs)
}

func (n *Normalizer) publishBook(ctx context.Context, b *book, u *md.BookUpdate) error {
	b.Seq++
	u.Seq, u.PrevSeq = b.Seq, b.Seq-1
	u.ParserVersion = n.version
	o := n.msg()
	o.val = md.AppendBookUpdate(o.val[:0], u)
	return n.emit(ctx, o, &u.Header, md.KindBookUpdate, transport.TopicBooks)
}

func (n *Normalizer) emitBookStatus(ctx context.Context, st *md.BookStatus) error {
	st.ParserVersion = n.version
	o := n.msg()
	o.val = md.AppendBookStatus(o.val[:0], st)
	return n.emit(ctx, o, &st.Header, md.KindBookStatus, transport.TopicBooks)
}

func (n *Normalizer) emitBBO(ctx context.Context, q *md.BBO) error {
	q.ParserVersion = n.version
	o := n.msg()
	o.val = md.AppendBBO(o.val[:0], q)
	return n.emit(ctx, o, &q.Header, md.KindBBO, transport.TopicBBO)
}

// invalidateSlot marks the live books of a slot's symbols invalid when its connection ended.
func (n *Normalizer) invalidateSlot(ctx context.Context, rec *md.RawRecord, natives []string) error {
	for i, native := range natives {
		in := n.parser.Instrument(native)
		if in == nil {
			continue
		}
		b := n.st.Books[in.Symbol]
		if b == nil || !b.Live {
			continue
		}
		h := md.Header{Venue: rec.Venue, Symbol: in.Symbol, RecvTime: rec.RecvTime,
			Prov: md.Provenance{Epoch: rec.Epoch, Seq: rec.Seq, Index: uint32(i)}}
		if err := n.invalidate(ctx, b, &h, md.IntegrityDisconnect, nil); err != nil {
			return err
		}
	}
	return nil
}
