package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// Errors of [Assignment.Check]; callers branch on them to drop work they may no longer write.
var (
	// ErrGenerationEnded: the group generation of the assignment is over (a rebalance, or
	// the member is leaving); its partitions may belong to another member.
	ErrGenerationEnded = errors.New("transport: consumer group generation ended")
	// ErrLeaseExpired: no heartbeat of this member was confirmed by the coordinator within
	// the lease (session timeout minus a margin); the coordinator may already have given
	// its partitions to another member (a frozen "zombie" that woke up).
	ErrLeaseExpired = errors.New("transport: consumer group lease expired")
)

// Group balancers ([GroupConfig.Balancer]).
const (
	// BalancerRange spreads each topic's partitions over the members (kafka-go's range
	// balancer): the sink.
	BalancerRange = "range"
	// BalancerWholeTopic gives every partition of a topic to one member: the normalizer, whose
	// state spans all partitions of a venue's raw topic (ADR 0002).
	BalancerWholeTopic = "whole-topic"
)

// GroupConfig configures a [Group]. Zero values mean defaults.
type GroupConfig struct {
	Brokers []string
	// GroupID names the consumer group (required).
	GroupID string
	// Topics the group consumes (required).
	Topics []string
	// Balancer is BalancerRange (default) or BalancerWholeTopic.
	Balancer string
	// SessionTimeout: a member not heard from for this long is evicted (default 10s).
	SessionTimeout time.Duration
	// HeartbeatInterval between heartbeats, kafka-go's and the lease's (default 1s; at most
	// a third of SessionTimeout).
	HeartbeatInterval time.Duration
	// RebalanceTimeout: how long the coordinator waits for members to rejoin (default 30s).
	RebalanceTimeout time.Duration
}

func (c *GroupConfig) setDefaults() {
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.RebalanceTimeout <= 0 {
		c.RebalanceTimeout = 30 * time.Second
	}
	if c.Balancer == "" {
		c.Balancer = BalancerRange
	}
}

// Validate reports configuration errors, saying how to fix them.
func (c GroupConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("transport: group needs at least one broker address (--kafka-brokers host:port)"))
	}
	if c.GroupID == "" {
		errs = append(errs, errors.New("transport: group id is empty (--group NAME)"))
	}
	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("transport: group has no topics to consume"))
	}
	switch c.Balancer {
	case "", BalancerRange, BalancerWholeTopic:
	default:
		errs = append(errs, fmt.Errorf("transport: group balancer %q: use %q or %q", c.Balancer, BalancerRange, BalancerWholeTopic))
	}
	c.setDefaults()
	if c.HeartbeatInterval*3 > c.SessionTimeout {
		errs = append(errs, fmt.Errorf("transport: heartbeat interval %v is more than a third of the session timeout %v (raise --session-timeout or lower --heartbeat-interval)",
			c.HeartbeatInterval, c.SessionTimeout))
	}
	if c.RebalanceTimeout < c.SessionTimeout {
		errs = append(errs, fmt.Errorf("transport: rebalance timeout %v is below the session timeout %v: the lease would outlive a member's eviction during a rebalance",
			c.RebalanceTimeout, c.SessionTimeout))
	}
	if c.SessionTimeout < 3*time.Second {
		errs = append(errs, fmt.Errorf("transport: session timeout %v is below 3s (brokers refuse sessions shorter than group.min.session.timeout.ms)", c.SessionTimeout))
	}
	return errors.Join(errs...)
}

// Group is one member of a Kafka consumer group built on kafka-go's ConsumerGroup. It takes
// from the group only the assignment — which partitions this member owns in which
// generation — and never committed offsets: callers start each partition from offsets they
// store themselves (ADR 0009). Beside kafka-go's heartbeats it keeps a lease, renewed by
// heartbeats of its own whose answers it sees, so a member can tell whether it may still
// write ([Assignment.Check]).
//
// Run is for one goroutine; the Assignment it hands out is safe for concurrent use.
type Group struct {
	cfg GroupConfig
	log *slog.Logger
	m   *groupMetrics

	mu  sync.Mutex
	cur *Assignment // the live assignment, for the lease gauge
}

