package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tickflow/tickflow/md"
)

const nsPerHour = int64(time.Hour)

// recoverTail is how much of the index's end recovery reads (a segment's hour of 1 s blocks
// is ~3,600 lines, ~0.8 MB); var for tests.
var recoverTail int64 = 4 << 20

// partWriter archives one raw partition into its directory. Not goroutine-safe.
type partWriter struct {
	dir string
	c   *codec
	dec *md.Decoder
	rec md.RawRecord

	idx     *os.File
	idxSize int64 // bytes of the index known good (a failed append is cut back to it)
	seg     *os.File
	segName string
	segHour int64
	segSize int64

	// next is the offset expected next (-1: nothing archived yet, start at the oldest).
	next int64
	// durableNext is the offset after the last durably archived record (-1: none).
	durableNext int64
	// lastKafkaTime is the Kafka time of the last durably archived record.
	lastKafkaTime int64

	// failpoint, when set (tests), is called at "write", "sync" and "index"; an error makes
	// that step fail after writing half of its bytes.
	failpoint func(stage string) error

	// pendingIndex: the block is durable in the segment at pendingPos, its index line is not
	// yet (a failed index append is retried without rewriting the block).
	pendingIndex bool
	pendingPos   int64

	// the block being built
	raw       []byte
	n         int
	first     int64
	last      int64
	minRecv   int64
	maxRecv   int64
	firstKT   int64
	maxKT     int64
	blockHour int64
	out       []byte
}

// openPartition recovers a partition directory (ADR 0010): it cuts a torn index line and a
// torn segment tail, indexes complete blocks the index lacks, and positions the writer after
// the last archived offset. recovered counts the blocks it had to index.
func openPartition(dir string, c *codec) (pw *partWriter, recovered int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("archive: create %s: %w", dir, err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, 0, err
	}
	lastSeg := ""
	if len(segs) > 0 {
		lastSeg = segs[len(segs)-1]
	}
	pw = &partWriter{dir: dir, c: c, dec: md.NewDecoder(), next: -1, durableNext: -1}
	// One streaming pass: the next offset, the last Kafka time, and how much of the last
	// segment the index covers.
	// Entries are appended in offset order, so the newest ones (the index's tail) say all
	// of that; the whole index is read only when its tail holds no block.
	var lastEnd int64
	lastIndexed, sawBlock := false, false
	scan := func(e *IndexEntry) error {
		pw.next = max(pw.next, e.Last+1)
		if !e.Hole {
			sawBlock = true
			if e.MaxKafkaTime > 0 {
				pw.lastKafkaTime = e.MaxKafkaTime
			}
		}
		if e.Seg == lastSeg && lastSeg != "" {
			lastIndexed, lastEnd = true, max(lastEnd, e.Pos+e.Len)
		}
		return nil
	}
	if _, err := scanIndexTail(dir, true, recoverTail, scan); err != nil {
		return nil, 0, err
	}
	if !sawBlock {
		pw.next, lastIndexed, lastEnd = -1, false, 0
		if _, err := scanIndex(dir, true, scan); err != nil {
			return nil, 0, err
		}
	}
	idxPath := filepath.Join(dir, indexName)
	_, statErr := os.Stat(idxPath)
	if pw.idx, err = os.OpenFile(idxPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, 0, fmt.Errorf("archive: open index: %w", err)
	}
	defer func() {
		if err != nil {
			pw.close()
		}
	}()
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(dir); err != nil {
			return nil, 0, err
		}
	}
	if st, err := pw.idx.Stat(); err == nil {
		pw.idxSize = st.Size()
	}
	if lastSeg != "" {
		added, err := pw.recoverSegment(lastSeg, lastIndexed, lastEnd)
		if err != nil {
			return nil, 0, err
		}
		recovered = len(added)
		for _, e := range added {
			pw.next = max(pw.next, e.Last+1)
			pw.lastKafkaTime = e.MaxKafkaTime
		}
	}
	pw.durableNext = pw.next
	return pw, recovered, nil
}

