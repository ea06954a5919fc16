package normalizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/internal/freelist"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// Config configures a Normalizer.
type Config struct {
	// Brokers of the Kafka cluster (embedded or real).
	Brokers []string
	// CheckpointEvery is how often state and offsets are checkpointed (default 2s).
	CheckpointEvery time.Duration
	// PollMax is the most raw records processed per poll (default 2000).
	PollMax int
	// BookSnapshotEvery publishes a full snapshot of every live book this often (by venue
	// receive time), so consumers starting at the live end and store rebuilds have a recent
	// base (default 30s; negative disables).
	BookSnapshotEvery time.Duration
	// Guard, if set, is called before every checkpoint write; an error refuses the write and
	// ends Run with it. A consumer-group member passes its assignment's lease check, so a
	// member that lost its venue never overwrites the new owner's checkpoints (ADR 0009).
	Guard func() error
	// GenFloor raises the checkpoint generation counter to at least this value when Run
	// starts, so checkpoint records of different owners never share a generation (a group
	// member passes its group generation << 32).
	GenFloor uint64
}

func (c *Config) setDefaults() {
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 2 * time.Second
	}
	if c.PollMax <= 0 {
		c.PollMax = 2000
	}
	if c.BookSnapshotEvery == 0 {
		c.BookSnapshotEvery = 30 * time.Second
	}
}

// slotState follows one connection slot across epochs.
type slotState struct {
	Epoch    uint64   `json:"epoch"`
	LastRecv int64    `json:"last_recv"` // last inbound record of the current epoch
	Symbols  []string `json:"symbols"`   // native symbols of the current epoch
}

// state is everything a checkpoint restores.
type state struct {
	Venue   string                `json:"venue"`
	Offsets map[int]int64         `json:"offsets"` // raw partition -> next offset
	Parser  json.RawMessage       `json:"parser,omitempty"`
	Trades  map[string]*tradeSeq  `json:"trades"` // by unified symbol
	Slots   map[string]*slotState `json:"slots"`
	// Books are checkpointed separately (bookcheckpoint.go); BookRefs locate them.
	Books    map[string]*book   `json:"-"`
	BookRefs map[string]bookRef `json:"book_refs"`
	Gen      uint64             `json:"gen"`    // checkpoint generation
	Counts   map[string]uint64  `json:"counts"` // events emitted per kind, for reconciliation
}

// Normalizer normalizes one venue.
type Normalizer struct {
	cfg     Config
	conn    collectors.Connector
	parser  collectors.Parser
	version uint16
	prod    *transport.Producer
	log     *slog.Logger
	m       *Metrics

	st        state
	dec       *md.Decoder
	rec       md.RawRecord
	now       int64 // Unix ns when the record's batch was polled (event age)
	out       collectors.Output
	free      freelist.List[outMsg] // event buffers, back once acknowledged
	failed    atomic.Pointer[error]
	logged    map[string]bool
	lastCkp   time.Time
	fills     []fill
	bu        md.BookUpdate // reused for publishing
	scratch   book          // reused to roll refresh snapshots forward
	ckScratch md.BookUpdate // reused to encode book checkpoints
	// publish replaces producing in unit tests of the state machines (and offline.go).
	publish func(topic string, kind md.Kind, val []byte) error
	// reject, when set (offline.go), receives records that would be dead-lettered.
	reject func(rec *md.RawRecord, err error)
}

type fill struct {
	symbol      string
	first, last uint64
	count       uint64
	t           *md.Trade
}

// New returns a normalizer for one venue's connector. It does no I/O.
func New(cfg Config, conn collectors.Connector, prod *transport.Producer, m *Metrics, log *slog.Logger) *Normalizer {
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	m = m.forVenue(conn.Name())
	n := &Normalizer{cfg: cfg, conn: conn, parser: conn.NewParser(), version: conn.ParserVersion(), prod: prod,
		log: log.With("venue", conn.Name()), m: m, dec: md.NewDecoder(), logged: map[string]bool{}}
	n.st = state{Venue: conn.Name(), Offsets: map[int]int64{}, Trades: map[string]*tradeSeq{},
		Slots: map[string]*slotState{}, Counts: map[string]uint64{}, Books: map[string]*book{}, BookRefs: map[string]bookRef{}}
	n.free.Max = outMsgsKept
	n.free.New = func() *outMsg {
		o := &outMsg{n: n}
		o.done = o.complete
		return o
	}
	return n
}