// NewGroup returns a group member. It does no I/O and starts no goroutines; it registers
// its metrics with reg (if not nil).
func NewGroup(cfg GroupConfig, reg prometheus.Registerer, log *slog.Logger) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	g := &Group{cfg: cfg, log: log.With("group", cfg.GroupID)}
	m, err := newGroupMetrics(reg, cfg.GroupID, g.leaseRemaining)
	if err != nil {
		return nil, err
	}
	g.m = m
	return g, nil
}

// Config returns the configuration with defaults applied.
func (g *Group) Config() GroupConfig { return g.cfg }

// Assignment is what this member owns in one generation of the group.
type Assignment struct {
	// Generation is the group generation id (increases with every rebalance).
	Generation int32
	// MemberID is this member's id in the group.
	MemberID string
	// Partitions are the partitions assigned to this member, sorted by topic and partition.
	Partitions []TopicPartition

	ctx    context.Context
	margin time.Duration
	sess   time.Duration

	mu      sync.Mutex
	renewed time.Time // send time of the last heartbeat answered without error
	revoked error
	m       *groupMetrics
}

// Context is done when the generation ends (or the member stops). Work on the assignment
// must return promptly after: the next generation starts only when it has.
func (a *Assignment) Context() context.Context { return a.ctx }

// Check returns nil while this member may write for the assignment: the handler of the
// assignment has not returned, and a heartbeat the coordinator answered for this generation
// was sent less than the lease (session timeout minus a fifth) ago — so the coordinator
// cannot have given the partitions to another member yet. (After a rebalance starts, the
// partitions stay this member's until it rejoins, which kafka-go does only when the handler
// returned: work in flight may still be written under the lease.) Otherwise it returns an
// error wrapping ErrGenerationEnded or ErrLeaseExpired. Call it as late as possible before a
// write becomes durable (ADR 0009).
func (a *Assignment) Check() error {
	if err := a.check(); err != nil {
		a.m.denials.Inc()
		return err
	}
	return nil
}

func (a *Assignment) check() error {
	a.mu.Lock()
	renewed, revoked := a.renewed, a.revoked
	a.mu.Unlock()
	if revoked != nil {
		return revoked
	}
	if renewed.IsZero() {
		return fmt.Errorf("generation %d: no heartbeat confirmed yet: %w", a.Generation, ErrLeaseExpired)
	}
	if age := time.Since(renewed); age >= a.sess-a.margin {
		return fmt.Errorf("generation %d: last confirmed heartbeat sent %v ago (lease %v): %w",
			a.Generation, age.Round(time.Millisecond), a.sess-a.margin, ErrLeaseExpired)
	}
	return nil
}

// remaining returns how much of the lease is left (0 when none).
func (a *Assignment) remaining() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.revoked != nil || a.renewed.IsZero() {
		return 0
	}
	return max(0, a.sess-a.margin-time.Since(a.renewed))
}

func (a *Assignment) renew(sent time.Time) {
	a.mu.Lock()
	if sent.After(a.renewed) {
		a.renewed = sent
	}
	a.mu.Unlock()
}

func (a *Assignment) revoke(err error) {
	a.mu.Lock()
	if a.revoked == nil {
		a.revoked = err
	}
	a.mu.Unlock()
}

// WaitLease blocks until the lease holds (the first heartbeat of the generation answered)
// or the generation ends.
func (a *Assignment) WaitLease() error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		err := a.check()
		if err == nil || !errors.Is(err, ErrLeaseExpired) {
			return err
		}
		select {
		case <-a.ctx.Done():
			return fmt.Errorf("generation %d: %w", a.Generation, ErrGenerationEnded)
		case <-t.C:
		}
	}
}

