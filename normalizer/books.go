package normalizer

import (
	"context"
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
	if m.Snapshot {
		return n.onSnapshot(ctx, bp, b, m)
	}
	if !b.Live {
		b.bufferCopy(m)
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
		return n.invalidate(ctx, b, &m.Header, md.IntegrityResyncStarted, nil)
	}
	u := &n.bu
	*u = md.BookUpdate{Header: m.Header, FirstID: m.FirstID, LastID: m.LastID, Depth: b.Depth,
		Bids: append(u.Bids[:0], m.Bids...), Asks: append(u.Asks[:0], m.Asks...)}
	return n.publishBook(ctx, b, u)
}

func (n *Normalizer) onSnapshot(ctx context.Context, bp collectors.BookParser, b *book, m *collectors.BookMsg) error {
	if b.Live {
		return nil // periodic snapshot while in sync: the book already follows every update
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
	u := &n.bu
	*u = md.BookUpdate{Header: m.Header, Snapshot: true, FirstID: b.LastID, LastID: b.LastID, Depth: b.Depth,
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
	rs.Prov.Index += 1 << 16 // distinct from ev's index within the same record
	return n.emitIntegrity(ctx, &rs)
}

func (n *Normalizer) publishBook(ctx context.Context, b *book, u *md.BookUpdate) error {
	b.Seq++
	u.Seq, u.PrevSeq = b.Seq, b.Seq-1
	u.ParserVersion = n.version
	o := n.msg()
	o.key = appendKey(o.key[:0], u.Venue, u.Symbol)
	o.val = md.AppendBookUpdate(o.val[:0], u)
	n.st.Counts["book"]++
	n.m.emitted(u.Venue, md.KindBookUpdate).Inc()
	return n.send(ctx, transport.TopicBooks, md.KindBookUpdate, o)
}

func (n *Normalizer) emitBookStatus(ctx context.Context, st *md.BookStatus) error {
	st.ParserVersion = n.version
	o := n.msg()
	o.key = appendKey(o.key[:0], st.Venue, st.Symbol)
	o.val = md.AppendBookStatus(o.val[:0], st)
	n.st.Counts["book_status"]++
	n.m.emitted(st.Venue, md.KindBookStatus).Inc()
	return n.send(ctx, transport.TopicBooks, md.KindBookStatus, o)
}

func (n *Normalizer) emitBBO(ctx context.Context, q *md.BBO) error {
	q.ParserVersion = n.version
	o := n.msg()
	o.key = appendKey(o.key[:0], q.Venue, q.Symbol)
	o.val = md.AppendBBO(o.val[:0], q)
	n.st.Counts["bbo"]++
	n.m.emitted(q.Venue, md.KindBBO).Inc()
	return n.send(ctx, transport.TopicBBO, md.KindBBO, o)
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
