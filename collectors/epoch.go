package collectors

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Epochs hands out connection epochs that strictly increase for a collector, across
// restarts: max(last + 1, wall clock ns), persisted before use (ADR 0001).
type Epochs struct {
	mu   sync.Mutex
	path string
	last uint64
}

// OpenEpochs loads the last epoch from path (created if missing). path == "" keeps epochs in
// memory only.
func OpenEpochs(path string) (*Epochs, error) {
	e := &Epochs{path: path}
	if path == "" {
		return e, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return nil, fmt.Errorf("collectors: read epoch file: %w", err)
	default:
		if e.last, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return nil, fmt.Errorf("collectors: epoch file %s is corrupt (%v); delete it to start over", path, err)
		}
	}
	return e, nil
}

// Next returns a new epoch, persisted before it is returned.
func (e *Epochs) Next() (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := max(e.last+1, uint64(time.Now().UnixNano()))
	if e.path != "" {
		if err := WriteFileAtomic(e.path, []byte(strconv.FormatUint(n, 10)+"\n")); err != nil {
			return 0, fmt.Errorf("collectors: persist epoch: %w", err)
		}
	}
	e.last = n
	return n, nil
}

// WriteFileAtomic writes data to path via a synced temporary file and a rename, so a crash
// leaves either the old or the new content.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
