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

// Summary describes an archived partition, from its index.
type Summary struct {
	// First and Last are the first and last archived offsets (-1 when none), holes included
	// in Last.
	First, Last int64
	// Records, Blocks and Bytes count the archived records, blocks and compressed bytes.
	Records int64
	Blocks  int64
	Bytes   int64
	// MinRecv and MaxRecv bound the records' receive times (Unix ns; 0 when none).
	MinRecv, MaxRecv int64
	// Holes are the offsets deleted from Kafka before they were archived.
	Holes []IndexEntry
}

// PartitionReader reads one archived partition in offset order: the blocks its index lists
// (durable ones; a block being written is not visible until indexed), as of OpenPartition.
// It streams the index and the segments, so its memory does not grow with history. It may
// run beside the archiver writing the same directory. Not goroutine-safe.
type PartitionReader struct {
	dir   string
	sum   Summary
	limit int64 // index bytes as of open: the snapshot read
	c     *codec

	idx *indexScanner // the index, streamed by Next (nil until the first call)

	f     *os.File
	fname string
	buf   []byte
	rest  []byte
}

// OpenPartition opens the archive of venue's partition part under root. A partition never
// archived reads as empty.
func OpenPartition(root, venue string, part int) (*PartitionReader, error) {
	dir := partitionDir(root, venue, part)
	r := &PartitionReader{dir: dir, sum: Summary{First: -1, Last: -1}}
	limit, err := scanIndex(dir, false, func(e *IndexEntry) error {
		s := &r.sum
		s.Last = max(s.Last, e.Last)
		if e.Hole {
			s.Holes = append(s.Holes, *e)
			return nil
		}
		if s.First < 0 {
			s.First = e.First
		}
		s.Records += int64(e.N)
		s.Blocks++
		s.Bytes += e.Len
		if s.MinRecv == 0 || e.MinRecv < s.MinRecv {
			s.MinRecv = e.MinRecv
		}
		s.MaxRecv = max(s.MaxRecv, e.MaxRecv)
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.limit = limit
	if r.c, err = newCodec(); err != nil {
		return nil, err
	}
	return r, nil
}

// Last returns the last archived offset (-1 when none), holes included.
func (r *PartitionReader) Last() int64 { return r.sum.Last }

// Holes returns the recorded holes: offsets deleted from Kafka before they were archived.
func (r *PartitionReader) Holes() []IndexEntry { return r.sum.Holes }

// Summary returns what the partition holds (as of OpenPartition).
func (r *PartitionReader) Summary() Summary { return r.sum }

// nextEntry returns the next block entry of the index snapshot (ok false at its end).
func (r *PartitionReader) nextEntry() (IndexEntry, bool, error) {
	if r.idx == nil {
		idx, err := openIndexScanner(r.dir, r.limit)
		if err != nil {
			return IndexEntry{}, false, err
		}
		r.idx = idx
	}
	for r.idx.next() {
		if !r.idx.e.Hole {
			return r.idx.e, true, nil
		}
	}
	return IndexEntry{}, false, r.idx.err
}

// Next returns the next record, or io.EOF after the last. The record's Envelope is valid
// until the next call.
func (r *PartitionReader) Next() (Record, error) {
	for len(r.rest) == 0 {
		e, ok, err := r.nextEntry()
		if err != nil {
			return Record{}, err
		}
		if !ok {
			return Record{}, io.EOF
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

// Close releases the reader's files.
func (r *PartitionReader) Close() error {
	if r.idx != nil {
		r.idx.close()
	}
	r.c.close()
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}
