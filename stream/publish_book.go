package stream

import (
	"strings"

	"github.com/tickflow/tickflow/md"
)

// ---- publishing books and BBO ----

// PublishBookUpdate applies u, a snapshot or a delta of one instrument's L2 book, to the
// gateway's copy of the book and delivers it to the clients subscribed to channels
// matching book:<venue>:<symbol>[@<depth>]: a snapshot as a book_snapshot frame of each
// channel's top levels, a delta as a book_delta frame carrying the levels that changed
// within each channel's depth (none if nothing did).
//
// Updates must come in the book's order (one feeder goroutine reading the books topic,
// whose key keeps an instrument's messages in order). A snapshot always replaces the book
// (a normalizer restarted without its state restarts the sequence). A delta whose Seq the
// book has already reached is ignored (a redelivered or replayed message); one whose
// PrevSeq is not the book's Seq makes the book invalid (book_status, reason gateway_gap)
// until the next snapshot. A book the gateway has seen no snapshot of is invalid (reason
// no_snapshot). Deltas of a book that is not valid are not forwarded.
// Like PublishTrade it encodes each frame once per depth, never blocks on clients, does
// not allocate in steady state and does not retain u; it is a no-op after Close.
func (g *Gateway) PublishBookUpdate(u *md.BookUpdate) {
	g.pubMu.Lock()
	if !g.closed.Load() {
		b, created := g.book(u.Venue, u.Symbol)
		if u.Snapshot {
			g.m.published[msgBookSnapshot].Inc()
			g.bookSnapshot(b, u)
		} else {
			g.m.published[msgBookDelta].Inc()
			g.bookDelta(b, u, created)
		}
	}
	g.pubMu.Unlock()
}

// PublishBookStatus records a change of a book's validity and forwards it as a
// book_status frame to the book's subscribers. BookInvalid makes the gateway's copy
// invalid (clients get no deltas until the snapshot that repairs it); BookValid, which
// follows that snapshot, is forwarded when the gateway's copy is valid (it is not when the
// gateway missed the snapshot). Same contract as PublishBookUpdate.
func (g *Gateway) PublishBookStatus(st *md.BookStatus) {
	g.pubMu.Lock()
	if !g.closed.Load() {
		g.m.published[msgBookStatus].Inc()
		b, _ := g.book(st.Venue, st.Symbol)
		switch st.State {
		case md.BookInvalid:
			reason := reasonUnspecified
			if st.Reason != 0 {
				reason = st.Reason.String()
			}
			b.valid, b.reason = false, reason
			b.version++
			g.broadcastStatus(b, st.Seq, false, reason, &st.Header)
		case md.BookValid:
			if b.valid {
				g.broadcastStatus(b, st.Seq, true, "", &st.Header)
			}
		}
	}
	g.pubMu.Unlock()
}

// PublishBBO delivers q to every client subscribed to a channel matching
// bbo:<venue>:<symbol>. BBO frames conflate: a client's queue holds at most one not yet
// written BBO frame per channel, which a newer one replaces in place, so a slow client
// gets the latest BBO rather than a backlog. The gateway keeps the latest BBO of each
// channel and sends it to new subscribers. Same contract as PublishTrade.
func (g *Gateway) PublishBBO(q *md.BBO) {
	g.pubMu.Lock()
	if !g.closed.Load() {
		g.m.published[msgBBO].Inc()
		cs := g.channel(KindBBO, q.Venue, q.Symbol)
		cs.seq++
		cs.bbo, cs.hasBBO = *q, true
		g.pubSeq++
		var m *message
		for i, sh := range cs.shards {
			sh.mu.RLock()
			set := sh.subs[cs.pats[i]]
			if len(set) > 0 && m == nil {
				m = newMessage(msgBBO)
				m.buf = appendBBO(m.buf, cs, cs.seq, q)
				m.pub = g.now()
			}
			for c := range set {
				if c.lastPub != g.pubSeq {
					c.lastPub = g.pubSeq
					c.enqueueBBO(m, cs)
				}
			}
			sh.mu.RUnlock()
		}
		if m != nil {
			m.release()
		}
	}
	g.pubMu.Unlock()
}

