package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
)

const hour0 = int64(1795305600) * int64(time.Second) // 2026-11-22T00:00:00Z

func envelope(seq uint64, recv int64) []byte {
	return md.AppendRaw(nil, &md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: "c0",
		Epoch: 1, Seq: seq, RecvTime: recv, Frame: []byte(fmt.Sprintf(`{"n":%d}`, seq))})
}

func newTestPartition(t *testing.T, dir string) *partWriter {
	t.Helper()
	c, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	pw, _, err := openPartition(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

// readAll returns the archived offsets and checks every envelope against envelope().
func readAll(t *testing.T, root string, recvOf func(off int64) int64) []int64 {
	t.Helper()
	r, err := OpenPartition(root, "binance", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var offs []int64
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return offs
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := envelope(uint64(rec.Offset)+1, recvOf(rec.Offset)); !bytes.Equal(rec.Envelope, want) {
			t.Fatalf("offset %d: envelope differs", rec.Offset)
		}
		offs = append(offs, rec.Offset)
	}
}

func contiguous(offs []int64, from, to int64) error {
	if int64(len(offs)) != to-from+1 {
		return fmt.Errorf("got %d records, want %d (%d..%d)", len(offs), to-from+1, from, to)
	}
	for i, o := range offs {
		if o != from+int64(i) {
			return fmt.Errorf("record %d has offset %d, want %d", i, o, from+int64(i))
		}
	}
	return nil
}

// TestPartitionWriteReadHourRoll: records spanning three receive hours land in three
// segments named by hour and first offset, read back in order, and the index bounds times.
func TestPartitionWriteReadHourRoll(t *testing.T) {
	root := t.TempDir()
	dir := partitionDir(root, "binance", 0)
	pw := newTestPartition(t, dir)
	recv := func(off int64) int64 { return hour0 + off*int64(20*time.Minute) }
	for off := int64(0); off < 9; off++ {
		if _, err := pw.add(off, recv(off), envelope(uint64(off)+1, recv(off)), time.Now()); err != nil {
			t.Fatal(err)
		}
		if off%2 == 1 {
			if err := pw.flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := pw.flush(); err != nil {
		t.Fatal(err)
	}
	pw.close()
	segs, _ := listSegments(dir)
	want := []string{"20261122T00-00000000000000000000.tfraw.zst", "20261122T01-00000000000000000003.tfraw.zst",
		"20261122T02-00000000000000000006.tfraw.zst"}
	if fmt.Sprint(segs) != fmt.Sprint(want) {
		t.Fatalf("segments %v, want %v", segs, want)
	}
	if err := contiguous(readAll(t, root, recv), 0, 8); err != nil {
		t.Fatal(err)
	}
	es, _ := readIndex(dir, false)
	for _, e := range es {
		if e.MinRecv/nsPerHour != e.MaxRecv/nsPerHour || e.MinRecv > e.MaxRecv || e.N != int(e.Last-e.First+1) {
			t.Errorf("index entry %+v: block must lie in one hour with consistent counts", e)
		}
	}
}

// TestPartitionRecovery: every way a crash can leave the directory is repaired on open,
// and the writer resumes at the first offset not durably archived.
func TestPartitionRecovery(t *testing.T) {
	recv := func(off int64) int64 { return hour0 + off }
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir string)
		wantNext int64
	}{
		{"clean", func(*testing.T, string) {}, 6},
		{"torn block tail", func(t *testing.T, dir string) { appendFile(t, lastSeg(t, dir), []byte("\x50\x2a\x4d\x18garbage")) }, 6},
		{"block written, index line missing", func(t *testing.T, dir string) {
			cutIndexLines(t, dir, 1)
		}, 6},
		{"torn index line", func(t *testing.T, dir string) { appendFile(t, filepath.Join(dir, indexName), []byte(`{"seg":"x","po`)) }, 6},
		{"last block cut in the middle, index line missing", func(t *testing.T, dir string) {
			cutIndexLines(t, dir, 1)
			p := lastSeg(t, dir)
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()-5); err != nil {
				t.Fatal(err)
			}
		}, 3},
	}
	defer func(n int64) { recoverTail = n }(recoverTail)
	for _, tail := range []int64{4 << 20, 300} { // the whole index; only its last ~line
		recoverTail = tail
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/tail=%d", tc.name, tail), func(t *testing.T) {
				testRecovery(t, tc.damage, tc.wantNext, recv)
			})
		}
	}
}

