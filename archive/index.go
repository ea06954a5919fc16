package archive

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// IndexEntry is one line of a partition's index.jsonl (ADR 0010): a block of a segment, or a
// hole — offsets deleted from Kafka before they were archived.
type IndexEntry struct {
	Hole bool   `json:"hole,omitempty"`
	Seg  string `json:"seg,omitempty"`
	Pos  int64  `json:"pos,omitempty"`
	Len  int64  `json:"len,omitempty"`
	// First and Last are the Kafka offsets the block holds (or the hole spans).
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	N     int   `json:"n,omitempty"`
	// MinRecv and MaxRecv bound the records' receive times (Unix ns).
	MinRecv int64 `json:"min_recv,omitempty"`
	MaxRecv int64 `json:"max_recv,omitempty"`
	// MaxKafkaTime is the newest Kafka timestamp in the block (Unix ns).
	MaxKafkaTime int64 `json:"max_ts,omitempty"`
	// Detected is when a hole was found (Unix ns).
	Detected int64 `json:"detected,omitempty"`
}

// indexScanner reads a partition's index line by line (an index grows by a line per block,
// ~86,400 a day per partition: it is never held in memory whole). A torn last line (no
// newline, or not JSON) ends the scan.
type indexScanner struct {
	f     *os.File
	br    *bufio.Reader
	good  int64 // bytes of complete lines read
	limit int64 // stop after this many bytes (< 0: no limit)
	e     IndexEntry
	err   error
}

// openIndexScanner opens dir's index (an absent index reads as empty).
func openIndexScanner(dir string, limit int64) (*indexScanner, error) {
	f, err := os.Open(filepath.Join(dir, indexName))
	if errors.Is(err, os.ErrNotExist) {
		return &indexScanner{limit: limit}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive: read index: %w", err)
	}
	return &indexScanner{f: f, br: bufio.NewReaderSize(f, 256<<10), limit: limit}, nil
}

// seekTail positions the scanner at the first complete line within the last n bytes (the
// recovery at start needs only the newest entries). It returns false when the index is no
// longer than n (the scanner then reads it all).
func (s *indexScanner) seekTail(n int64) (bool, error) {
	if s.f == nil {
		return false, nil
	}
	st, err := s.f.Stat()
	if err != nil || st.Size() <= n {
		return false, err
	}
	start := st.Size() - n
	if _, err := s.f.Seek(start, io.SeekStart); err != nil {
		return false, err
	}
	s.br.Reset(s.f)
	skipped, err := s.br.ReadSlice('\n') // the partial line the tail starts in
	if err != nil {
		return false, nil // no newline in the tail: read it all
	}
	s.good = start + int64(len(skipped))
	return true, nil
}

// next reads the next entry into s.e; false at the end, a torn line, the limit or an error
// (s.err).
func (s *indexScanner) next() bool {
	if s.f == nil || s.err != nil || (s.limit >= 0 && s.good >= s.limit) {
		return false
	}
	line, err := s.br.ReadSlice('\n')
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			s.err = fmt.Errorf("archive: read index: %w", err)
		}
		return false // torn (or absurdly long) last line
	}
	s.e = IndexEntry{}
	if json.Unmarshal(line, &s.e) != nil {
		return false
	}
	s.good += int64(len(line))
	return true
}

func (s *indexScanner) close() {
	if s.f != nil {
		s.f.Close()
	}
}

// scanIndex streams a partition's index to fn. When repair is set, a torn last line is cut
// from the file. It returns the size of the good part.
func scanIndex(dir string, repair bool, fn func(e *IndexEntry) error) (int64, error) {
	return scanIndexTail(dir, repair, -1, fn)
}

// scanIndexTail is scanIndex over the last tail bytes only (all when tail < 0 or the index
// is shorter).
func scanIndexTail(dir string, repair bool, tail int64, fn func(e *IndexEntry) error) (int64, error) {
	s, err := openIndexScanner(dir, -1)
	if err != nil {
		return 0, err
	}
	defer s.close()
	if tail >= 0 {
		if _, err := s.seekTail(tail); err != nil {
			return 0, fmt.Errorf("archive: read index tail: %w", err)
		}
	}
	for s.next() {
		if err := fn(&s.e); err != nil {
			return s.good, err
		}
	}
	if s.err != nil {
		return s.good, s.err
	}
	if repair && s.f != nil {
		if st, err := s.f.Stat(); err == nil && st.Size() > s.good {
			if err := os.Truncate(s.f.Name(), s.good); err != nil {
				return s.good, fmt.Errorf("archive: cut torn index line: %w", err)
			}
		}
	}
	return s.good, nil
}

// readIndex returns the whole index (tests and small archives only; see scanIndex).
func readIndex(dir string, repair bool) ([]IndexEntry, error) {
	var out []IndexEntry
	_, err := scanIndex(dir, repair, func(e *IndexEntry) error {
		out = append(out, *e)
		return nil
	})
	return out, err
}

// appendIndex appends entries to the open index file and fsyncs it.
func appendIndex(f *os.File, es ...IndexEntry) error {
	var buf []byte
	for i := range es {
		b, err := json.Marshal(&es[i])
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("archive: append index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("archive: sync index: %w", err)
	}
	return nil
}
