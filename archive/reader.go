package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Partitions returns the archived partitions of a venue under root, sorted.
func Partitions(root, venue string) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join(root, venue))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive: list %s: %w", venue, err)
	}
	var parts []int
	for _, e := range ents {
		if n, ok := strings.CutPrefix(e.Name(), "p"); ok && e.IsDir() {
			if p, err := strconv.Atoi(n); err == nil {
				parts = append(parts, p)
			}
		}
	}
	sort.Ints(parts)
	return parts, nil
}

// PartitionReader reads one archived partition in offset order: the blocks its index lists
// (durable ones; a block being written is not visible until indexed). It may run beside the
// archiver writing the same directory. Not goroutine-safe.
type PartitionReader struct {
	dir     string
	entries []IndexEntry
	c       *codec
	i       int // next entry
	f       *os.File
	fname   string
	buf     []byte
	rest    []byte
}

// OpenPartition opens the archive of venue's partition part under root. A partition never
// archived reads as empty.
func OpenPartition(root, venue string, part int) (*PartitionReader, error) {
	dir := partitionDir(root, venue, part)
	entries, err := readIndex(dir, false)
	if err != nil {
		return nil, err
	}
	c, err := newCodec()
	if err != nil {
		return nil, err
	}
	return &PartitionReader{dir: dir, entries: entries, c: c}, nil
}

// Last returns the last archived offset (-1 when none), holes included.
func (r *PartitionReader) Last() int64 {
	last := int64(-1)
	for _, e := range r.entries {
		last = max(last, e.Last)
	}
	return last
}

// Holes returns the recorded holes: offsets deleted from Kafka before they were archived.
func (r *PartitionReader) Holes() []IndexEntry {
	var hs []IndexEntry
	for _, e := range r.entries {
		if e.Hole {
			hs = append(hs, e)
		}
	}
	return hs
}

// Entries returns the partition's index (blocks and holes, in offset order).
func (r *PartitionReader) Entries() []IndexEntry { return r.entries }

// Next returns the next record, or io.EOF after the last. The record's Envelope is valid
// until the next call.
func (r *PartitionReader) Next() (Record, error) {
	for len(r.rest) == 0 {
		if r.i >= len(r.entries) {
			return Record{}, io.EOF
		}
		e := r.entries[r.i]
		r.i++
		if e.Hole {
			continue
		}
		if r.f == nil || r.fname != e.Seg {
			if r.f != nil {
				r.f.Close()
			}
			f, err := os.Open(filepath.Join(r.dir, e.Seg))
			if err != nil {
				return Record{}, fmt.Errorf("archive: open segment: %w", err)
			}
			r.f, r.fname = f, e.Seg
		}
		var err error
		r.buf, _, err = r.c.readBlock(r.f, e.Pos, r.buf[:0])
		if err != nil {
			return Record{}, fmt.Errorf("archive: %s block at %d (offsets %d..%d): %w", e.Seg, e.Pos, e.First, e.Last, err)
		}
		r.rest = r.buf
	}
	rec, rest, err := nextRecord(r.rest)
	if err != nil {
		return Record{}, fmt.Errorf("archive: %s: %w", r.fname, err)
	}
	r.rest = rest
	return rec, nil
}

// Close releases the reader's file.
func (r *PartitionReader) Close() error {
	r.c.close()
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}
