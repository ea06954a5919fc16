package binance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/md"
	"github.com/valyala/fastjson"
)

// Session defaults.
const (
	symbolsPerConn       = 200
	subscribeChunk       = 100
	weightExchangeInfo   = 20
	weightTrades         = 25 // GET /api/v3/trades and /api/v3/historicalTrades
	weightTicker24hAll   = 80 // GET /api/v3/ticker/24hr without a symbol
	defaultWeightPerMin  = 4800
	defaultIdleAfter     = 3 * time.Second
	defaultDepthLimit    = 1000
	defaultResnapshot    = 30 * time.Minute
	staleSnapshotRetry   = 250 * time.Millisecond
	defaultTailEvery     = 15 * time.Second
	stateFlushEvery      = time.Second
	maxBackfillPerSymbol = 1000
)

type idRange struct{ from, to uint64 }

// symTracker follows one symbol's trade-id continuity on the wire.
type symTracker struct {
	last      uint64    // highest id captured (wire or REST); 0 = none yet
	ackedSafe uint64    // highest id below which everything is durable in Kafka
	lastAt    time.Time // when a trade was last seen
	checkedAt time.Time // last tail check
	pending   []idRange // ids to backfill, ascending

	// Diff-depth continuity on the wire (Binance U/u) and snapshot scheduling.
	depthLast  uint64    // last u seen on the current connection
	depthFirst uint64    // first U seen since a snapshot became necessary
	needSnap   bool      // the book needs a (new) REST snapshot
	lastSnap   time.Time // last snapshot fetched
	snapAfter  time.Time // do not fetch before (stale-snapshot retry pacing)
	refresh    bool      // the normalizer asked for a snapshot of a live book
	snapSeq    uint64    // raw seq at which the last snapshot was recorded
	slot       string    // connection slot carrying the symbol
}

// safe is the highest id such that every id up to it is captured (ignoring durability).
func (t *symTracker) safe() uint64 {
	if len(t.pending) > 0 {
		return t.pending[0].from - 1
	}
	return t.last
}

// Session is the Binance collector half.
type Session struct {
	env       collectors.SessionEnv
	log       *slog.Logger
	idleAfter time.Duration
	tailEvery time.Duration
	channels  map[string]bool
	depthLim  int
	resnap    time.Duration

	mu        sync.Mutex
	tracks    map[string]*symTracker
	native    map[string]string // unified -> native symbol
	slotEpoch map[string]uint64 // slot -> epoch of its current connection
	kick      chan struct{}
	conns     sync.Map // *collectors.Conn -> *fastjson.Parser
	info      *infoCache
}

// NewSession returns the collector half. It does no I/O.
func NewSession(env collectors.SessionEnv) (*Session, error) {
	s := &Session{env: env, log: env.Log, tracks: map[string]*symTracker{}, kick: make(chan struct{}, 1),
		native: map[string]string{}, slotEpoch: map[string]uint64{},
		idleAfter: defaultIdleAfter, tailEvery: defaultTailEvery, depthLim: defaultDepthLimit, resnap: defaultResnapshot,
		channels: map[string]bool{}, info: newInfoCache(env.StateDir)}
	chans := env.Options["channels"]
	if chans == "" {
		chans = "trade,depth,bookTicker"
	}
	for _, ch := range strings.Split(chans, ",") {
		switch ch = strings.TrimSpace(ch); ch {
		case "trade", "depth", "bookTicker":
			s.channels[ch] = true
		default:
			return nil, fmt.Errorf("binance: option channels: unknown channel %q (use trade, depth, bookTicker)", ch)
		}
	}
	if v := env.Options["depth_limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 5000 {
			return nil, fmt.Errorf("binance: option depth_limit=%q: want a snapshot depth from 5 to 5000", v)
		}
		s.depthLim = n
	}
	if v := env.Options["resnapshot_every"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("binance: option resnapshot_every=%q: %w (want a duration like 30m, or 0 to disable)", v, err)
		}
		s.resnap = d
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if v := env.Options["idle_after"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("binance: option idle_after=%q: %w (want a duration like 3s)", v, err)
		}
		s.idleAfter = d
	}
	if v := env.Options["tail_every"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("binance: option tail_every=%q: %w (want a duration like 15s)", v, err)
		}
		s.tailEvery = d
	}
	return s, nil
}

