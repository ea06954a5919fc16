package binancesim

import (
	"bufio"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// The writer goroutine of a connection: every byte written to the socket
// after the handshake comes from here (see the note at the top of ws.go).

// writeLoop owns every write to the socket and the connection's timers.
func (c *wsConn) writeLoop() {
	defer c.s.wg.Done()
	s := c.s
	cfg := s.cfg
	bw := bufio.NewWriterSize(c.nc, writeBufSize)

	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	check := time.NewTicker(max(cfg.PongTimeout/4, time.Millisecond))
	defer check.Stop()
	life := time.NewTimer(cfg.ConnLifetime)
	defer life.Stop()
	var discC, staleC <-chan time.Time
	if d := c.faults.jitter(cfg.Faults.DisconnectEvery); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		discC = t.C
	}
	if d := c.faults.jitter(cfg.Faults.StaleEvery); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		staleC = t.C
	}
	var pingTimes [pingRing]time.Time
	var pingSeq int64

	for {
		select {
		case <-c.done:
			return
		case <-c.wakeC:
			if err := c.flushQueue(bw); err != nil {
				c.kill(true)
				return
			}
		case now := <-ping.C:
			if c.stale {
				continue
			}
			pingSeq++
			pingTimes[pingSeq%pingRing] = now
			c.pingSent.Store(pingSeq)
			var p [maxPingPayload]byte
			if err := c.writeControl(bw, opPing, strconv.AppendInt(p[:0], pingSeq, 10), DefaultWriteTimeout); err != nil {
				c.kill(true)
				return
			}
		case now := <-check.C:
			acked := c.pongSeq.Load()
			if c.stale || pingSeq <= acked {
				continue
			}
			oldest := max(acked+1, pingSeq-pingRing+1)
			if now.Sub(pingTimes[oldest%pingRing]) > cfg.PongTimeout {
				s.stats.pongTimeouts.Add(1)
				c.requestClose(closeRequest{})
			}
		case <-life.C:
			s.stats.lifetimeCloses.Add(1)
			c.requestClose(closeRequest{code: websocket.CloseNormalClosure, reason: "connection lifetime expired", clean: true})
		case <-discC:
			s.stats.disconnects.Add(1)
			clean := c.faults.cleanClose()
			c.requestClose(closeRequest{code: websocket.CloseNormalClosure, clean: clean})
		case <-staleC:
			s.stats.stale.Add(1)
			c.stale = true
		case cr := <-c.closeC:
			c.closeClean(bw, cr)
			return
		}
	}
}

// flushQueue writes everything queued, applying subscription filtering
// and faults to market-data frames, and flushes once.
func (c *wsConn) flushQueue(bw *bufio.Writer) error {
	c.mu.Lock()
	batch := c.q
	c.q = c.spare
	c.mu.Unlock()
	c.spare = nil
	defer func() {
		clear(batch) // release shared arenas
		c.spare = batch[:0]
	}()
	if c.stale || len(batch) == 0 {
		return nil
	}
	var n flushCounts
	if c.held.b != nil {
		c.releaseHeld(bw, &n)
	}
	for i := range batch {
		f := &batch[i]
		switch f.kind {
		case frameText:
			c.writeFrame(bw, opText, f.b)
		case framePong:
			c.writeFrame(bw, opPong, f.b)
		case frameEvent:
			if !c.subFlag(int(f.stream), int(f.sym)).Load() {
				continue // unsubscribed after it was queued
			}
			if f.stream != kindTrade {
				c.writeBookFrame(bw, f, &n)
				continue
			}
			payload := c.payload(f)
			switch c.faults.decide() {
			case faultDrop:
				n.dropped++
				continue
			case faultDuplicate:
				n.dup++
				n.sent++
				c.writeFrame(bw, opText, payload)
			case faultMalformed:
				n.mal++
				payload = c.faults.malform(payload)
			}
			n.sent++
			c.writeFrame(bw, opText, payload)
		}
	}
	n.add(&c.s.stats)
	if err := c.nc.SetWriteDeadline(time.Now().Add(DefaultWriteTimeout)); err != nil {
		return err
	}
	return bw.Flush()
}

// flushCounts accumulates one flush's counters.
type flushCounts struct {
	sent, dropped, dup, mal                          int64
	book, gaps, bookDropped, bookDup, reord, bookMal int64
}

