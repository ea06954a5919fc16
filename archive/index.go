package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// readIndex reads a partition's index. A torn last line (no newline, or not JSON) is
// dropped and, when repair is set, cut from the file.
func readIndex(dir string, repair bool) ([]IndexEntry, error) {
	path := filepath.Join(dir, indexName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive: read index: %w", err)
	}
	var out []IndexEntry
	good := 0
	for good < len(b) {
		nl := bytes.IndexByte(b[good:], '\n')
		if nl < 0 {
			break
		}
		var e IndexEntry
		if err := json.Unmarshal(b[good:good+nl], &e); err != nil {
			break
		}
		out = append(out, e)
		good += nl + 1
	}
	if good < len(b) && repair {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, fmt.Errorf("archive: cut torn index line: %w", err)
		}
	}
	return out, nil
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