func testRecovery(t *testing.T, damage func(*testing.T, string), wantNext int64, recv func(int64) int64) {
	t.Helper()
	root := t.TempDir()
	dir := partitionDir(root, "binance", 0)
	pw := newTestPartition(t, dir)
	for off := int64(0); off < 6; off++ {
		if _, err := pw.add(off, recv(off), envelope(uint64(off)+1, recv(off)), time.Now()); err != nil {
			t.Fatal(err)
		}
		if off == 2 || off == 5 {
			if err := pw.flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	pw.close()
	damage(t, dir)
	pw = newTestPartition(t, dir)
	if pw.next != wantNext {
		t.Fatalf("next %d after recovery, want %d", pw.next, wantNext)
	}
	// Resume from there (as Kafka would redeliver) and finish to offset 8.
	for off := pw.next; off < 9; off++ {
		if _, err := pw.add(off, recv(off), envelope(uint64(off)+1, recv(off)), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.flush(); err != nil {
		t.Fatal(err)
	}
	pw.close()
	if err := contiguous(readAll(t, root, recv), 0, 8); err != nil {
		t.Fatal(err)
	}
}

// TestPartitionHole: an offset jump (records deleted by retention before archiving) is
// recorded as a hole, reported by add, and visible to readers.
func TestPartitionHole(t *testing.T) {
	root := t.TempDir()
	pw := newTestPartition(t, partitionDir(root, "binance", 0))
	recv := func(off int64) int64 { return hour0 + off }
	var lost int64
	for _, off := range []int64{0, 1, 5, 6} {
		n, err := pw.add(off, recv(off), envelope(uint64(off)+1, recv(off)), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		lost += n
	}
	if err := pw.flush(); err != nil {
		t.Fatal(err)
	}
	pw.close()
	if lost != 3 {
		t.Fatalf("lost %d, want 3 (offsets 2..4)", lost)
	}
	r, err := OpenPartition(root, "binance", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	hs := r.Holes()
	if len(hs) != 1 || hs[0].First != 2 || hs[0].Last != 4 || r.Last() != 6 {
		t.Fatalf("holes %+v last %d; want one hole 2..4 and last 6", hs, r.Last())
	}
}

func lastSeg(t *testing.T, dir string) string {
	segs, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return filepath.Join(dir, segs[len(segs)-1])
}

func appendFile(t *testing.T, path string, b []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func cutIndexLines(t *testing.T, dir string, n int) {
	path := filepath.Join(dir, indexName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines = lines[:len(lines)-1-n] // last element is empty after the final newline
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPartitionWriteFailures: a write, fsync or index append that fails (after writing part
// of its bytes) leaves nothing half-written; retrying the flush archives the block exactly
// once, and a reopened directory agrees.
func TestPartitionWriteFailures(t *testing.T) {
	for _, stage := range []string{"write", "sync", "index"} {
		t.Run(stage, func(t *testing.T) {
			root := t.TempDir()
			dir := partitionDir(root, "binance", 0)
			pw := newTestPartition(t, dir)
			recv := func(off int64) int64 { return hour0 + off }
			failures := 0
			pw.failpoint = func(s string) error {
				if s == stage && failures < 2 {
					failures++
					return errors.New("injected " + s + " failure")
				}
				return nil
			}
			for off := int64(0); off < 6; off++ {
				if _, err := pw.add(off, recv(off), envelope(uint64(off)+1, recv(off)), time.Now()); err != nil {
					t.Fatal(err)
				}
				if off == 2 || off == 5 {
					for attempt := 0; ; attempt++ {
						err := pw.flush()
						if err == nil {
							break
						}
						if attempt > 3 {
							t.Fatalf("flush keeps failing: %v", err)
						}
					}
				}
			}
			if failures != 2 {
				t.Fatalf("%d injected failures, want 2", failures)
			}
			pw.close()
			if err := contiguous(readAll(t, root, recv), 0, 5); err != nil {
				t.Fatal(err)
			}
			pw = newTestPartition(t, dir)
			if pw.next != 6 {
				t.Fatalf("reopened at %d, want 6", pw.next)
			}
			pw.close()
			if es, _ := readIndex(dir, false); len(es) != 2 {
				t.Fatalf("index has %d entries, want 2 blocks: %+v", len(es), es)
			}
		})
	}
}
