package normalizer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// Book checkpoints (ADR 0006). Books are too large for the venue checkpoint (200 books of a
// few thousand levels each exceed any sane Kafka message size), so each book that changed is
// written as its own record to the compacted tickflow.md.books.checkpoints topic, tagged with
// the checkpoint generation, before the venue checkpoint that references it. Each book
// alternates between two keys ("<venue>/<symbol>#0" and "#1"), so the record a committed
// venue checkpoint references is never overwritten by the next write of the same book — a
// crash between the two leaves the previous checkpoint fully restorable.
//
// Record value: uvarint(gen), uvarint(len(meta)), meta (JSON of the book's scalar state and
// buffered deltas), then the book's levels as a wire-encoded md.BookUpdate snapshot.

// bookRef locates the book checkpoint record a venue checkpoint references.
type bookRef struct {
	Gen  uint64 `json:"gen"`
	Slot uint8  `json:"slot"`
}

func bookCheckpointKey(venue, symbol string, slot uint8) []byte {
	return []byte(venue + "/" + symbol + "#" + strconv.Itoa(int(slot)))
}

// encodeBookCheckpoint appends the checkpoint record of b to dst.
func encodeBookCheckpoint(dst []byte, venue string, b *book, gen uint64, scratch *md.BookUpdate) ([]byte, error) {
	meta := *b
	meta.Bids, meta.Asks = side{Bid: true}, side{}
	mb, err := json.Marshal(&meta)
	if err != nil {
		return dst, err
	}
	dst = binary.AppendUvarint(dst, gen)
	dst = binary.AppendUvarint(dst, uint64(len(mb)))
	dst = append(dst, mb...)
	*scratch = md.BookUpdate{Header: md.Header{Venue: venue, Symbol: b.Symbol, RecvTime: 1}, Snapshot: true,
		Seq: b.Seq, LastID: b.LastID, FirstID: b.LastID, Depth: b.knownDepth(),
		Bids: b.Bids.appendLevels(scratch.Bids[:0], b.PxScale, b.QtyScale, 0),
		Asks: b.Asks.appendLevels(scratch.Asks[:0], b.PxScale, b.QtyScale, 0)}
	return md.AppendBookUpdate(dst, scratch), nil
}

// decodeBookCheckpoint decodes a record written by encodeBookCheckpoint.
func decodeBookCheckpoint(v []byte, dec *md.Decoder) (uint64, *book, error) {
	gen, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, nil, errors.New("book checkpoint: bad generation")
	}
	v = v[n:]
	ml, n := binary.Uvarint(v)
	if n <= 0 || ml > uint64(len(v)-n) {
		return 0, nil, errors.New("book checkpoint: bad meta length")
	}
	var b book
	if err := json.Unmarshal(v[n:n+int(ml)], &b); err != nil {
		return 0, nil, fmt.Errorf("book checkpoint: meta: %w", err)
	}
	var u md.BookUpdate
	if err := dec.DecodeBookUpdate(&u, v[n+int(ml):]); err != nil {
		return 0, nil, fmt.Errorf("book checkpoint: levels: %w", err)
	}
	b.Bids, b.Asks = side{Bid: true}, side{}
	if !b.applyLevels(&b.Bids, u.Bids) || !b.applyLevels(&b.Asks, u.Asks) {
		return 0, nil, errors.New("book checkpoint: levels do not fit the book's scales")
	}
	return gen, &b, nil
}

// writeBookCheckpoints writes every book that changed since the last checkpoint, tagged gen.
func (n *Normalizer) writeBookCheckpoints(ctx context.Context, gen uint64) error {
	venue := n.conn.Name()
	var failed error
	for sym, b := range n.st.Books {
		if !b.changed {
			continue
		}
		b.ckSlot ^= 1
		val, err := encodeBookCheckpoint(nil, venue, b, gen, &n.ckScratch)
		if err != nil {
			return fmt.Errorf("normalizer %s: encode book checkpoint of %s: %w", venue, sym, err)
		}
		if err := n.prod.Produce(ctx, transport.TopicBookCheckpoints, bookCheckpointKey(venue, sym, b.ckSlot), val,
			func(err error) {
				if err != nil {
					failed = err
				}
			}); err != nil {
			return err
		}
		n.st.BookRefs[sym] = bookRef{Gen: gen, Slot: b.ckSlot}
		b.changed = false
	}
	if err := n.prod.Flush(ctx); err != nil {
		return err
	}
	return failed
}

// loadBookCheckpoints restores the books the venue checkpoint references. A book whose
// record is missing (it should not be) starts empty and waits for a snapshot.
func (n *Normalizer) loadBookCheckpoints(ctx context.Context) error {
	if len(n.st.BookRefs) == 0 {
		return nil
	}
	venue := n.conn.Name()
	ends, err := transport.EndOffsets(ctx, n.cfg.Brokers, transport.TopicBookCheckpoints)
	if err != nil {
		return err
	}
	var offs []transport.Offset
	for p, end := range ends {
		if end > 0 {
			offs = append(offs, transport.Offset{Topic: transport.TopicBookCheckpoints, Partition: p, Next: transport.OffsetOldest})
		}
	}
	if len(offs) == 0 {
		return nil
	}
	c := transport.NewConsumer(transport.ConsumerConfig{Brokers: n.cfg.Brokers, Name: "book-checkpoint-load"}, nil, nil)
	if err := c.Assign(offs); err != nil {
		return err
	}
	defer c.Close()
	lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dec := md.NewDecoder()
	done := map[int]bool{}
	prefix := venue + "/"
	for len(done) < len(offs) {
		msgs, err := c.Poll(lctx, 1000)
		if err != nil {
			return fmt.Errorf("normalizer %s: read book checkpoints: %w", venue, err)
		}
		for _, m := range msgs {
			if m.Offset+1 >= ends[m.Partition] {
				done[m.Partition] = true
			}
			key := string(m.Key)
			if !strings.HasPrefix(key, prefix) || m.Value == nil {
				continue
			}
			sym, slot, ok := strings.Cut(strings.TrimPrefix(key, prefix), "#")
			ref, want := n.st.BookRefs[sym]
			if !ok || !want || slot != strconv.Itoa(int(ref.Slot)) {
				continue
			}
			gen, b, err := decodeBookCheckpoint(m.Value, dec)
			if err != nil || gen != ref.Gen {
				continue
			}
			b.ckSlot = ref.Slot
			n.st.Books[sym] = b
		}
	}
	restored := 0
	for sym := range n.st.BookRefs {
		if n.st.Books[sym] != nil {
			restored++
		}
	}
	n.log.Info("restored books from checkpoints", "books", restored, "referenced", len(n.st.BookRefs))
	return nil
}