// Counts returns the events emitted per kind (as of the last processed record; survives
// restarts through checkpoints). Only valid while Run is not running.
func (n *Normalizer) Counts() map[string]uint64 { return n.st.Counts }

// Run loads the checkpoint, consumes the raw topic and normalizes until ctx is done; then it
// flushes and writes a final checkpoint. It returns nil on cancellation.
func (n *Normalizer) Run(ctx context.Context) error {
	venue := n.conn.Name()
	if err := n.loadCheckpoint(ctx); err != nil {
		return err
	}
	n.st.Gen = max(n.st.Gen, n.cfg.GenFloor)
	parts, err := transport.Partitions(ctx, n.cfg.Brokers, transport.RawTopic(venue))
	if err != nil {
		return err
	}
	offs := make([]transport.Offset, 0, len(parts))
	for _, p := range parts {
		next, ok := n.st.Offsets[p]
		if !ok {
			next = transport.OffsetOldest
		}
		offs = append(offs, transport.Offset{Topic: transport.RawTopic(venue), Partition: p, Next: next})
	}
	cons := transport.NewConsumer(transport.ConsumerConfig{Brokers: n.cfg.Brokers, Name: "normalizer-" + venue}, n.m.reg, n.log)
	if err := cons.Assign(offs); err != nil {
		return err
	}
	defer cons.Close()
	n.lastCkp = time.Now()
	// A polled batch is always processed whole: shutdown waits for it.
	batchCtx := context.WithoutCancel(ctx)
	for {
		msgs, err := cons.PollTimeout(ctx, n.cfg.PollMax, 100*time.Millisecond)
		if err != nil {
			break // ctx done
		}
		n.now = time.Now().UnixNano()
		for i := range msgs {
			if err := n.process(batchCtx, &msgs[i]); err != nil {
				return err
			}
		}
		if f := n.failed.Load(); f != nil {
			return fmt.Errorf("normalizer %s: producing events failed; restart resumes from the last checkpoint: %w", venue, *f)
		}
		if time.Since(n.lastCkp) >= n.cfg.CheckpointEvery {
			if err := n.checkpoint(ctx); err != nil {
				return err
			}
		}
	}
	// Shutdown: everything processed so far is produced; flush and checkpoint.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.checkpoint(sctx); err != nil {
		return fmt.Errorf("normalizer %s: final checkpoint: %w", venue, err)
	}
	return nil
}

