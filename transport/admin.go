package transport

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// TopicSpec describes a topic to create. Partition counts are fixed at creation (ADR 0002).
type TopicSpec struct {
	Name       string
	Partitions int
	// Replication is the replication factor (default 1; use 3 on a real cluster).
	Replication int
	Configs     map[string]string
}

// TopicDefaults sets partition counts and retention of the topics tickflow creates.
type TopicDefaults struct {
	RawPartitions int           // default 4
	MDPartitions  int           // default 8
	RawRetention  time.Duration // default 24h; older raw goes to the archive
	MDRetention   time.Duration // default 7 days
	Replication   int           // default 1
	// MaxMessageBytes for raw topics (default 16 MiB: Coinbase level2 snapshots are MBs).
	MaxMessageBytes int
}

func (d *TopicDefaults) setDefaults() {
	if d.RawPartitions <= 0 {
		d.RawPartitions = 4
	}
	if d.MDPartitions <= 0 {
		d.MDPartitions = 8
	}
	if d.RawRetention <= 0 {
		d.RawRetention = 24 * time.Hour
	}
	if d.MDRetention <= 0 {
		d.MDRetention = 7 * 24 * time.Hour
	}
	if d.Replication <= 0 {
		d.Replication = 1
	}
	if d.MaxMessageBytes <= 0 {
		d.MaxMessageBytes = 16 << 20
	}
}

// Topics returns the specs of every topic tickflow uses for the given venues.
func Topics(venues []string, d TopicDefaults) []TopicSpec {
	d.setDefaults()
	ms := func(t time.Duration) string { return strconv.FormatInt(t.Milliseconds(), 10) }
	maxb := strconv.Itoa(d.MaxMessageBytes)
	var specs []TopicSpec
	for _, v := range venues {
		specs = append(specs,
			TopicSpec{Name: RawTopic(v), Partitions: d.RawPartitions, Replication: d.Replication, Configs: map[string]string{
				"retention.ms": ms(d.RawRetention), "max.message.bytes": maxb, "cleanup.policy": "delete"}},
			TopicSpec{Name: ControlTopic(v), Partitions: 1, Replication: d.Replication, Configs: map[string]string{
				"retention.ms": ms(time.Hour), "cleanup.policy": "delete"}},
		)
	}
	mdCfg := func() map[string]string {
		return map[string]string{"retention.ms": ms(d.MDRetention), "cleanup.policy": "delete", "max.message.bytes": maxb}
	}
	for _, t := range []string{TopicTrades, TopicBooks, TopicBBO, TopicIntegrity, TopicDeadLetter} {
		specs = append(specs, TopicSpec{Name: t, Partitions: d.MDPartitions, Replication: d.Replication, Configs: mdCfg()})
	}
	for _, t := range []string{TopicBookCheckpoints, TopicNormalizerCheckpoints} {
		specs = append(specs, TopicSpec{Name: t, Partitions: 1, Replication: d.Replication, Configs: map[string]string{
			"cleanup.policy": "compact", "max.message.bytes": maxb}})
	}
	return specs
}

// EnsureTopics creates the topics that do not exist. Existing topics are left as they are
// (their partition counts are never changed live).
func EnsureTopics(ctx context.Context, brokers []string, specs []TopicSpec) error {
	if len(brokers) == 0 {
		return errors.New("transport: no brokers to create topics on")
	}
	cl := adminClient(brokers, 30*time.Second)
	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: max(1, s.Replication)}
		for k, v := range s.Configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		req.Topics = append(req.Topics, tc)
	}
	var res *kafka.CreateTopicsResponse
	var err error
	for attempt := 0; ; attempt++ {
		if res, err = cl.CreateTopics(ctx, req); err == nil {
			break
		}
		if attempt == 4 || ctx.Err() != nil {
			return fmt.Errorf("transport: create topics: %w", err)
		}
		time.Sleep(time.Duration(200<<attempt) * time.Millisecond) // broker starting or restarting
	}
	var errs []error
	for name, e := range res.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", name, e))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return waitTopics(ctx, cl, specs)
}

// waitTopics waits until every topic is in the cluster metadata with a leader for each
// partition: a broker may answer CreateTopics before its metadata shows them.
func waitTopics(ctx context.Context, cl *kafka.Client, specs []TopicSpec) error {
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		names = append(names, s.Name)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
		if err == nil {
			ready := 0
			for _, t := range md.Topics {
				ok := t.Error == nil && len(t.Partitions) > 0
				for _, p := range t.Partitions {
					ok = ok && p.Error == nil && p.Leader.Host != ""
				}
				if ok {
					ready++
				}
			}
			if ready == len(names) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("transport: topics not visible in metadata 30s after creation (last error: %v)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Partitions returns the partition ids of a topic.
func Partitions(ctx context.Context, brokers []string, topic string) ([]int, error) {
	var lastErr error
	for _, b := range brokers {
		conn, err := (&kafka.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", b)
		if err != nil {
			lastErr = err
			continue
		}
		ps, err := conn.ReadPartitions(topic)
		conn.Close()
		if err != nil {
			lastErr = err
			continue
		}
		ids := make([]int, 0, len(ps))
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		return ids, nil
	}
	return nil, fmt.Errorf("transport: read partitions of %s: %w", topic, lastErr)
}

// EndOffsets returns the next offset to be written (high watermark) of each partition.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	parts, err := Partitions(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	cl := adminClient(brokers, 10*time.Second)
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range parts {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	// A topic created a moment ago may answer "not leader" until its leaders are elected:
	// retriable errors are retried for a while.
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := listEnds(ctx, cl, req, topic)
		if err == nil || attempt >= 10 || !retriable(err) || ctx.Err() != nil {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func listEnds(ctx context.Context, cl *kafka.Client, req *kafka.ListOffsetsRequest, topic string) (map[int]int64, error) {
	res, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("transport: list offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("transport: list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

// adminClient returns a client with its own connection pool: kafka-go's default transport is
// process-wide, and its pooled connections to a broker that restarted fail once with EOF.
func adminClient(brokers []string, timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: timeout,
		Transport: &kafka.Transport{DialTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}}
}