// book returns the state of the book (venue, symbol), creating it on first use. Caller
// holds pubMu.
func (g *Gateway) book(venue, symbol string) (*bookState, bool) {
	key := Channel{Kind: KindBook, Venue: venue, Symbol: symbol}
	if b, ok := g.books[key]; ok {
		return b, false
	}
	canon := Channel{Kind: KindBook, Venue: strings.ToLower(venue), Symbol: strings.ToUpper(symbol)}
	b, ok := g.booksCanon[canon]
	if !ok {
		b = newBookState(g.index, canon)
		g.booksCanon[canon] = b
	}
	g.books[key] = b
	return b, !ok
}

// refOption counts the subscriptions to book channels per depth option; the book classes
// of an option are visited only while it is in use. Caller holds pubMu.
func (g *Gateway) refOption(ch Channel, delta int32) {
	if ch.Kind != KindBook {
		return
	}
	g.bookOptRefs[ch.Depth] += delta
	if delta > 0 && g.bookOptRefs[ch.Depth] == delta {
		g.bookOptGen++ // a new option: books create its class when they next publish
	}
}

// syncClasses gives b a class for every depth option in use.
func (g *Gateway) syncClasses(b *bookState) {
	if b.optGen == g.bookOptGen {
		return
	}
	b.optGen = g.bookOptGen
	for opt, n := range g.bookOptRefs {
		if n > 0 {
			b.class(g.index, uint16(opt))
		}
	}
}