func (n *Normalizer) process(ctx context.Context, m *transport.Message) error {
	n.st.Offsets[m.Partition] = m.Offset + 1
	rec := &n.rec
	if err := n.dec.DecodeRaw(rec, m.Value); err != nil {
		return n.deadLetter(ctx, m, rec, err)
	}
	n.m.records(rec.Venue, rec.Type).Inc()
	if err := n.track(ctx, rec); err != nil {
		return err
	}
	if rec.Type != md.RawFrame && rec.Type != md.RawREST {
		return nil
	}
	n.out.Reset()
	if err := n.parser.Parse(rec, &n.out); err != nil {
		return n.deadLetter(ctx, m, rec, err)
	}
	for i := range n.out.Instruments {
		in := &n.out.Instruments[i]
		n.log.Debug("instrument", "native", in.Native, "symbol", in.Symbol, "tick", in.TickSize.String(), "lot", in.LotSize.String())
	}
	n.fills = n.fills[:0]
	nextIdx := uint32(len(n.out.Trades))
	for i := range n.out.Trades {
		t := &n.out.Trades[i]
		t.ParserVersion = n.version
		if !t.ID.IsNumeric() {
			if err := n.emitTrade(ctx, t); err != nil {
				return err
			}
			continue
		}
		seq := n.st.Trades[t.Symbol]
		if seq == nil {
			seq = &tradeSeq{}
			n.st.Trades[t.Symbol] = seq
		}
		verdict, gap := seq.admit(t)
		switch verdict {
		case tradeDuplicate:
			n.m.duplicates(rec.Venue, md.KindTrade).Inc()
			continue
		case tradeEmitGap:
			n.m.gaps(rec.Venue, md.KindTrade).Inc()
			ev := md.Integrity{Header: t.Header, Type: md.IntegrityGap, Stream: md.KindTrade,
				From: gap.FromTime, To: gap.ToTime, FirstID: gap.From, LastID: gap.To, Count: gap.To - gap.From + 1}
			ev.ExchTime, ev.SendTime = 0, 0
			if err := n.emitIntegrity(ctx, &ev); err != nil {
				return err
			}
		case tradeFill:
			n.noteFill(t)
		}
		if err := n.emitTrade(ctx, t); err != nil {
			return err
		}
	}
	for i := range n.out.BBOs {
		if err := n.emitBBO(ctx, &n.out.BBOs[i]); err != nil {
			return err
		}
	}
	if len(n.out.Books) > 0 {
		bp, ok := n.parser.(collectors.BookParser)
		if !ok {
			return n.deadLetter(ctx, m, rec, errors.New("normalizer: parser emitted book messages but states no book rule"))
		}
		for i := range n.out.Books {
			n.out.Books[i].Prov.Index = uint32(i)
			n.out.Books[i].ParserVersion = n.version
			if err := n.onBook(ctx, bp, &n.out.Books[i]); err != nil {
				return err
			}
		}
	}
	for i := range n.fills {
		f := &n.fills[i]
		ev := md.Integrity{Header: f.t.Header, Type: md.IntegrityBackfill, Stream: md.KindTrade,
			From: f.t.ExchTime, To: f.t.ExchTime, FirstID: f.first, LastID: f.last, Count: f.count}
		ev.Prov.Index = nextIdx + uint32(i)
		ev.ExchTime, ev.SendTime = 0, 0
		if err := n.emitIntegrity(ctx, &ev); err != nil {
			return err
		}
	}
	return nil
}

func (n *Normalizer) noteFill(t *md.Trade) {
	for i := range n.fills {
		if n.fills[i].symbol == t.Symbol {
			f := &n.fills[i]
			f.first, f.last, f.count = min(f.first, t.ID.Num), max(f.last, t.ID.Num), f.count+1
			return
		}
	}
	n.fills = append(n.fills, fill{symbol: t.Symbol, first: t.ID.Num, last: t.ID.Num, count: 1, t: t})
}

// track follows connection epochs per slot and emits disconnect windows.
func (n *Normalizer) track(ctx context.Context, rec *md.RawRecord) error {
	sl := n.st.Slots[rec.Conn]
	if sl == nil {
		sl = &slotState{}
		n.st.Slots[rec.Conn] = sl
	}
	if rec.Epoch < sl.Epoch {
		return nil // a late record of an older epoch: no state change
	}
	if rec.Epoch > sl.Epoch {
		if sl.Epoch != 0 && sl.LastRecv != 0 {
			n.m.disconnects(rec.Venue).Inc()
			for i, native := range sl.Symbols {
				in := n.parser.Instrument(native)
				if in == nil {
					continue
				}
				ev := md.Integrity{Type: md.IntegrityDisconnect, Stream: md.KindTrade, From: sl.LastRecv, To: rec.RecvTime}
				ev.Venue, ev.Symbol, ev.RecvTime = rec.Venue, in.Symbol, rec.RecvTime
				ev.Prov = md.Provenance{Epoch: rec.Epoch, Seq: rec.Seq, Index: uint32(i)}
				ev.ParserVersion = n.version
				if err := n.emitIntegrity(ctx, &ev); err != nil {
					return err
				}
			}
		}
		if sl.Epoch != 0 {
			if err := n.invalidateSlot(ctx, rec, sl.Symbols); err != nil {
				return err
			}
		}
		// LastRecv is kept: an epoch without inbound records extends the outage.
		sl.Epoch, sl.Symbols = rec.Epoch, nil
	}
	switch rec.Type {
	case md.RawSubscribe:
		if s, ok := strings.CutPrefix(string(rec.Meta), "symbols="); ok && s != "" {
			sl.Symbols = strings.Split(s, ",")
		}
	case md.RawFrame, md.RawREST:
		if rec.Dir == md.DirIn {
			sl.LastRecv = max(sl.LastRecv, rec.RecvTime)
		}
	}
	return nil
}