func (n *flushCounts) add(st *counters) {
	st.framesSent.Add(n.sent + n.book)
	if n.dropped|n.dup|n.mal != 0 {
		st.dropped.Add(n.dropped)
		st.duplicated.Add(n.dup)
		st.malformed.Add(n.mal)
	}
	if n.book != 0 {
		st.depthFrames.Add(n.book)
	}
	if n.gaps|n.bookDropped|n.bookDup|n.reord|n.bookMal != 0 {
		st.depthGaps.Add(n.gaps)
		st.depthDropped.Add(n.bookDropped)
		st.depthDuplicated.Add(n.bookDup)
		st.depthReordered.Add(n.reord)
		st.depthMalformed.Add(n.bookMal)
		st.malformed.Add(n.bookMal)
	}
}

// payload returns the raw or combined form of an event for this connection.
func (c *wsConn) payload(f *outFrame) []byte {
	if c.combined.Load() {
		return f.b
	}
	return f.b[f.rawOff : len(f.b)-1]
}

// heldTimeout bounds how long a reordered event waits for the next event
// of its stream; then it is sent late rather than never.
const heldTimeout = 2 * time.Second

// writeBookFrame writes an order-book frame (diff depth, partial depth,
// bookTicker) applying the depth faults. A diff depth event picked for
// reordering is held and written right after the next event of the same
// stream.
func (c *wsConn) writeBookFrame(bw *bufio.Writer, f *outFrame, n *flushCounts) {
	diff := isDiffDepth(f.stream)
	if diff && c.held.b != nil && c.held.sym == f.sym && c.held.stream == f.stream {
		c.writeFrame(bw, opText, c.payload(f))
		c.writeFrame(bw, opText, c.payload(&c.held))
		c.held = outFrame{}
		n.book += 2
		return
	}
	payload := c.payload(f)
	switch c.faults.decideDepth(diff) {
	case faultGap:
		n.gaps++
		return
	case faultDrop:
		n.bookDropped++
		return
	case faultDuplicate:
		n.bookDup++
		n.book++
		c.writeFrame(bw, opText, payload)
	case faultReorder:
		if c.held.b == nil { // one held event at a time; otherwise no fault
			c.held, c.heldAt = *f, time.Now()
			n.reord++
			return
		}
	case faultMalformed:
		n.bookMal++
		payload = c.faults.malform(payload)
	}
	n.book++
	c.writeFrame(bw, opText, payload)
}

// releaseHeld sends a held event late if its stream stayed silent for
// heldTimeout, or forgets it if the stream was unsubscribed.
func (c *wsConn) releaseHeld(bw *bufio.Writer, n *flushCounts) {
	if !c.subFlag(int(c.held.stream), int(c.held.sym)).Load() {
		c.held = outFrame{}
		return
	}
	if time.Since(c.heldAt) >= heldTimeout {
		c.writeFrame(bw, opText, c.payload(&c.held))
		c.held = outFrame{}
		n.book++
	}
}

// writeFrame buffers one frame; errors surface at Flush.
func (c *wsConn) writeFrame(bw *bufio.Writer, op byte, payload []byte) {
	_, _ = bw.Write(appendFrameHeader(c.hdr[:0], op, len(payload)))
	_, _ = bw.Write(payload)
}

// writeControl writes and flushes one control frame within timeout.
func (c *wsConn) writeControl(bw *bufio.Writer, op byte, payload []byte, timeout time.Duration) error {
	c.writeFrame(bw, op, payload)
	if err := c.nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	return bw.Flush()
}

// closeClean carries out a clean close: optionally write what is queued,
// send the close frame, wait for the peer (or closeWait), then tear down.
func (c *wsConn) closeClean(bw *bufio.Writer, cr closeRequest) {
	if c.stale {
		c.kill(true) // a silent connection sends nothing, not even close
		return
	}
	if cr.flush {
		_ = c.flushQueue(bw)
	}
	var p [125]byte
	if err := c.writeControl(bw, opClose, appendClosePayload(p[:0], cr.code, cr.reason), closeWait); err != nil {
		c.kill(true)
		return
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	case <-c.done:
	}
	c.kill(false)
}