// recoverSegment scans the blocks of segment name after pos (the end of the blocks the index
// lists for it; indexed says whether it lists any), cuts a torn
// tail, indexes the complete blocks found and keeps the segment open for appending (or
// removes it when it holds nothing).
func (pw *partWriter) recoverSegment(name string, indexed bool, pos int64) ([]IndexEntry, error) {
	path := filepath.Join(pw.dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("archive: open segment: %w", err)
	}
	var added []IndexEntry
	var buf []byte
	for {
		buf, _ = buf[:0], 0
		var n int64
		buf, n, err = pw.c.readBlock(f, pos, buf)
		if errors.Is(err, errTorn) {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("archive: recover %s: %w", path, err)
		}
		e, err := pw.describe(buf)
		if err != nil {
			break // decodes but holds garbage: treat as torn
		}
		e.Seg, e.Pos, e.Len = name, pos, n
		added = append(added, e)
		pos += n
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() > pos {
		if err := f.Truncate(pos); err != nil {
			f.Close()
			return nil, fmt.Errorf("archive: cut torn tail of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	if pos == 0 && !indexed {
		f.Close()
		if err := os.Remove(path); err != nil {
			return nil, err
		}
		return nil, syncDir(pw.dir)
	}
	if len(added) > 0 {
		if err := pw.index(added...); err != nil {
			f.Close()
			return nil, err
		}
	}
	hour, err := segmentHour(name)
	if err != nil {
		f.Close()
		return nil, err
	}
	pw.seg, pw.segName, pw.segHour, pw.segSize = f, name, hour, pos
	return added, nil
}

// describe returns the index entry (offsets, counts, times) of a decompressed block.
func (pw *partWriter) describe(raw []byte) (IndexEntry, error) {
	e := IndexEntry{First: -1}
	for len(raw) > 0 {
		r, rest, err := nextRecord(raw)
		if err != nil {
			return e, err
		}
		raw = rest
		if e.First >= 0 && r.Offset != e.Last+1 {
			return e, errTorn
		}
		if e.First < 0 {
			e.First = r.Offset
		}
		e.Last = r.Offset
		e.N++
		recv := pw.recvTime(r.Envelope, r.KafkaTime)
		if e.MinRecv == 0 || recv < e.MinRecv {
			e.MinRecv = recv
		}
		e.MaxRecv = max(e.MaxRecv, recv)
		e.MaxKafkaTime = max(e.MaxKafkaTime, r.KafkaTime)
	}
	if e.N == 0 {
		return e, errTorn
	}
	return e, nil
}

// recvTime is the envelope's receive time, or the Kafka time for undecodable envelopes
// (archived all the same: the archive is lossless).
func (pw *partWriter) recvTime(env []byte, kafkaTime int64) int64 {
	if pw.dec.DecodeRaw(&pw.rec, env) == nil && pw.rec.RecvTime > 0 {
		return pw.rec.RecvTime
	}
	return kafkaTime
}

// add buffers one record. It returns the offsets found missing before it (a hole), if any,
// after flushing the block before the hole and recording the hole in the index.
func (pw *partWriter) add(off, kafkaTime int64, env []byte, now time.Time) (lost int64, err error) {
	if pw.next >= 0 && off < pw.next {
		return 0, nil // redelivered: already archived or buffered
	}
	if (pw.next >= 0 && off > pw.next) || (pw.next < 0 && off > 0) {
		from := max(pw.next, 0)
		if err := pw.flush(); err != nil {
			return 0, err
		}
		if err := pw.index(IndexEntry{Hole: true, First: from, Last: off - 1, Detected: now.UnixNano()}); err != nil {
			return 0, err
		}
		lost = off - from
	}
	recv := pw.recvTime(env, kafkaTime)
	hour := recv / nsPerHour
	if pw.n > 0 && hour > pw.blockHour {
		if err := pw.flush(); err != nil {
			return lost, err
		}
	}
	if pw.n == 0 {
		pw.first, pw.minRecv, pw.maxRecv, pw.firstKT, pw.maxKT = off, recv, recv, kafkaTime, kafkaTime
		pw.blockHour = max(hour, pw.segHour)
	}
	pw.raw = appendRecord(pw.raw, off, kafkaTime, env)
	pw.n++
	pw.last = off
	pw.minRecv, pw.maxRecv, pw.maxKT = min(pw.minRecv, recv), max(pw.maxRecv, recv), max(pw.maxKT, kafkaTime)
	pw.next = off + 1
	return lost, nil
}

// flush compresses the block, appends it to the segment (rolling to a new segment when the
// block's hour is later), fsyncs, then indexes it and fsyncs the index. On error nothing
// half-written stays behind (the segment or index is cut back) and the block stays buffered:
// calling flush again retries (only the index line, when the block is already durable).
func (pw *partWriter) flush() error {
	if pw.n == 0 {
		return nil
	}
	if !pw.pendingIndex {
		pw.out = pw.c.encodeBlock(pw.out[:0], pw.raw, pw.first)
		if pw.seg == nil || pw.blockHour > pw.segHour {
			if err := pw.roll(); err != nil {
				return err
			}
		}
		if err := pw.fail("write", pw.seg, pw.out); err != nil {
			return errors.Join(fmt.Errorf("archive: write %s: %w", pw.segName, err), pw.cutSegment())
		}
		if _, err := pw.seg.Write(pw.out); err != nil {
			return errors.Join(fmt.Errorf("archive: write %s: %w", pw.segName, err), pw.cutSegment())
		}
		if err := pw.fail("sync", nil, nil); err != nil {
			return errors.Join(fmt.Errorf("archive: sync %s: %w", pw.segName, err), pw.cutSegment())
		}
		if err := pw.seg.Sync(); err != nil {
			return errors.Join(fmt.Errorf("archive: sync %s: %w", pw.segName, err), pw.cutSegment())
		}
		pw.pendingIndex, pw.pendingPos = true, pw.segSize
		pw.segSize += int64(len(pw.out))
	}
	e := IndexEntry{Seg: pw.segName, Pos: pw.pendingPos, Len: int64(len(pw.out)), First: pw.first, Last: pw.last,
		N: pw.n, MinRecv: pw.minRecv, MaxRecv: pw.maxRecv, MaxKafkaTime: pw.maxKT}
	if err := pw.index(e); err != nil {
		return err
	}
	pw.pendingIndex = false
	pw.durableNext, pw.lastKafkaTime = pw.last+1, pw.maxKT
	pw.raw, pw.n = pw.raw[:0], 0
	return nil
}

// fail runs the failpoint of stage; on error it first writes half of b to f (a torn write).
func (pw *partWriter) fail(stage string, f *os.File, b []byte) error {
	if pw.failpoint == nil {
		return nil
	}
	err := pw.failpoint(stage)
	if err != nil && f != nil {
		_, _ = f.Write(b[:len(b)/2])
	}
	return err
}

// cutSegment truncates the segment back to its last complete block after a failed write.
func (pw *partWriter) cutSegment() error {
	if err := pw.seg.Truncate(pw.segSize); err != nil {
		return fmt.Errorf("archive: cut %s back to %d: %w", pw.segName, pw.segSize, err)
	}
	return nil
}

// index appends entries to the index and fsyncs it; on error the index is cut back to its
// last good line.
func (pw *partWriter) index(es ...IndexEntry) error {
	err := pw.fail("index", pw.idx, []byte(`{"seg":"torn`))
	if err == nil {
		err = appendIndex(pw.idx, es...)
	}
	if err != nil {
		if terr := pw.idx.Truncate(pw.idxSize); terr != nil {
			return errors.Join(err, fmt.Errorf("archive: cut index back: %w", terr))
		}
		return err
	}
	st, err := pw.idx.Stat()
	if err != nil {
		return fmt.Errorf("archive: stat index: %w", err)
	}
	pw.idxSize = st.Size()
	return nil
}

// roll closes the current segment and creates the one of the block's hour.
func (pw *partWriter) roll() error {
	if pw.seg != nil {
		if err := pw.seg.Close(); err != nil {
			return fmt.Errorf("archive: close %s: %w", pw.segName, err)
		}
		pw.seg = nil
	}
	name := segmentName(pw.blockHour, pw.first)
	// No O_EXCL: a file of this name can only be left by an earlier failed attempt of this
	// very block (names carry the block's first offset), so it is taken over, emptied.
	f, err := os.OpenFile(filepath.Join(pw.dir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("archive: create segment: %w", err)
	}
	if err := syncDir(pw.dir); err != nil {
		f.Close()
		return err
	}
	pw.seg, pw.segName, pw.segHour, pw.segSize = f, name, pw.blockHour, 0
	return nil
}

// pendingKafkaTime returns the Kafka time of the oldest record not yet durable (0: none
// buffered).
func (pw *partWriter) pendingKafkaTime() int64 {
	if pw.n == 0 {
		return 0
	}
	return pw.firstKT
}

func (pw *partWriter) pendingBytes() int { return len(pw.raw) }

func (pw *partWriter) close() error {
	var errs []error
	if pw.seg != nil {
		errs = append(errs, pw.seg.Close())
		pw.seg = nil
	}
	if pw.idx != nil {
		errs = append(errs, pw.idx.Close())
		pw.idx = nil
	}
	return errors.Join(errs...)
}