type outMsg struct {
	n     *Normalizer
	key   []byte
	val   []byte
	kind  md.Kind
	venue string
	done  transport.DoneFunc
}

func (o *outMsg) complete(err error) {
	if err != nil {
		e := err // a copy: taking err's address would move every call's err to the heap
		o.n.failed.CompareAndSwap(nil, &e)
	}
	o.n.free.Put(o)
}

// outMsgsKept bounds the event buffers kept for reuse.
const outMsgsKept = 1 << 16

func (n *Normalizer) msg() *outMsg { return n.free.Get() }

func appendKey(dst []byte, venue, symbol string) []byte {
	dst = append(dst, venue...)
	dst = append(dst, '/')
	return append(dst, symbol...)
}

func (n *Normalizer) emitTrade(ctx context.Context, t *md.Trade) error {
	o := n.msg()
	o.val = md.AppendTrade(o.val[:0], t)
	n.m.age(t.Venue).Observe(float64(n.now-t.RecvTime) / 1e9)
	return n.emit(ctx, o, &t.Header, md.KindTrade, transport.TopicTrades)
}

func (n *Normalizer) emitIntegrity(ctx context.Context, e *md.Integrity) error {
	e.ParserVersion = n.version
	o := n.msg()
	o.val = md.AppendIntegrity(o.val[:0], e)
	return n.emit(ctx, o, &e.Header, md.KindIntegrity, transport.TopicIntegrity)
}

// emit sends an event already encoded into o.val, keyed by venue/symbol (ADR 0002), and
// counts it.
func (n *Normalizer) emit(ctx context.Context, o *outMsg, h *md.Header, kind md.Kind, topic string) error {
	o.key = appendKey(o.key[:0], h.Venue, h.Symbol)
	n.st.Counts[kind.String()]++
	n.m.emitted(h.Venue, kind).Inc()
	return n.send(ctx, topic, kind, o)
}

// send produces an encoded event; the message buffer returns to the pool once acknowledged.
func (n *Normalizer) send(ctx context.Context, topic string, kind md.Kind, o *outMsg) error {
	if n.publish != nil { // tests
		err := n.publish(topic, kind, o.val)
		n.free.Put(o)
		return err
	}
	return n.prod.Produce(ctx, topic, o.key, o.val, o.done)
}

var reasonVariable = regexp.MustCompile(`"[^"]*"|\d+`)

// reasonKind reduces an error to its kind (quoted values and numbers removed) for metric
// labels and log throttling.
func reasonKind(err error) string {
	s := reasonVariable.ReplaceAllString(err.Error(), "_")
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// deadLetter keeps a record that could not be normalized, with the reason, and counts it;
// each kind of reason is logged once.
func (n *Normalizer) deadLetter(ctx context.Context, m *transport.Message, rec *md.RawRecord, perr error) error {
	kind := reasonKind(perr)
	n.m.deadletters(n.conn.Name(), kind).Inc()
	if n.reject != nil { // offline: no dead-letter topic
		n.reject(rec, perr)
		return nil
	}
	if !n.logged[kind] {
		n.logged[kind] = true
		n.log.Warn("raw record dead-lettered (logged once per kind)", "reason", perr, "conn", rec.Conn, "epoch", rec.Epoch, "seq", rec.Seq)
	}
	// The consumer gave us ownership of m.Key and m.Value: hand them to the producer.
	err := n.prod.ProduceWithHeaders(ctx, transport.TopicDeadLetter, m.Key, m.Value,
		[]transport.Header{{Key: "reason", Value: []byte(perr.Error())}, {Key: "source_topic", Value: []byte(m.Topic)}}, func(err error) {
			if err != nil {
				n.failed.CompareAndSwap(nil, &err)
			}
		})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