// WeightPerMinute returns the REST budget to use for this venue.
func WeightPerMinute(opts map[string]string) int {
	if n, err := strconv.Atoi(opts["rest_weight_per_minute"]); err == nil && n > 0 {
		return n
	}
	return defaultWeightPerMin
}

func (s *Session) statePath(slot string) string {
	if s.env.StateDir == "" {
		return ""
	}
	return filepath.Join(s.env.StateDir, "binance-"+slot+".json")
}

type slotState struct {
	// LastTradeIDs maps native symbol -> highest trade id durable in Kafka with nothing
	// missing below it (within this collector's capture).
	LastTradeIDs map[string]uint64 `json:"last_trade_ids"`
}

// Slots lists the exchange's symbols and splits them into connections.
func (s *Session) Slots(ctx context.Context, rest *collectors.REST) ([]collectors.Slot, error) {
	resp, cached, err := s.info.exchangeInfo(ctx, func(ctx context.Context) (*collectors.Response, error) {
		return rest.Get(ctx, "/api/v3/exchangeInfo", weightExchangeInfo)
	})
	if err != nil {
		return nil, err
	}
	if cached {
		s.log.Info("planning from the cached exchangeInfo", "age", time.Since(time.Unix(0, resp.RecvTime)).Round(time.Second))
	}
	insts, err := ParseExchangeInfo(resp.Body, resp.RecvTime)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, sym := range s.env.Symbols {
		want[strings.ToUpper(sym)] = true
	}
	var syms []string
	s.mu.Lock()
	for _, in := range insts {
		s.native[in.Symbol] = in.Native
	}
	s.mu.Unlock()
	for _, in := range insts {
		if (len(want) == 0 && in.Status == 1) || want[in.Native] {
			syms = append(syms, in.Native)
		}
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("binance: none of the requested symbols %v is listed", s.env.Symbols)
	}
	sort.Strings(syms)
	var slots []collectors.Slot
	for i := 0; i < len(syms); i += symbolsPerConn {
		slot := collectors.Slot{Name: "trade-" + strconv.Itoa(i/symbolsPerConn), URL: s.env.WSURL + "/stream",
			Symbols: syms[i:min(i+symbolsPerConn, len(syms))]}
		var st slotState
		if p := s.statePath(slot.Name); p != "" {
			if b, err := os.ReadFile(p); err == nil {
				if err := json.Unmarshal(b, &st); err != nil {
					s.log.Warn("ignoring corrupt state file", "path", p, "err", err)
				}
			}
		}
		s.mu.Lock()
		for _, sym := range slot.Symbols {
			if _, ok := s.tracks[sym]; !ok {
				last := st.LastTradeIDs[sym]
				s.tracks[sym] = &symTracker{last: last, ackedSafe: last, slot: slot.Name}
			}
		}
		s.mu.Unlock()
		slots = append(slots, slot)
	}
	return slots, nil
}

