package collectors

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEpochsStrictlyIncrease(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "state", "epoch")} {
		e, err := OpenEpochs(path)
		if err != nil {
			t.Fatal(err)
		}
		before := uint64(time.Now().UnixNano())
		var last uint64
		for i := range 100 {
			n, err := e.Next()
			if err != nil {
				t.Fatal(err)
			}
			if n <= last {
				t.Fatalf("path %q: epoch %d = %d after %d", path, i, n, last)
			}
			last = n
		}
		if first, _ := e.Next(); first < before {
			t.Errorf("epochs are not wall-clock ns: %d < %d", first, before)
		}
	}
}

func TestEpochsConcurrent(t *testing.T) {
	e, err := OpenEpochs(filepath.Join(t.TempDir(), "epoch"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				n, err := e.Next()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[n] {
					t.Errorf("epoch %d handed out twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestEpochsPersisted: a reopened epoch file continues above every epoch handed out before,
// even when the wall clock is behind the persisted value (clock stepped back, or a fast host
// before).
func TestEpochsPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "epoch")
	e1, err := OpenEpochs(path)
	if err != nil {
		t.Fatal(err)
	}
	n1, err := e1.Next()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) != strconv.FormatUint(n1, 10) {
		t.Fatalf("epoch file %q, %v; want %d", b, err, n1)
	}
	e2, err := OpenEpochs(path)
	if err != nil {
		t.Fatal(err)
	}
	if n2, err := e2.Next(); err != nil || n2 <= n1 {
		t.Fatalf("after reopen: %d, %v; want > %d", n2, err, n1)
	}

	future := uint64(time.Now().Add(time.Hour).UnixNano())
	if err := os.WriteFile(path, []byte(strconv.FormatUint(future, 10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e3, err := OpenEpochs(path)
	if err != nil {
		t.Fatal(err)
	}
	if n3, err := e3.Next(); err != nil || n3 != future+1 {
		t.Fatalf("with a persisted epoch an hour ahead: %d, %v; want %d", n3, err, future+1)
	}
}

func TestEpochsCorruptFile(t *testing.T) {
	for _, content := range []string{"", "garbage\n", "-5\n", "12 34\n", "99999999999999999999999\n"} {
		path := filepath.Join(t.TempDir(), "epoch")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenEpochs(path)
		if err == nil {
			t.Errorf("epoch file %q accepted", content)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, path) || !strings.Contains(msg, "corrupt") || !strings.Contains(msg, "delete it") {
			t.Errorf("epoch file %q: error %q should name the file, say it is corrupt and how to recover", content, msg)
		}
	}
	// A path that cannot be read is an error too, not a silent restart from zero.
	dir := t.TempDir()
	if _, err := OpenEpochs(dir); err == nil || !strings.Contains(err.Error(), "read epoch file") {
		t.Errorf("directory as epoch file: %v", err)
	}
}

func TestEpochsPersistFailure(t *testing.T) {
	dir := t.TempDir()
	e, err := OpenEpochs(filepath.Join(dir, "sub", "epoch"))
	if err != nil {
		t.Fatal(err)
	}
	// The state directory is replaced by a file: the epoch cannot be persisted.
	if err := os.WriteFile(filepath.Join(dir, "sub"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Next(); err == nil || n != 0 || !strings.Contains(err.Error(), "persist epoch") {
		t.Fatalf("Next with an unwritable file = %d, %v", n, err)
	}
	if e.last != 0 {
		t.Fatalf("an epoch that was not persisted was kept: %d", e.last)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "state.json")
	if err := WriteFileAtomic(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two, longer")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("3")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "3" {
		t.Fatalf("content %q, %v", b, err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only state.json (temporary files left behind)", names)
	}

	// Failure: the parent is a file. Nothing is created.
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(blocker, "state"), []byte("y")); err == nil {
		t.Fatal("write under a file succeeded")
	}
}

// TestWriteFileAtomicRenameFailure: when the final rename fails (here the target is a
// directory) the error is returned and the temporary file is removed. The session's state
// loop retries every second, so a leaked temporary file per attempt would fill the disk.
func TestWriteFileAtomicRenameFailure(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "isdir")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(target, []byte("z")); err == nil {
		t.Fatal("write over a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Fatalf("WriteFileAtomic leaves %s behind when os.Rename fails (epoch.go: remove f.Name() on rename error)", e.Name())
		}
	}
}

// TestWriteFileAtomicConcurrent: readers never see a torn or empty file while writers
// replace it.
func TestWriteFileAtomicConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	valid := map[string]bool{}
	var payloads [][]byte
	for i := range 4 {
		p := bytes.Repeat([]byte{byte('a' + i)}, 4096*(i+1))
		payloads = append(payloads, p)
		valid[string(p)] = true
	}
	if err := WriteFileAtomic(path, payloads[0]); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range payloads {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := WriteFileAtomic(path, payloads[i]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 300 {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !valid[string(b)] {
			t.Fatalf("read a torn file of %d bytes", len(b))
		}
	}
	close(stop)
	wg.Wait()
}
