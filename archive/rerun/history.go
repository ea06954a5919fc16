package rerun

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tickflow/tickflow/archive"
	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// History is a venue's raw history: the archive (ADR 0010) and, after its last archived
// offset, the raw topic up to its end at the time of reading.
type History struct {
	// Venue whose raw history is read.
	Venue string
	// ArchiveDir is the archive root ("" = no archive).
	ArchiveDir string
	// Brokers of the Kafka cluster holding the raw topic (nil = archive only).
	Brokers []string
	// Log receives progress logs (default discard).
	Log *slog.Logger
}

// partSource yields one partition's records in offset order: archive first, then topic.
type partSource struct {
	part    int
	ar      *archive.PartitionReader
	arDone  bool
	cons    *transport.Consumer
	next    int64 // next topic offset to deliver
	end     int64 // topic end offset (exclusive)
	queue   []transport.Message
	dec     *md.Decoder
	rec     md.RawRecord
	off     int64
	ok      bool // rec holds the head record
	closeFn []func() error
}

// advance loads the next record into ps.rec; ok false at the end.
func (ps *partSource) advance(ctx context.Context) error {
	ps.ok = false
	if ps.ar != nil && !ps.arDone {
		r, err := ps.ar.Next()
		switch {
		case err == nil:
			if err := ps.dec.DecodeRaw(&ps.rec, r.Envelope); err != nil {
				return fmt.Errorf("rerun: archived record at offset %d of partition %d: %w", r.Offset, ps.part, err)
			}
			ps.off, ps.ok = r.Offset, true
			return nil
		case errors.Is(err, io.EOF):
			ps.arDone = true
		default:
			return err
		}
	}
	if ps.cons == nil || ps.next >= ps.end {
		return nil
	}
	for len(ps.queue) == 0 {
		msgs, err := ps.cons.PollTimeout(ctx, 1000, 10*time.Second)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return fmt.Errorf("rerun: raw partition %d: no record at offset %d within 10s (end %d)", ps.part, ps.next, ps.end)
		}
		ps.queue = append(ps.queue, msgs...)
	}
	m := ps.queue[0]
	ps.queue = ps.queue[1:]
	if m.Offset != ps.next {
		return fmt.Errorf("rerun: raw partition %d: offset %d where %d was expected (records deleted while reading?)", ps.part, m.Offset, ps.next)
	}
	ps.next++
	if err := ps.dec.DecodeRaw(&ps.rec, m.Value); err != nil {
		return fmt.Errorf("rerun: raw record at offset %d of partition %d: %w", m.Offset, ps.part, err)
	}
	ps.off, ps.ok = m.Offset, true
	return nil
}

// sourceHeap orders partition sources by their head record's receive time (container/heap).
type sourceHeap []*partSource

// Len, Less, Swap, Push and Pop implement heap.Interface.
func (h sourceHeap) Len() int { return len(h) }
func (h sourceHeap) Less(i, j int) bool {
	if h[i].rec.RecvTime != h[j].rec.RecvTime {
		return h[i].rec.RecvTime < h[j].rec.RecvTime
	}
	return h[i].part < h[j].part
}
func (h sourceHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sourceHeap) Push(x any)   { *h = append(*h, x.(*partSource)) }
func (h *sourceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Replay feeds the venue's raw history to r: per partition in offset order (archive, then
// the topic after the archive's last offset), partitions merged by receive time. Offsets
// missing from both (deleted from Kafka before they were archived) are reported to r as
// holes. It reads the topic up to its end offsets when Replay started.
func (h History) Replay(ctx context.Context, r *Runner) error {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	parts := map[int]*partSource{}
	get := func(p int) *partSource {
		if parts[p] == nil {
			parts[p] = &partSource{part: p, dec: md.NewDecoder()}
		}
		return parts[p]
	}
	defer func() {
		for _, ps := range parts {
			for _, f := range ps.closeFn {
				_ = f()
			}
		}
	}()
	archLast := map[int]int64{}
	if h.ArchiveDir != "" {
		ids, err := archive.Partitions(h.ArchiveDir, h.Venue)
		if err != nil {
			return err
		}
		for _, p := range ids {
			ar, err := archive.OpenPartition(h.ArchiveDir, h.Venue, p)
			if err != nil {
				return err
			}
			ps := get(p)
			ps.ar = ar
			ps.closeFn = append(ps.closeFn, ar.Close)
			archLast[p] = ar.Last()
			for _, hole := range ar.Holes() {
				r.Hole(h.Venue, p, hole.First, hole.Last)
			}
		}
	}
	if len(h.Brokers) > 0 {
		spans, err := archive.RawOffsets(ctx, h.Brokers, h.Venue)
		if err != nil {
			return err
		}
		for p, sp := range spans {
			last, ok := archLast[p]
			if !ok {
				last = -1
			}
			start := max(last+1, sp.First)
			if start > last+1 && (last >= 0 || sp.First > 0) {
				r.Hole(h.Venue, p, last+1, start-1) // neither archived nor retained
			}
			if start >= sp.End {
				continue
			}
			ps := get(p)
			cons := transport.NewConsumer(transport.ConsumerConfig{Brokers: h.Brokers, Name: "renormalize"}, nil, log)
			if err := cons.Assign([]transport.Offset{{Topic: transport.RawTopic(h.Venue), Partition: p, Next: start}}); err != nil {
				return err
			}
			ps.cons, ps.next, ps.end = cons, start, sp.End
			ps.closeFn = append(ps.closeFn, cons.Close)
		}
	}
	hp := &sourceHeap{}
	for _, ps := range parts {
		if err := ps.advance(ctx); err != nil {
			return err
		}
		if ps.ok {
			*hp = append(*hp, ps)
		}
	}
	heap.Init(hp)
	for hp.Len() > 0 {
		ps := (*hp)[0]
		if err := r.Process(ctx, &ps.rec); err != nil {
			return err
		}
		if err := ps.advance(ctx); err != nil {
			return err
		}
		if ps.ok {
			heap.Fix(hp, 0)
		} else {
			heap.Pop(hp)
		}
	}
	return nil
}