// Subscribe records exchangeInfo (fetched, or cached if younger than exchangeInfoMaxAge) on
// the connection, subscribes to the trade streams and
// starts the backfill and state workers.
func (s *Session) Subscribe(ctx context.Context, c *collectors.Conn) error {
	// The instruments go first on every connection (the normalizer parses by them); a recent
	// answer is recorded again rather than fetched, so a reconnect does not wait for weight.
	resp, _, err := s.info.exchangeInfo(ctx, func(ctx context.Context) (*collectors.Response, error) {
		return c.GetUnrecorded(ctx, "/api/v3/exchangeInfo", weightExchangeInfo)
	})
	if resp != nil {
		if rerr := c.RecordREST(resp); rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return err
	}
	if s.channels["trade"] {
		if err := s.baseline(ctx, c); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.slotEpoch[c.Slot.Name] = c.Epoch
	for _, sym := range c.Slot.Symbols {
		if tr := s.tracks[sym]; tr != nil {
			tr.depthLast, tr.depthFirst, tr.needSnap, tr.refresh = 0, 0, s.channels["depth"], false
		}
	}
	s.mu.Unlock()
	c.Go(func(ctx context.Context) { s.backfillLoop(ctx, c) })
	c.Go(func(ctx context.Context) { s.stateLoop(ctx, c) })
	syms := c.Slot.Symbols
	for i := 0; i < len(syms); i += subscribeChunk {
		params := make([]string, 0, subscribeChunk)
		for _, sym := range syms[i:min(i+subscribeChunk, len(syms))] {
			l := strings.ToLower(sym)
			if s.channels["trade"] {
				params = append(params, l+"@trade")
			}
			if s.channels["depth"] {
				params = append(params, l+"@depth@100ms")
			}
			if s.channels["bookTicker"] {
				params = append(params, l+"@bookTicker")
			}
		}
		frame, _ := json.Marshal(map[string]any{"method": "SUBSCRIBE", "params": params, "id": i/subscribeChunk + 1})
		if err := c.Send(frame); err != nil {
			return err
		}
	}
	s.signal()
	return nil
}

// baseline gives every symbol without a known last id (first start) one, from the venue's
// newest trade ids, and persists them before anything of those symbols is recorded: a
// collector killed at any later moment backfills from there, so capture is complete from its
// first start on. One GET /api/v3/ticker/24hr (weight 80) answers for every symbol (its
// lastId); if the venue refuses it, GET /api/v3/trades?limit=1 per symbol (weight 25 each)
// does. Responses are recorded after the state is durable.
func (s *Session) baseline(ctx context.Context, c *collectors.Conn) error {
	var need []string
	s.mu.Lock()
	for _, sym := range c.Slot.Symbols {
		if tr := s.tracks[sym]; tr != nil && tr.last == 0 {
			need = append(need, sym)
		}
	}
	s.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	var p fastjson.Parser
	set := func(sym string, last uint64) {
		s.mu.Lock()
		if tr := s.tracks[sym]; tr != nil && tr.last == 0 && last > 0 {
			tr.last, tr.ackedSafe = last, last
		}
		s.mu.Unlock()
	}
	if resp, err := c.GetUnrecorded(ctx, "/api/v3/ticker/24hr", weightTicker24hAll); err == nil {
		v, perr := p.ParseBytes(resp.Body)
		if perr == nil {
			arr, _ := v.Array()
			for _, o := range arr {
				if id := o.GetInt64("lastId"); id > 0 {
					set(string(o.GetStringBytes("symbol")), uint64(id))
				}
			}
		}
		if err := s.persist(c.Slot); err != nil {
			return err
		}
		c.Log().Info("first start: capture baselined at the venue's newest trade ids", "symbols", len(need))
		return c.RecordREST(resp)
	} else if ctx.Err() != nil {
		return err
	}
	for _, sym := range need {
		resp, err := c.GetUnrecorded(ctx, "/api/v3/trades?symbol="+sym+"&limit=1", weightTrades)
		if err != nil {
			return fmt.Errorf("binance: baseline of %s: %w", sym, err)
		}
		if _, hi, n := tradeIDRange(&p, resp.Body, "id"); n > 0 {
			set(sym, hi)
			if err := s.persist(c.Slot); err != nil {
				return err
			}
		}
		if err := c.RecordREST(resp); err != nil {
			return err
		}
	}
	c.Log().Info("first start: capture baselined at the venue's newest trade ids", "symbols", len(need))
	return nil
}

// persist writes the slot's durable ids to its state file.
func (s *Session) persist(slot collectors.Slot) error {
	path := s.statePath(slot.Name)
	if path == "" {
		return nil
	}
	out := slotState{LastTradeIDs: map[string]uint64{}}
	s.mu.Lock()
	for _, sym := range slot.Symbols {
		if tr := s.tracks[sym]; tr != nil && tr.ackedSafe > 0 {
			out.LastTradeIDs[sym] = tr.ackedSafe
		}
	}
	s.mu.Unlock()
	b, _ := json.Marshal(out)
	if err := collectors.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("binance: persist collector state %s: %w", path, err)
	}
	return nil
}

