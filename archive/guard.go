package archive

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tickflow/tickflow/transport"
)

// guard keeps a raw topic's retention behind the archive (ADR 0010): retention.ms is
// max(configured, age of the oldest unarchived record + margin), -1 while that age is
// unknown, and back to the configured value once the archive is caught up.
type guard struct {
	venue   string
	brokers []string
	base    time.Duration
	margin  time.Duration
	enabled bool
	last    string // value last set ("" = never)
}

// span is a partition's first (log start) and end (next to be written) offsets.
type span struct{ first, end int64 }

// protectFrom returns the Kafka time (Unix ns) of the oldest raw record of the venue not yet
// durably archived: 0 when every partition is archived to its end, -1 when unknown (a
// partition with records beyond the archive and nothing fetched from it yet).
func protectFrom(parts map[int]*partWriter, spans map[int]span) int64 {
	var oldest int64
	for p, pw := range parts {
		sp, ok := spans[p]
		if !ok {
			continue
		}
		var ts int64
		switch {
		case pw.pendingKafkaTime() != 0:
			ts = pw.pendingKafkaTime()
		case max(pw.durableNext, sp.first) >= sp.end:
			continue // archived to the end (or nothing retained)
		case pw.lastKafkaTime > 0:
			// Records after the last archived one are not fetched yet: they are newer.
			ts = pw.lastKafkaTime
		default:
			return -1
		}
		if oldest == 0 || ts < oldest {
			oldest = ts
		}
	}
	return oldest
}

// retentionFor returns the retention.ms to set for protectFrom at now.
func (g *guard) retentionFor(from int64, now time.Time) string {
	switch {
	case from < 0:
		return "-1"
	case from == 0:
		return strconv.FormatInt(g.base.Milliseconds(), 10)
	}
	need := now.Sub(time.Unix(0, from)) + g.margin
	return strconv.FormatInt(max(g.base, need).Milliseconds(), 10)
}

// offsets returns the first and end offsets of every partition of the venue's raw topic.
func (g *guard) offsets(ctx context.Context, parts []int) (map[int]span, error) {
	cl := g.client()
	topic := transport.RawTopic(g.venue)
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range parts {
		req.Topics[topic] = append(req.Topics[topic], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	res, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("archive: list offsets of %s: %w", topic, err)
	}
	out := map[int]span{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("archive: list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = span{first: po.FirstOffset, end: po.LastOffset}
	}
	return out, nil
}

func (g *guard) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(g.brokers...), Timeout: 10 * time.Second,
		Transport: &kafka.Transport{DialTimeout: 5 * time.Second, IdleTimeout: 10 * time.Second}}
}

// apply sets retention.ms on the venue's raw topic when it changed.
func (g *guard) apply(ctx context.Context, value string) error {
	if !g.enabled || value == g.last {
		return nil
	}
	cl := g.client()
	topic := transport.RawTopic(g.venue)
	res, err := cl.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{ResourceType: kafka.ResourceTypeTopic,
			ResourceName: topic, Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: "retention.ms",
				Value: value, ConfigOperation: kafka.ConfigOperationSet}}}}})
	if err != nil {
		return fmt.Errorf("archive: set retention.ms=%s on %s: %w", value, topic, err)
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			return fmt.Errorf("archive: set retention.ms=%s on %s: %w", value, topic, r.Error)
		}
	}
	g.last = value
	return nil
}

// Span is a partition's first retained offset (log start) and end offset (the next to be
// written).
type Span struct{ First, End int64 }

// RawOffsets returns the log-start and end offsets of every partition of venue's raw topic.
func RawOffsets(ctx context.Context, brokers []string, venue string) (map[int]Span, error) {
	parts, err := transport.Partitions(ctx, brokers, transport.RawTopic(venue))
	if err != nil {
		return nil, err
	}
	g := &guard{venue: venue, brokers: brokers}
	spans, err := g.offsets(ctx, parts)
	if err != nil {
		return nil, err
	}
	out := make(map[int]Span, len(spans))
	for p, s := range spans {
		out[p] = Span{First: s.first, End: s.end}
	}
	return out, nil
}
