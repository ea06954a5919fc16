package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/transport"
)

// Defaults of [Config]; the zero value of a field means its default.
const (
	DefaultFlushEvery      = time.Second
	DefaultFlushBytes      = 1 << 20
	DefaultGuardEvery      = 30 * time.Second
	DefaultRetentionMargin = time.Hour
	// DefaultRawRetention is the raw topics' configured retention (transport.TopicDefaults).
	DefaultRawRetention = 24 * time.Hour
)

// Config configures an [Archiver].
type Config struct {
	// Dir is the archive root (required): <Dir>/<venue>/p<NNN>/ per raw partition.
	Dir string
	// Brokers of the Kafka cluster holding the raw topics (required).
	Brokers []string
	// Venues whose raw topics are archived (required).
	Venues []string
	// FlushEvery bounds how long a record waits in memory before its block is written and
	// fsynced (default 1s): at most this much is re-read from Kafka after a crash.
	FlushEvery time.Duration
	// FlushBytes cuts a block at this many uncompressed bytes (default 1 MiB).
	FlushBytes int
	// Retention is the raw topics' configured retention (default 24h, transport's default).
	Retention time.Duration
	// NoGuard disables the retention guard (ADR 0010): the archiver then only measures and
	// reports (headroom metric, holes). Leave it on unless an operator manages retention.
	NoGuard bool
	// GuardEvery is how often the guard re-evaluates retention (default 30s).
	GuardEvery time.Duration
	// RetentionMargin is added to the oldest unarchived record's age (default 1h).
	RetentionMargin time.Duration
	// Registerer registers the metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Log receives logs (default discard).
	Log *slog.Logger
}

