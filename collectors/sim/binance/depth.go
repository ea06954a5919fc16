package binancesim

import (
	"slices"
	"time"
)

// This file publishes the order books (book.go) from the generation
// goroutine: bookTicker after every operation that changes the best bid
// or ask, and at every 100 ms boundary the diff depth events (100 ms, and
// every tenth boundary the 1000 ms ones), partial book depth and the
// BookLog lines. Every event is encoded once into the shared arena and
// the same bytes are queued on every subscribed connection.

// Depth intervals: a 100 ms boundary every depthInterval; the first one
// at or after each slowEvery*depthInterval also closes the 1000 ms
// interval, so both streams end their events on the same update ids.
const (
	depthInterval = 100 * time.Millisecond
	slowEvery     = 10
)

// beginFrame makes room in the arena for a frame of about need bytes and
// appends the combined-stream prefix of kind; it returns where the frame
// and its raw payload start. An underestimated need costs a copy only.
func (g *genScratch) beginFrame(sym *symbolState, kind int, need int) (start, rawOff int) {
	need += len(sym.streamPrefix[kind]) + 1
	if cap(g.arena)-len(g.arena) < need {
		g.arena = make([]byte, 0, max(arenaChunk, need))
	}
	start = len(g.arena)
	g.arena = append(g.arena, sym.streamPrefix[kind]...)
	return start, len(g.arena) - start
}

// endFrame closes the combined wrapper and returns the shareable frame.
func (g *genScratch) endFrame(sym *symbolState, kind, start, rawOff int) outFrame {
	g.arena = append(g.arena, '}')
	return outFrame{
		b:      g.arena[start:len(g.arena):len(g.arena)],
		rawOff: int32(rawOff),
		sym:    int32(sym.index),
		kind:   frameEvent,
		stream: uint8(kind),
	}
}

func fanOut(subs []*wsConn, f outFrame) {
	for _, c := range subs {
		c.enqueue(f)
	}
}

// subscribers returns the connections subscribed to kind of sym, nil if none.
func (sym *symbolState) subscribers(kind int) []*wsConn {
	if p := sym.subs[kind].Load(); p != nil && len(*p) > 0 {
		return *p
	}
	return nil
}

// bookTrade executes trade t on sym's book, then the order flow that
// follows it, publishing bookTicker after each operation that moved the
// top of the book. The book lock is held for the whole trade (REST
// snapshots wait at most that long); bookTicker frames are encoded under
// it but queued after it is released, so locks never nest.
func (s *Server) bookTrade(g *genScratch, sym *symbolState, t trade) {
	b := &sym.book
	subs := sym.subscribers(kindBookTicker)
	b.mu.Lock()
	changed := b.applyTrade(t)
	g.checkTop(sym, subs)
	for range b.opsAfterTrade(changed) {
		b.randomOp(t.priceTicks)
		g.checkTop(sym, subs)
	}
	b.mu.Unlock()
	if len(g.pending) > 0 {
		for _, f := range g.pending {
			fanOut(subs, f)
		}
		g.tickers += int64(len(g.pending))
		clear(g.pending)
		g.pending = g.pending[:0]
	}
}

// checkTop encodes a bookTicker event into g.pending if the best bid or
// ask changed and anyone (subs) listens.
func (g *genScratch) checkTop(sym *symbolState, subs []*wsConn) {
	b := &sym.book
	top := b.currentTop()
	if top == b.top {
		return
	}
	b.top = top
	if subs == nil {
		return
	}
	start, rawOff := g.beginFrame(sym, kindBookTicker, 64+2*maxLevelBytes+len(sym.inst.Symbol))
	g.arena = sym.appendBookTicker(g.arena, b.lastID, top)
	g.pending = append(g.pending, g.endFrame(sym, kindBookTicker, start, rawOff))
}

// publishDepth closes the current 100 ms interval of every symbol (and the
// 1000 ms one when slow): BookLog lines, diff depth and partial depth.
func (s *Server) publishDepth(g *genScratch, ms int64, slow bool) {
	var batches, updates, events, partials int64
	for _, sym := range s.syms {
		b := &sym.book
		if b.lastID > b.u100 {
			first, last := b.u100+1, b.lastID
			batches++
			updates += last - first + 1
			if s.blog != nil {
				var h uint64
				h, g.hashBuf = sym.hashTop(g.hashBuf, s.cfg.BookHashDepth)
				g.bookLogBuf = sym.appendBookLogLine(g.bookLogBuf, last, h)
			}
			if subs := sym.subscribers(kindDepth100); subs != nil {
				b.dirty = sortUnique(b.dirty)
				s.publishDiff(g, sym, kindDepth100, subs, ms, first, last, b.dirty)
				events++
			}
			b.dirty1s = append(b.dirty1s, b.dirty...)
			b.dirty = b.dirty[:0]
			b.u100 = last
		}
		if slow && b.lastID > b.u1s {
			first, last := b.u1s+1, b.lastID
			if subs := sym.subscribers(kindDepth); subs != nil {
				b.dirty1s = sortUnique(b.dirty1s)
				s.publishDiff(g, sym, kindDepth, subs, ms, first, last, b.dirty1s)
				events++
			}
			b.dirty1s = b.dirty1s[:0]
			b.u1s = last
		}
		for kind := kindPartial5; kind <= kindPartial20Fast; kind++ {
			if kind < kindPartial5Fast && !slow {
				continue
			}
			if subs := sym.subscribers(kind); subs != nil {
				n := partialLevels(kind)
				start, rawOff := g.beginFrame(sym, kind, 64+2*n*maxLevelBytes)
				g.arena = sym.appendTopLevels(g.arena, n)
				fanOut(subs, g.endFrame(sym, kind, start, rawOff))
				partials++
			}
		}
	}
	s.stats.depthBatches.Add(batches)
	s.stats.bookUpdates.Add(updates)
	s.stats.depthEvents.Add(events)
	s.stats.partialEvents.Add(partials)
	if s.blog != nil {
		s.blog.write(g.bookLogBuf)
		g.bookLogBuf = g.bookLogBuf[:0]
		if slow {
			s.blog.flush()
		}
	}
}

// publishDiff encodes one diff depth event and queues it on subs.
func (s *Server) publishDiff(g *genScratch, sym *symbolState, kind int, subs []*wsConn, ms, first, last int64, changed []int64) {
	start, rawOff := g.beginFrame(sym, kind, 128+len(changed)*maxLevelBytes)
	g.arena = sym.appendDepthEvent(g.arena, ms, first, last, changed)
	fanOut(subs, g.endFrame(sym, kind, start, rawOff))
}

// sortUnique sorts keys and removes repeats in place.
func sortUnique(keys []int64) []int64 {
	slices.Sort(keys)
	return slices.Compact(keys)
}
