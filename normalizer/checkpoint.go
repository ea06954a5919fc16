package normalizer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/transport"
)

// checkpoint waits until every event emitted so far is acknowledged, then writes the state
// and the raw offsets it reflects to the compacted checkpoint topic and waits for that too.
func (n *Normalizer) checkpoint(ctx context.Context) error {
	if err := n.prod.Flush(ctx); err != nil {
		return fmt.Errorf("normalizer %s: flush before checkpoint: %w", n.conn.Name(), err)
	}
	if f := n.failed.Load(); f != nil {
		return fmt.Errorf("normalizer %s: an event failed to produce; not checkpointing: %w", n.conn.Name(), *f)
	}
	if err := n.guard(); err != nil {
		return err
	}
	n.st.Gen++
	if err := n.writeBookCheckpoints(ctx, n.st.Gen); err != nil {
		return fmt.Errorf("normalizer %s: book checkpoints: %w", n.conn.Name(), err)
	}
	if sp, ok := n.parser.(collectors.StatefulParser); ok {
		b, err := sp.MarshalState()
		if err != nil {
			return fmt.Errorf("normalizer %s: parser state: %w", n.conn.Name(), err)
		}
		n.st.Parser = b
	}
	b, err := json.Marshal(&n.st)
	if err != nil {
		return fmt.Errorf("normalizer %s: encode checkpoint: %w", n.conn.Name(), err)
	}
	if err := n.guard(); err != nil {
		return err
	}
	var perr error
	if err := n.prod.Produce(ctx, transport.TopicNormalizerCheckpoints, []byte(n.conn.Name()), b, func(err error) { perr = err }); err != nil {
		return err
	}
	if err := n.prod.Flush(ctx); err != nil {
		return fmt.Errorf("normalizer %s: write checkpoint: %w", n.conn.Name(), err)
	}
	if perr != nil {
		return fmt.Errorf("normalizer %s: write checkpoint: %w", n.conn.Name(), perr)
	}
	n.m.checkpoints.WithLabelValues(n.conn.Name()).Inc()
	n.lastCkp = time.Now()
	return nil
}

// guard asks Config.Guard whether this normalizer may still write its venue's checkpoints.
func (n *Normalizer) guard() error {
	if n.cfg.Guard == nil {
		return nil
	}
	if err := n.cfg.Guard(); err != nil {
		return fmt.Errorf("normalizer %s: checkpoint refused: %w", n.conn.Name(), err)
	}
	return nil
}

// loadCheckpoint restores the newest checkpoint of this venue, if any.
func (n *Normalizer) loadCheckpoint(ctx context.Context) error {
	b, err := LatestCheckpoint(ctx, n.cfg.Brokers, n.conn.Name())
	if err != nil || b == nil {
		return err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("normalizer %s: checkpoint is corrupt: %w", n.conn.Name(), err)
	}
	if sp, ok := n.parser.(collectors.StatefulParser); ok && len(st.Parser) > 0 {
		if err := sp.UnmarshalState(st.Parser); err != nil {
			return err
		}
	}
	if st.Offsets == nil {
		st.Offsets = map[int]int64{}
	}
	if st.Trades == nil {
		st.Trades = map[string]*tradeSeq{}
	}
	if st.Slots == nil {
		st.Slots = map[string]*slotState{}
	}
	if st.Counts == nil {
		st.Counts = map[string]uint64{}
	}
	st.Books = map[string]*book{}
	if st.BookRefs == nil {
		st.BookRefs = map[string]bookRef{}
	}
	n.st = st
	if err := n.loadBookCheckpoints(ctx); err != nil {
		return err
	}
	n.log.Info("resumed from checkpoint", "offsets", st.Offsets, "instruments_with_trades", len(st.Trades))
	return nil
}

// LatestCheckpoint returns the newest checkpoint value written for venue, or nil.
func LatestCheckpoint(ctx context.Context, brokers []string, venue string) ([]byte, error) {
	ends, err := transport.EndOffsets(ctx, brokers, transport.TopicNormalizerCheckpoints)
	if err != nil {
		return nil, err
	}
	var offs []transport.Offset
	var total int64
	for p, end := range ends {
		if end > 0 {
			offs = append(offs, transport.Offset{Topic: transport.TopicNormalizerCheckpoints, Partition: p, Next: transport.OffsetOldest})
			total += end
		}
	}
	if len(offs) == 0 {
		return nil, nil
	}
	c := transport.NewConsumer(transport.ConsumerConfig{Brokers: brokers, Name: "checkpoint-load"}, nil, nil)
	if err := c.Assign(offs); err != nil {
		return nil, err
	}
	defer c.Close()
	var latest []byte
	done := map[int]bool{}
	lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for len(done) < len(offs) {
		msgs, err := c.Poll(lctx, 1000)
		if err != nil {
			return nil, fmt.Errorf("normalizer: read checkpoints: %w", err)
		}
		for _, m := range msgs {
			if string(m.Key) == venue && m.Value != nil {
				latest = m.Value
			}
			if m.Offset+1 >= ends[m.Partition] {
				done[m.Partition] = true
			}
		}
	}
	return latest, nil
}