// Run joins the group and calls handle once per generation with this member's assignment,
// until ctx is done; then it leaves the group (the others rebalance at once) and returns
// nil. handle must return soon after a.Context() is done (finishing or dropping its
// in-flight work): the member rejoins only then. An error from handle ends Run with it.
// Generations with no partitions for this member are waited out without calling handle.
func (g *Group) Run(ctx context.Context, handle func(a *Assignment) error) error {
	cfg := g.cfg
	var balancers []kafka.GroupBalancer
	if cfg.Balancer == BalancerWholeTopic {
		balancers = []kafka.GroupBalancer{WholeTopicBalancer{}}
	} else {
		balancers = []kafka.GroupBalancer{kafka.RangeGroupBalancer{}}
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                cfg.GroupID,
		Brokers:           cfg.Brokers,
		Topics:            cfg.Topics,
		GroupBalancers:    balancers,
		HeartbeatInterval: cfg.HeartbeatInterval,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		Timeout:           max(5*time.Second, cfg.SessionTimeout/2),
		Logger: kafka.LoggerFunc(func(msg string, args ...any) {
			g.log.Debug("kafka-go group", "msg", fmt.Sprintf(msg, args...))
		}),
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			g.log.Debug("kafka-go group", "msg", fmt.Sprintf(msg, args...))
		}),
	})
	if err != nil {
		return fmt.Errorf("transport: consumer group %s: %w", cfg.GroupID, err)
	}
	defer cg.Close() // leaves the group
	tr := &kafka.Transport{DialTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: max(time.Second, cfg.HeartbeatInterval*2), Transport: tr}
	for {
		gen, err := cg.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			g.m.joinErrors.Inc()
			g.log.Warn("joining the group failed; retrying", "err", err)
			continue
		}
		if err := g.generation(ctx, gen, client, handle); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// generation runs one generation: the lease heartbeats and handle, both as kafka-go
// generation goroutines, so the member rejoins only after handle has returned.
func (g *Group) generation(ctx context.Context, gen *kafka.Generation, client *kafka.Client, handle func(a *Assignment) error) error {
	var parts []TopicPartition
	for topic, ps := range gen.Assignments {
		for _, p := range ps {
			parts = append(parts, TopicPartition{Topic: topic, Partition: p.ID})
		}
	}
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].Topic != parts[j].Topic {
			return parts[i].Topic < parts[j].Topic
		}
		return parts[i].Partition < parts[j].Partition
	})
	g.m.generations.Inc()
	g.m.assigned.Set(float64(len(parts)))
	g.log.Info("group generation", "generation", gen.ID, "member", gen.MemberID, "partitions", len(parts))

	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &Assignment{Generation: gen.ID, MemberID: gen.MemberID, Partitions: parts, ctx: actx,
		sess: g.cfg.SessionTimeout, margin: g.cfg.SessionTimeout / 5, m: g.m}
	g.mu.Lock()
	g.cur = a
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.cur = nil
		g.mu.Unlock()
		g.m.assigned.Set(0)
	}()

	// The generation's context ends the assignment's.
	gen.Start(func(gctx context.Context) {
		select {
		case <-gctx.Done():
		case <-actx.Done():
		}
		cancel()
	})
	gen.Start(func(gctx context.Context) { g.heartbeats(actx, client, gen, a) })
	done := make(chan error, 1)
	gen.Start(func(gctx context.Context) {
		if len(parts) == 0 {
			<-actx.Done()
			done <- nil
			return
		}
		err := handle(a)
		a.revoke(fmt.Errorf("generation %d: handler returned: %w", gen.ID, ErrGenerationEnded))
		done <- err
	})
	// Whichever way the generation ends, handle's return ends it for kafka-go too (Start
	// closes the generation when a function returns).
	return <-done
}