func (s *Session) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// OnFrame checks trade-id continuity of trade events.
func (s *Session) OnFrame(c *collectors.Conn, frame []byte, recvTime int64) {
	if ev, ok := scanEvent(frame); ok { // the common cases, without building a value tree
		if ev.kind == eventTrade {
			s.onTrade(c, ev.sym, ev.id, recvTime)
		}
		return // bookTicker: nothing to track
	}
	// Only trade and depth events are tracked; skip other frames without parsing them (an
	// escaped frame may hide either name, so those are parsed).
	if !bytes.Contains(frame, []byte(`"depthUpdate"`)) && !bytes.Contains(frame, []byte(`"trade"`)) &&
		bytes.IndexByte(frame, '\\') < 0 {
		return
	}
	pv, _ := s.conns.Load(c)
	p, _ := pv.(*fastjson.Parser)
	if p == nil {
		p = new(fastjson.Parser)
		s.conns.Store(c, p)
	}
	v, err := p.ParseBytes(frame)
	if err != nil {
		return // malformed: recorded as is; the normalizer dead-letters it, the next id reveals the gap
	}
	if d := v.Get("data"); d != nil {
		v = d
	}
	switch string(v.GetStringBytes("e")) {
	case "trade":
		s.onTrade(c, v.GetStringBytes("s"), v.GetUint64("t"), recvTime)
	case "depthUpdate":
		s.onDepth(c, v)
	}
}

// onTrade checks trade-id continuity: Binance trade ids of a symbol are contiguous, so a
// jump records the missing range for backfill.
func (s *Session) onTrade(c *collectors.Conn, sym []byte, id uint64, recvTime int64) {
	s.mu.Lock()
	tr := s.tracks[string(sym)]
	if tr == nil {
		s.mu.Unlock()
		return
	}
	gap := false
	switch {
	case tr.last == 0:
		tr.last = id
	case id > tr.last+1:
		tr.pending = append(tr.pending, idRange{tr.last + 1, id - 1})
		tr.last = id
		gap = true
	case id > tr.last:
		tr.last = id
	}
	tr.lastAt = time.Unix(0, recvTime)
	s.mu.Unlock()
	if gap {
		c.Metrics().Gaps.WithLabelValues(Venue, "trade").Inc()
		s.signal()
	}
}

// onDepth checks diff-depth continuity: U must be prev u + 1 on the wire. A gap marks a
// resync in raw and schedules a snapshot.
func (s *Session) onDepth(c *collectors.Conn, v *fastjson.Value) {
	U, u := v.GetUint64("U"), v.GetUint64("u")
	sym := v.GetStringBytes("s")
	s.mu.Lock()
	tr := s.tracks[string(sym)]
	if tr == nil {
		s.mu.Unlock()
		return
	}
	gap := tr.depthLast != 0 && U > tr.depthLast+1 && u > tr.depthLast
	expected := tr.depthLast + 1
	if gap && !tr.needSnap {
		tr.needSnap, tr.depthFirst = true, 0
	}
	if tr.needSnap && tr.depthFirst == 0 {
		tr.depthFirst = U
	}
	if u > tr.depthLast {
		tr.depthLast = u
	}
	s.mu.Unlock()
	if gap {
		c.Metrics().Gaps.WithLabelValues(Venue, "depth").Inc()
		meta := "symbol=" + string(sym) + "&reason=gap&expected=" + strconv.FormatUint(expected, 10) +
			"&got=" + strconv.FormatUint(U, 10)
		_ = c.Record(md.RawResync, md.DirLocal, []byte(meta), nil, time.Now().UnixNano())
	}
	s.signal()
}

// RequestSnapshot takes a snapshot request from the normalizer (control topic). Requests
// for an epoch other than the symbol's current connection, or older than the last snapshot
// recorded, are stale and ignored.
func (s *Session) RequestSnapshot(symbol string, epoch, seq uint64) bool {
	s.mu.Lock()
	native := s.native[symbol]
	tr := s.tracks[native]
	ok := tr != nil && s.channels["depth"] && s.slotEpoch[tr.slot] == epoch && seq >= tr.snapSeq && !tr.needSnap
	if ok {
		tr.refresh = true
	}
	s.mu.Unlock()
	if ok {
		s.signal()
	}
	return ok
}

// depthWeight is Binance's REST weight of GET /api/v3/depth by limit.
func depthWeight(limit int) int {
	switch {
	case limit <= 100:
		return 5
	case limit <= 500:
		return 25
	case limit <= 1000:
		return 50
	}
	return 250
}