// Validate reports invalid settings, saying how to fix them.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("archive: config: dir is empty: give the archive directory (--archive-dir)"))
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("archive: config: no Kafka brokers"))
	}
	if len(c.Venues) == 0 {
		errs = append(errs, errors.New("archive: config: no venues to archive"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"flush every", c.FlushEvery}, {"retention", c.Retention}, {"guard every", c.GuardEvery}, {"retention margin", c.RetentionMargin}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("archive: config: %s %v is negative: use a positive duration or 0 for the default", d.name, d.v))
		}
	}
	if c.FlushBytes < 0 {
		errs = append(errs, fmt.Errorf("archive: config: flush bytes %d is negative", c.FlushBytes))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.FlushEvery == 0 {
		c.FlushEvery = DefaultFlushEvery
	}
	if c.FlushBytes == 0 {
		c.FlushBytes = DefaultFlushBytes
	}
	if c.Retention == 0 {
		c.Retention = DefaultRawRetention
	}
	if c.GuardEvery == 0 {
		c.GuardEvery = DefaultGuardEvery
	}
	if c.RetentionMargin == 0 {
		c.RetentionMargin = DefaultRetentionMargin
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Archiver copies raw topics into segment files (ADR 0010). Run owns all its state.
type Archiver struct {
	cfg Config
	m   *metrics
}

// New returns an archiver. It registers its metrics and does no I/O.
func New(cfg Config) (*Archiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("archive: register metrics: %w", err)
	}
	return &Archiver{cfg: cfg, m: m}, nil
}

// venueState is one venue's partitions and retention guard.
type venueState struct {
	name  string
	parts map[int]*partWriter
	guard *guard
	// counters resolved once
	records, bytes, blocks, lost prometheus.Counter
}

// Run recovers every partition directory, consumes the raw topics from the offsets after
// the archived ones, writes blocks every FlushEvery (or FlushBytes) and guards retention,
// until ctx is done; then it writes what is buffered and returns nil. An error (a failed
// write or fsync) leaves the directory recoverable by the next Run.
func (a *Archiver) Run(ctx context.Context) (err error) {
	c, err := newCodec()
	if err != nil {
		return err
	}
	defer c.close()
	venues := map[string]*venueState{}
	var offs []transport.Offset
	defer func() {
		for _, v := range venues {
			for _, pw := range v.parts {
				err = errors.Join(err, pw.close())
			}
		}
	}()
	for _, name := range a.cfg.Venues {
		topic := transport.RawTopic(name)
		parts, err := transport.Partitions(ctx, a.cfg.Brokers, topic)
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		v := &venueState{name: name, parts: map[int]*partWriter{},
			guard:   &guard{venue: name, brokers: a.cfg.Brokers, base: a.cfg.Retention, margin: a.cfg.RetentionMargin, enabled: !a.cfg.NoGuard},
			records: a.m.records.WithLabelValues(name), bytes: a.m.bytes.WithLabelValues(name),
			blocks: a.m.blocks.WithLabelValues(name), lost: a.m.lost.WithLabelValues(name)}
		venues[name] = v
		sort.Ints(parts)
		for _, p := range parts {
			pw, recovered, err := openPartition(partitionDir(a.cfg.Dir, name, p), c)
			if err != nil {
				return err
			}
			v.parts[p] = pw
			if recovered > 0 {
				a.m.recovered.WithLabelValues(name).Add(float64(recovered))
				a.cfg.Log.Info("archive: indexed blocks written before a crash", "venue", name, "partition", p, "blocks", recovered)
			}
			next := pw.next
			if next < 0 {
				next = transport.OffsetOldest
			}
			offs = append(offs, transport.Offset{Topic: topic, Partition: p, Next: next})
		}
	}
	if err := a.checkTopics(ctx, venues); err != nil {
		return err
	}
	cons := transport.NewConsumer(transport.ConsumerConfig{Brokers: a.cfg.Brokers, Name: "archive"}, a.cfg.Registerer, a.cfg.Log)
	if err := cons.Assign(offs); err != nil {
		return err
	}
	defer cons.Close()
	byTopic := map[string]*venueState{}
	for _, v := range venues {
		byTopic[transport.RawTopic(v.name)] = v
	}
	a.guardAll(ctx, venues)
	lastFlush, lastGuard := time.Now(), time.Now()
	for {
		msgs, perr := cons.PollTimeout(ctx, 5000, 100*time.Millisecond)
		now := time.Now()
		for i := range msgs {
			m := &msgs[i]
			v := byTopic[m.Topic]
			if v == nil || v.parts[m.Partition] == nil {
				continue
			}
			pw := v.parts[m.Partition]
			var lost int64
			if err := a.retry(ctx, v.name, func() (err error) {
				lost, err = pw.add(m.Offset, m.Time, m.Value, now)
				return err
			}); err != nil {
				return err
			}
			if lost > 0 {
				v.lost.Add(float64(lost))
				a.cfg.Log.Error("archive: raw records were deleted from Kafka before they were archived; hole recorded in the index",
					"venue", v.name, "partition", m.Partition, "records", lost, "before_offset", m.Offset)
			}
			if pw.pendingBytes() >= a.cfg.FlushBytes {
				if err := a.flush(ctx, v, pw); err != nil {
					return err
				}
			}
		}
		if perr != nil || now.Sub(lastFlush) >= a.cfg.FlushEvery {
			for _, v := range venues {
				for _, pw := range v.parts {
					if err := a.flush(ctx, v, pw); err != nil {
						return err
					}
				}
			}
			lastFlush = now
		}
		if perr != nil {
			return nil // ctx done: everything buffered is written
		}
		if now.Sub(lastGuard) >= a.cfg.GuardEvery {
			a.guardAll(ctx, venues)
			lastGuard = now
		}
	}
}

// retry runs f until it succeeds, backing off (100ms doubling to 10s) after failures, which
// it logs (once per streak) and counts. While it retries nothing is polled, so the consumer's
// bounded queue holds Kafka back: memory stays bounded, and raw waits in Kafka (the guard's
// last retention setting stays in force). It gives up only when ctx is done.
func (a *Archiver) retry(ctx context.Context, venue string, f func() error) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			if attempt > 1 {
				a.cfg.Log.Info("archive: writing works again", "venue", venue, "attempts", attempt)
			}
			return nil
		}
		a.m.writeErrs.WithLabelValues(venue).Inc()
		if attempt == 1 {
			a.cfg.Log.Error("archive: write failed; retrying (raw stays in Kafka meanwhile)", "venue", venue, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("archive: giving up at shutdown: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (a *Archiver) flush(ctx context.Context, v *venueState, pw *partWriter) error {
	if pw.n == 0 {
		return nil
	}
	start := time.Now()
	n := pw.n
	if err := a.retry(ctx, v.name, pw.flush); err != nil {
		return err
	}
	a.m.flushSecs.Observe(time.Since(start).Seconds())
	v.records.Add(float64(n))
	v.blocks.Inc()
	v.bytes.Add(float64(len(pw.out))) // the block just written
	return nil
}

// ErrTopicRecreated is returned by Run when a raw partition ends below what the archive
// already holds: the topic was recreated (the drain-and-resize procedure of ADR 0002), and
// its new offsets would be mistaken for archived ones.
var ErrTopicRecreated = errors.New("archive: raw topic ends below the archived offsets (recreated?)")

// checkTopics refuses to archive a partition whose end offset is below the archive's next
// offset: every new record would look already archived and be skipped silently.
func (a *Archiver) checkTopics(ctx context.Context, venues map[string]*venueState) error {
	for _, v := range venues {
		parts := make([]int, 0, len(v.parts))
		for p := range v.parts {
			parts = append(parts, p)
		}
		spans, err := v.guard.offsets(ctx, parts)
		if err != nil {
			return err
		}
		for p, pw := range v.parts {
			if sp, ok := spans[p]; ok && pw.next > sp.end {
				return fmt.Errorf("%w: %s partition %d ends at offset %d but %s holds offsets up to %d; "+
					"move that venue's archive directory aside (keep it: it is history) and restart",
					ErrTopicRecreated, transport.RawTopic(v.name), p, sp.end, pw.dir, pw.next-1)
			}
		}
	}
	return nil
}

// guardAll measures each venue's oldest unarchived record and sets retention accordingly.
func (a *Archiver) guardAll(ctx context.Context, venues map[string]*venueState) {
	now := time.Now()
	for _, v := range venues {
		parts := make([]int, 0, len(v.parts))
		for p := range v.parts {
			parts = append(parts, p)
		}
		spans, err := v.guard.offsets(ctx, parts)
		if err != nil {
			a.m.guardErrs.WithLabelValues(v.name).Inc()
			a.cfg.Log.Warn("archive: read raw end offsets", "venue", v.name, "err", err)
			continue
		}
		from := protectFrom(v.parts, spans)
		age := time.Duration(0)
		if from > 0 {
			age = now.Sub(time.Unix(0, from))
		}
		a.m.unarch.WithLabelValues(v.name).Set(age.Seconds())
		a.m.headroom.WithLabelValues(v.name).Set((a.cfg.Retention - age).Seconds())
		val := v.guard.retentionFor(from, now)
		if err := v.guard.apply(ctx, val); err != nil {
			a.m.guardErrs.WithLabelValues(v.name).Inc()
			a.cfg.Log.Warn("archive: retention guard", "venue", v.name, "err", err)
			continue
		}
		if v.guard.enabled {
			ms, _ := time.ParseDuration(val + "ms")
			if val == "-1" {
				a.m.retention.WithLabelValues(v.name).Set(-1)
			} else {
				a.m.retention.WithLabelValues(v.name).Set(ms.Seconds())
			}
		}
	}
}