// heartbeats renews the lease: every interval, a Heartbeat for this generation; a clean
// answer renews the lease from the time the request was sent, an answer saying the member
// or generation is unknown revokes it.
func (g *Group) heartbeats(ctx context.Context, client *kafka.Client, gen *kafka.Generation, a *Assignment) {
	t := time.NewTicker(g.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		sent := time.Now()
		hctx, cancel := context.WithTimeout(ctx, g.cfg.SessionTimeout/3)
		res, err := client.Heartbeat(hctx, &kafka.HeartbeatRequest{GroupID: gen.GroupID,
			GenerationID: gen.ID, MemberID: gen.MemberID})
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && res.Error == nil:
			a.renew(sent)
		case err == nil && (errors.Is(res.Error, kafka.UnknownMemberId) || errors.Is(res.Error, kafka.IllegalGeneration) ||
			errors.Is(res.Error, kafka.FencedInstanceID)):
			g.m.heartbeatErrors.Inc()
			a.revoke(fmt.Errorf("generation %d: coordinator answered %v: %w", gen.ID, res.Error, ErrLeaseExpired))
		default:
			// Rebalance in progress, coordinator moving, network: not renewed; the lease runs
			// out on its own if this lasts.
			g.m.heartbeatErrors.Inc()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *Group) leaseRemaining() float64 {
	g.mu.Lock()
	a := g.cur
	g.mu.Unlock()
	if a == nil {
		return 0
	}
	return a.remaining().Seconds()
}

// WholeTopicBalancer assigns every partition of a topic to one member, spreading topics
// over the members subscribed to them (fewest topics first, then member id). Protocol name
// "tickflow-whole-topic".
type WholeTopicBalancer struct{}

var _ kafka.GroupBalancer = WholeTopicBalancer{}

// ProtocolName implements kafka.GroupBalancer.
func (WholeTopicBalancer) ProtocolName() string { return "tickflow-whole-topic" }

// UserData implements kafka.GroupBalancer.
func (WholeTopicBalancer) UserData() ([]byte, error) { return nil, nil }

// AssignGroups implements kafka.GroupBalancer.
func (WholeTopicBalancer) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	out := kafka.GroupMemberAssignments{}
	ms := slices.Clone(members)
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	for _, m := range ms {
		out[m.ID] = map[string][]int{}
	}
	byTopic := map[string][]int{}
	for _, p := range partitions {
		byTopic[p.Topic] = append(byTopic[p.Topic], p.ID)
	}
	topics := make([]string, 0, len(byTopic))
	for t := range byTopic {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	load := map[string]int{}
	for _, t := range topics {
		best := ""
		for _, m := range ms {
			if !slices.Contains(m.Topics, t) {
				continue
			}
			if best == "" || load[m.ID] < load[best] {
				best = m.ID
			}
		}
		if best == "" {
			continue
		}
		ps := byTopic[t]
		sort.Ints(ps)
		out[best][t] = ps
		load[best]++
	}
	return out
}

type groupMetrics struct {
	generations     prometheus.Counter
	assigned        prometheus.Gauge
	heartbeatErrors prometheus.Counter
	joinErrors      prometheus.Counter
	denials         prometheus.Counter
}

func newGroupMetrics(reg prometheus.Registerer, group string, lease func() float64) (*groupMetrics, error) {
	cl := prometheus.Labels{"group": group}
	m := &groupMetrics{
		generations: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickflow_transport_group_generations_total",
			Help: "Group generations (assignments) this member took part in.", ConstLabels: cl}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickflow_transport_group_assigned_partitions",
			Help: "Partitions assigned to this member in the current generation.", ConstLabels: cl}),
		heartbeatErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickflow_transport_group_lease_heartbeat_errors_total",
			Help: "Lease heartbeats not answered cleanly by the coordinator.", ConstLabels: cl}),
		joinErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickflow_transport_group_join_errors_total",
			Help: "Failed attempts to join or sync the group.", ConstLabels: cl}),
		denials: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickflow_transport_group_lease_denials_total",
			Help: "Writes refused because the generation ended or the lease expired.", ConstLabels: cl}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.generations, m.assigned, m.heartbeatErrors, m.joinErrors, m.denials,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickflow_transport_group_lease_remaining_seconds",
				Help: "Time left on this member's write lease (0: none).", ConstLabels: cl}, lease)} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("transport: register group metrics: %w", err)
			}
		}
	}
	return m, nil
}