// snapshotSymbol fetches a REST snapshot when the book needs one (after the first diff
// event was seen, so the snapshot can bridge the buffered events) or a periodic one is due.
// A snapshot older than the first buffered event is re-fetched.
func (s *Session) snapshotSymbol(ctx context.Context, c *collectors.Conn, p *fastjson.Parser, sym string) {
	now := time.Now()
	s.mu.Lock()
	tr := s.tracks[sym]
	due := tr != nil && tr.needSnap && tr.depthFirst != 0 && now.After(tr.snapAfter)
	periodic := tr != nil && !tr.needSnap && (tr.refresh ||
		s.resnap > 0 && !tr.lastSnap.IsZero() && now.Sub(tr.lastSnap) >= s.resnap)
	first := uint64(0)
	if tr != nil {
		first = tr.depthFirst
	}
	s.mu.Unlock()
	if !due && !periodic {
		return
	}
	q := "/api/v3/depth?symbol=" + sym + "&limit=" + strconv.Itoa(s.depthLim)
	resp, err := c.REST(ctx, q, depthWeight(s.depthLim))
	if err != nil {
		if ctx.Err() == nil {
			c.Log().Warn("snapshot request failed; will retry", "symbol", sym, "err", err)
		}
		return
	}
	v, err := p.ParseBytes(resp.Body)
	if err != nil {
		return
	}
	last := v.GetUint64("lastUpdateId")
	s.mu.Lock()
	defer s.mu.Unlock()
	tr.lastSnap, tr.refresh, tr.snapSeq = now, false, c.Seq()
	if due && last+1 < first {
		// Older than the first buffered event: it cannot bridge; fetch again shortly.
		tr.snapAfter = now.Add(staleSnapshotRetry)
		return
	}
	if due {
		tr.needSnap = false
	}
}

// OnClose waits briefly for the connection's records to be acknowledged; if some never
// were, everything after the last durable id is queued for backfill again.
func (s *Session) OnClose(c *collectors.Conn, err error) {
	s.conns.Delete(c)
	deadline := time.Now().Add(5 * time.Second)
	for c.AckedSeq() < c.Seq() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.AckedSeq() >= c.Seq() {
		s.mu.Lock()
		for _, sym := range c.Slot.Symbols {
			if tr := s.tracks[sym]; tr != nil {
				tr.ackedSafe = tr.safe()
			}
		}
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	for _, sym := range c.Slot.Symbols {
		tr := s.tracks[sym]
		if tr == nil || tr.last <= tr.ackedSafe {
			continue
		}
		tr.pending = mergeRange(tr.pending, idRange{tr.ackedSafe + 1, tr.last})
	}
	s.mu.Unlock()
	c.Log().Warn("connection closed with unacknowledged raw records; re-backfilling from the last durable ids")
}

// mergeRange inserts r into sorted, non-overlapping ranges.
func mergeRange(rs []idRange, r idRange) []idRange {
	rs = append(rs, r)
	sort.Slice(rs, func(i, j int) bool { return rs[i].from < rs[j].from })
	out := rs[:1]
	for _, x := range rs[1:] {
		last := &out[len(out)-1]
		if x.from <= last.to+1 {
			last.to = max(last.to, x.to)
			continue
		}
		out = append(out, x)
	}
	return out
}

// backfillLoop fetches pending id ranges and tail-checks idle symbols of this connection.
func (s *Session) backfillLoop(ctx context.Context, c *collectors.Conn) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var p fastjson.Parser
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-tick.C:
		}
		for _, sym := range c.Slot.Symbols {
			if ctx.Err() != nil {
				return
			}
			if s.channels["depth"] {
				s.snapshotSymbol(ctx, c, &p, sym)
			}
			if s.channels["trade"] {
				s.backfillSymbol(ctx, c, &p, sym)
				s.tailCheck(ctx, c, &p, sym)
			}
		}
	}
}