// hasSubs reports whether any connection is subscribed to a pattern matching cls.
func (g *Gateway) hasSubs(cls *bookClass) bool {
	for i, sh := range cls.shards {
		sh.mu.RLock()
		n := len(sh.subs[cls.pats[i]])
		sh.mu.RUnlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// hasOtherSubs reports whether a connection other than c is subscribed to cls.
func (g *Gateway) hasOtherSubs(cls *bookClass, c *conn) bool {
	for i, sh := range cls.shards {
		sh.mu.RLock()
		set := sh.subs[cls.pats[i]]
		n := len(set)
		if _, me := set[c]; me {
			n--
		}
		sh.mu.RUnlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// subscribedTo reports whether c holds a pattern matching cls.
func (g *Gateway) subscribedTo(c *conn, cls *bookClass) bool {
	for i, sh := range cls.shards {
		sh.mu.RLock()
		_, ok := sh.subs[cls.pats[i]][c]
		sh.mu.RUnlock()
		if ok {
			return true
		}
	}
	return false
}

// fanoutBook enqueues m, a frame of class cls, to every subscriber of cls, once each.
func (g *Gateway) fanoutBook(cls *bookClass, m *message) {
	g.pubSeq++
	for i, sh := range cls.shards {
		sh.mu.RLock()
		for c := range sh.subs[cls.pats[i]] {
			if c.lastPub != g.pubSeq {
				c.lastPub = g.pubSeq
				c.enqueueBook(m)
			}
		}
		sh.mu.RUnlock()
	}
}

// scalesOf returns the scales of the first level of u.
func scalesOf(u *md.BookUpdate) (px, qty uint8, ok bool) {
	for _, ls := range [2][]md.Level{u.Bids, u.Asks} {
		if len(ls) > 0 {
			return ls[0].Price.Scale, ls[0].Qty.Scale, true
		}
	}
	return 0, 0, false
}

// bookSnapshot replaces b with snapshot u and sends each class's snapshot to its
// subscribers.
func (g *Gateway) bookSnapshot(b *bookState, u *md.BookUpdate) {
	sc := &g.bscr
	px, qty, ok := scalesOf(u)
	if !ok && b.scaled {
		px, qty = b.pxScale, b.qtyScale
	}
	if !sc.bids.loadLevels(u.Bids, px, qty) || !sc.asks.loadLevels(u.Asks, px, qty) {
		// Mixed scales that cannot be unified: the normalizer never sends them.
		g.m.bookGaps.Inc()
		g.invalidate(b, reasonGatewayGap, &u.Header)
		b.seq = u.Seq
		return
	}
	b.pxScale, b.qtyScale, b.scaled = px, qty, ok || b.scaled
	b.bids.load(sc.bids.lpx, sc.bids.lqty)
	b.asks.load(sc.asks.lpx, sc.asks.lqty)
	b.valid, b.reason = true, ""
	b.seq, b.knownDepth, b.lastID = u.Seq, u.Depth, u.LastID
	b.setHeader(&u.Header)
	b.version++
	g.syncClasses(b)
	for _, cls := range b.classes {
		cls.dropSnap()
		if g.bookOptRefs[cls.opt] == 0 || !g.hasSubs(cls) {
			continue
		}
		m := g.classSnapshot(cls)
		cls.lastSeq = b.seq
		g.fanoutBook(cls, m)
		m.release()
	}
}

// bookDelta applies delta u to b and sends each class the levels that changed within its
// depth.
func (g *Gateway) bookDelta(b *bookState, u *md.BookUpdate, created bool) {
	if !b.valid {
		g.m.bookIgnored.Inc()
		b.seq = u.Seq
		if created {
			// First news of this book: tell wildcard and early subscribers it exists but
			// cannot be served until a snapshot comes.
			g.broadcastStatus(b, b.seq, false, b.reason, &u.Header)
		}
		return
	}
	if u.Seq <= b.seq {
		// Already applied: a redelivered or replayed message (Kafka delivers at least once).
		g.m.bookIgnored.Inc()
		return
	}
	if u.PrevSeq != b.seq {
		g.m.bookGaps.Inc()
		g.invalidate(b, reasonGatewayGap, &u.Header)
		b.seq = u.Seq
		return
	}
	if !b.scaled {
		if px, qty, ok := scalesOf(u); ok {
			b.pxScale, b.qtyScale, b.scaled = px, qty, true
		}
	}
	sc := &g.bscr
	if !sc.bids.loadLevels(u.Bids, b.pxScale, b.qtyScale) || !sc.asks.loadLevels(u.Asks, b.pxScale, b.qtyScale) {
		g.m.bookGaps.Inc()
		g.invalidate(b, reasonGatewayGap, &u.Header)
		b.seq = u.Seq
		return
	}
	g.syncClasses(b)
	active := false
	for _, cls := range b.classes {
		cls.dropSnap()
		if g.bookOptRefs[cls.opt] > 0 {
			active = true
			cls.captureEdges()
		}
	}
	if active {
		sc.bids.prepare(&b.bids)
		sc.asks.prepare(&b.asks)
	}
	sc.bids.apply(&b.bids)
	sc.asks.apply(&b.asks)
	b.seq, b.lastID = u.Seq, u.LastID
	b.setHeader(&u.Header)
	b.version++
	if !active {
		return
	}
	sc.bids.finish(&b.bids)
	sc.asks.finish(&b.asks)
	for _, cls := range b.classes {
		if g.bookOptRefs[cls.opt] == 0 || !g.hasSubs(cls) {
			continue
		}
		sc.bids.out = sc.bids.window(sc.bids.out[:0], &b.bids, cls.depth, cls.oldLen[0], cls.oldEdge[0])
		sc.asks.out = sc.asks.window(sc.asks.out[:0], &b.asks, cls.depth, cls.oldLen[1], cls.oldEdge[1])
		if len(sc.bids.out) == 0 && len(sc.asks.out) == 0 {
			continue // nothing changed within this depth
		}
		m := newMessage(msgBookDelta)
		m.cls = cls
		m.buf = appendBookDelta(m.buf, cls, u, cls.lastSeq, sc.bids.out, sc.asks.out)
		m.pub = g.now()
		cls.lastSeq = u.Seq
		g.fanoutBook(cls, m)
		m.release()
	}
}

// invalidate marks b invalid for a reason of the gateway's own and tells its subscribers.
func (g *Gateway) invalidate(b *bookState, reason string, h *md.Header) {
	b.valid, b.reason = false, reason
	b.version++
	g.broadcastStatus(b, b.seq, false, reason, h)
}

// broadcastStatus sends a book_status frame to the subscribers of every class of b.
func (g *Gateway) broadcastStatus(b *bookState, seq uint64, valid bool, reason string, h *md.Header) {
	g.syncClasses(b)
	for _, cls := range b.classes {
		if !valid {
			cls.dropSnap()
		}
		if g.bookOptRefs[cls.opt] == 0 || !g.hasSubs(cls) {
			continue
		}
		m := newMessage(msgBookStatus)
		m.cls = cls
		m.buf = appendBookStatus(m.buf, cls, seq, valid, reason, h)
		m.pub = g.now()
		g.fanoutBook(cls, m)
		m.release()
	}
}

// classSnapshot returns the snapshot frame of cls at the book's current state, holding one
// reference for the caller. It is cached until the book changes, so many clients
// subscribing or catching up at once share one encoding.
func (g *Gateway) classSnapshot(cls *bookClass) *message {
	b := cls.book
	if cls.snap != nil && cls.snapVer == b.version {
		cls.snap.retain()
		return cls.snap
	}
	cls.dropSnap()
	m := newMessage(msgBookSnapshot)
	m.cls = cls
	m.buf = appendBookSnapshot(m.buf, cls)
	m.retain() // the cache's reference
	cls.snap, cls.snapVer = m, b.version
	return m
}

// stateFrame returns the frame that gives a client the current state of cls: its snapshot
// when the book is valid, else a book_status invalid frame.
func (g *Gateway) stateFrame(cls *bookClass, c *conn) *message {
	b := cls.book
	if b.valid {
		if !g.hasOtherSubs(cls, c) {
			// Nobody else follows this class: its next delta may name the snapshot as its
			// prev_seq rather than an older frame.
			cls.lastSeq = b.seq
		}
		return g.classSnapshot(cls)
	}
	m := newMessage(msgBookStatus)
	m.cls = cls
	m.buf = appendBookStatus(m.buf, cls, b.seq, false, b.reason, &b.hdr)
	return m
}

// noteMessage returns the slow_consumer book_status frame of cls.
func (g *Gateway) noteMessage(cls *bookClass) *message {
	b := cls.book
	m := newMessage(msgBookStatus)
	m.cls = cls
	m.buf = appendBookStatus(m.buf, cls, b.seq, false, reasonSlowConsumer, &b.hdr)
	return m
}

// ---- subscribe: current state of book and BBO channels ----

// initialState queues, for the book and BBO channels matching the patterns a client has
// just subscribed to (added, not yet in c.subs or the index), their current state: each
// matching book's snapshot (or an invalid book_status) and each channel's latest BBO. A
// stream the client already receives through a pattern it held before gets nothing, and
// each stream gets one frame however many new patterns match it. Caller holds pubMu.
func (g *Gateway) initialState(c *conn, added []Channel) {
	var (
		books map[*bookClass]struct{}
		bbos  map[*chanState]struct{}
	)
	for _, p := range added {
		switch p.Kind {
		case KindBook:
			if books == nil {
				books = make(map[*bookClass]struct{})
			}
			if !p.IsPattern() {
				if b := g.booksCanon[Channel{Kind: KindBook, Venue: p.Venue, Symbol: p.Symbol}]; b != nil {
					g.initialBook(c, b.class(g.index, p.Depth), books)
				}
				continue
			}
			for _, b := range g.booksCanon {
				if p.Matches(KindBook, b.ch.Venue, b.ch.Symbol) {
					g.initialBook(c, b.class(g.index, p.Depth), books)
				}
			}
		case KindBBO:
			if bbos == nil {
				bbos = make(map[*chanState]struct{})
			}
			for _, cs := range g.bbos {
				if p.Matches(KindBBO, cs.ch.Venue, cs.ch.Symbol) {
					g.initialBBO(c, cs, bbos)
				}
			}
		}
	}
}

func (g *Gateway) initialBook(c *conn, cls *bookClass, done map[*bookClass]struct{}) {
	if _, ok := done[cls]; ok {
		return
	}
	done[cls] = struct{}{}
	for _, p := range cls.pats {
		if _, held := c.subs[p]; held {
			return // already streaming to this client
		}
	}
	m := g.stateFrame(cls, c)
	c.enqueueBook(m)
	m.release()
}

func (g *Gateway) initialBBO(c *conn, cs *chanState, done map[*chanState]struct{}) {
	if _, ok := done[cs]; ok || !cs.hasBBO {
		return
	}
	done[cs] = struct{}{}
	for _, p := range cs.pats {
		if _, held := c.subs[p]; held {
			return
		}
	}
	m := newMessage(msgBBO)
	m.buf = appendBBO(m.buf, cs, cs.seq, &cs.bbo)
	c.enqueueBBO(m, cs)
	m.release()
}

// ---- slow clients on book channels ----

// resync runs on c's writer goroutine once c's queue has drained to half its limit while
// some of its book streams are suspended: it queues, for each (as long as they fit), the
// slow_consumer note if still owed and a fresh snapshot (or the invalid status of a book
// that is not valid), and resumes the stream. Under pubMu, so the snapshot and the next
// delta are consecutive.
func (g *Gateway) resync(c *conn) {
	g.pubMu.Lock()
	defer g.pubMu.Unlock()
	if g.closed.Load() {
		return
	}
	c.mu.Lock()
	list := c.resyncList[:0]
	for cls := range c.resync {
		list = append(list, cls)
	}
	c.mu.Unlock()
	for _, cls := range list {
		if !g.subscribedTo(c, cls) {
			c.mu.Lock()
			delete(c.resync, cls)
			c.mu.Unlock()
			continue
		}
		if !g.resume(c, cls) {
			break
		}
	}
	clear(list)
	c.resyncList = list[:0]
}

// resume ends c's suspension of cls if its state frame fits in c's queue.
func (g *Gateway) resume(c *conn, cls *bookClass) bool {
	m := g.stateFrame(cls, c)
	defer m.release()
	c.mu.Lock()
	if c.closing != reasonNone {
		c.mu.Unlock()
		return false
	}
	owed, pending := c.resync[cls]
	if !pending {
		c.mu.Unlock()
		return true
	}
	if c.overflowsLocked(len(m.buf)) {
		c.mu.Unlock()
		return false
	}
	first := false
	if owed && m.kind == msgBookSnapshot {
		n := g.noteMessage(cls)
		first = c.appendLocked(n)
		n.release()
	}
	delete(c.resync, cls)
	first = c.appendLocked(m) || first
	c.mu.Unlock()
	if first {
		c.signal()
	}
	return true
}

// enqueueBook adds m, a frame of book stream m.cls, to the queue unless the stream is
// suspended for this client. If the queue would overflow, the client is not disconnected:
// the stream's queued frames are dropped, the stream is suspended, and a slow_consumer
// book_status note is queued (now if it fits, else before the snapshot); Gateway.resync
// resumes the stream with a fresh snapshot once the client has caught up. Caller holds
// pubMu.
func (c *conn) enqueueBook(m *message) {
	c.mu.Lock()
	if c.closing != reasonNone {
		c.mu.Unlock()
		return
	}
	if len(c.resync) > 0 {
		if _, ok := c.resync[m.cls]; ok {
			c.mu.Unlock()
			return
		}
	}
	var first bool
	if c.overflowsLocked(len(m.buf)) {
		c.suspendLocked(m.cls)
		c.g.m.resnapshots.Inc()
		n := c.g.noteMessage(m.cls)
		if !c.overflowsLocked(len(n.buf)) {
			first = c.appendLocked(n)
			c.resync[m.cls] = false
		}
		n.release()
	} else {
		first = c.appendLocked(m)
	}
	c.mu.Unlock()
	if first {
		c.signal()
	}
}

// suspendLocked drops the queued frames of book stream cls and suspends the stream, with
// the slow_consumer note owed.
func (c *conn) suspendLocked(cls *bookClass) {
	for i, m := range c.queue {
		if m != nil && m.cls == cls {
			c.queued -= len(m.buf)
			m.release()
			c.queue[i] = nil
		}
	}
	if c.resync == nil {
		c.resync = make(map[*bookClass]bool)
	}
	c.resync[cls] = true
}

// evictBooksLocked drops every queued book frame and suspends those streams (the
// slow_consumer note owed), to make room for frames that cannot be conflated.
func (c *conn) evictBooksLocked() {
	for i, m := range c.queue {
		if m == nil || m.cls == nil {
			continue
		}
		if c.resync == nil {
			c.resync = make(map[*bookClass]bool)
		}
		if _, ok := c.resync[m.cls]; !ok {
			c.g.m.resnapshots.Inc()
		}
		c.resync[m.cls] = true
		c.queued -= len(m.buf)
		m.release()
		c.queue[i] = nil
	}
}

// enqueueBBO adds m, the BBO frame of channel cs, to the queue, replacing the channel's
// frame still waiting there if there is one. A new slot that would overflow the queue
// evicts book backlogs first, then makes the client a slow consumer.
func (c *conn) enqueueBBO(m *message, cs *chanState) {
	c.mu.Lock()
	if c.closing != reasonNone {
		c.mu.Unlock()
		return
	}
	if i, ok := c.bboSlot[cs]; ok {
		old := c.queue[i]
		c.queued += len(m.buf) - len(old.buf)
		m.retain()
		c.queue[i] = m
		old.release()
		c.mu.Unlock()
		c.g.m.conflated.Inc()
		return
	}
	if c.overflowsLocked(len(m.buf)) {
		c.evictBooksLocked()
		if c.overflowsLocked(len(m.buf)) {
			c.slowLocked()
			c.mu.Unlock()
			c.signal()
			return
		}
	}
	if c.bboSlot == nil {
		c.bboSlot = make(map[*chanState]int)
	}
	c.bboSlot[cs] = len(c.queue)
	first := c.appendLocked(m)
	c.mu.Unlock()
	if first {
		c.signal()
	}
}