func (s *Session) backfillSymbol(ctx context.Context, c *collectors.Conn, p *fastjson.Parser, sym string) {
	for {
		s.mu.Lock()
		tr := s.tracks[sym]
		if tr == nil || len(tr.pending) == 0 {
			s.mu.Unlock()
			return
		}
		r := tr.pending[0]
		s.mu.Unlock()
		limit := min(r.to-r.from+1, maxBackfillPerSymbol)
		q := "/api/v3/historicalTrades?symbol=" + sym + "&fromId=" + strconv.FormatUint(r.from, 10) +
			"&limit=" + strconv.FormatUint(limit, 10)
		resp, err := c.REST(ctx, q, weightTrades)
		if err != nil {
			if ctx.Err() == nil {
				c.Log().Warn("backfill request failed; will retry", "symbol", sym, "err", err)
			}
			return
		}
		lo, hi, n := tradeIDRange(p, resp.Body, "id")
		c.Metrics().Backfilled.WithLabelValues(Venue).Add(float64(n))
		s.mu.Lock()
		switch {
		case n == 0 || hi < r.from:
			// The venue no longer has these trades: they stay missing; the normalizer reports
			// the gap, the coverage table masks it.
			c.Log().Warn("trades not recoverable from REST history", "symbol", sym, "from", r.from, "to", r.to)
			tr.pending = tr.pending[1:]
		case lo > r.from:
			c.Log().Warn("REST history starts after the gap", "symbol", sym, "from", r.from, "first_available", lo)
			tr.pending = trimFront(tr.pending, hi)
		default:
			tr.pending = trimFront(tr.pending, hi)
		}
		s.mu.Unlock()
	}
}

// trimFront removes ids <= upTo from the front range(s).
func trimFront(rs []idRange, upTo uint64) []idRange {
	for len(rs) > 0 && rs[0].from <= upTo {
		if rs[0].to <= upTo {
			rs = rs[1:]
			continue
		}
		rs[0].from = upTo + 1
		break
	}
	return rs
}

// tailCheck asks for the newest trades of a symbol that has been idle, so trades lost at the
// end of activity (no later id reveals the gap) are found.
func (s *Session) tailCheck(ctx context.Context, c *collectors.Conn, p *fastjson.Parser, sym string) {
	now := time.Now()
	s.mu.Lock()
	tr := s.tracks[sym]
	due := tr != nil && now.Sub(tr.lastAt) >= s.idleAfter && now.Sub(tr.checkedAt) >= s.tailEvery
	if due {
		tr.checkedAt = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	resp, err := c.REST(ctx, "/api/v3/trades?symbol="+sym+"&limit=100", weightTrades)
	if err != nil {
		return
	}
	lo, hi, n := tradeIDRange(p, resp.Body, "id")
	if n == 0 {
		return
	}
	s.mu.Lock()
	if hi > tr.last {
		if tr.last != 0 && lo > tr.last+1 {
			tr.pending = mergeRange(tr.pending, idRange{tr.last + 1, lo - 1})
		}
		tr.last = hi
		c.Metrics().Gaps.WithLabelValues(Venue, "trade_tail").Inc()
	}
	s.mu.Unlock()
}

// tradeIDRange returns the lowest and highest id and the count of a REST trade list.
func tradeIDRange(p *fastjson.Parser, body []byte, field string) (lo, hi uint64, n int) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return 0, 0, 0
	}
	arr, err := v.Array()
	if err != nil {
		return 0, 0, 0
	}
	for _, o := range arr {
		id := o.GetUint64(field)
		if n == 0 || id < lo {
			lo = id
		}
		hi = max(hi, id)
		n++
	}
	return lo, hi, n
}

// stateLoop persists, once Kafka acknowledged them, the ids below which nothing is missing.
func (s *Session) stateLoop(ctx context.Context, c *collectors.Conn) {
	path := s.statePath(c.Slot.Name)
	if path == "" {
		return
	}
	tick := time.NewTicker(stateFlushEvery)
	defer tick.Stop()
	var snap map[string]uint64
	var snapSeq uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if snap != nil && c.AckedSeq() >= snapSeq {
			s.mu.Lock()
			for sym, id := range snap {
				if tr := s.tracks[sym]; tr != nil && id > tr.ackedSafe {
					tr.ackedSafe = id
				}
			}
			s.mu.Unlock()
			if err := s.persist(c.Slot); err != nil {
				c.Log().Error("persist collector state", "err", err)
			}
		}
		snap = map[string]uint64{}
		s.mu.Lock()
		for _, sym := range c.Slot.Symbols {
			if tr := s.tracks[sym]; tr != nil {
				snap[sym] = tr.safe()
			}
		}
		s.mu.Unlock()
		snapSeq = c.Seq()
	}
}

var _ collectors.SnapshotRequester = (*Session)(nil)
