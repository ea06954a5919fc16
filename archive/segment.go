package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Block framing (ADR 0010): every zstd frame holding a block of records is preceded by a zstd
// skippable frame that carries the data frame's length and CRC-32C, so a reader finds block
// boundaries and detects torn writes, while `zstd -d` still decompresses the file (it
// skips skippable frames).
const (
	skippableMagic = 0x184D2A50 // first of the 16 zstd skippable-frame magic numbers
	blockHeaderLen = 24         // magic(4) + size(4) + payload(16)
	segmentSuffix  = ".tfraw.zst"
	indexName      = "index.jsonl"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn reports a block that is incomplete or corrupt (a crash during its write).
var errTorn = errors.New("archive: torn or corrupt block")

// blockHeader is the payload of the skippable frame before a block.
type blockHeader struct {
	length uint32 // bytes of the zstd frame that follows
	crc    uint32 // CRC-32C of those bytes
	first  int64  // Kafka offset of the block's first record
}

func appendBlockHeader(dst []byte, h blockHeader) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, skippableMagic)
	dst = binary.LittleEndian.AppendUint32(dst, 16)
	dst = binary.LittleEndian.AppendUint32(dst, h.length)
	dst = binary.LittleEndian.AppendUint32(dst, h.crc)
	return binary.LittleEndian.AppendUint64(dst, uint64(h.first))
}

func parseBlockHeader(b []byte) (blockHeader, error) {
	if len(b) < blockHeaderLen || binary.LittleEndian.Uint32(b) != skippableMagic ||
		binary.LittleEndian.Uint32(b[4:]) != 16 {
		return blockHeader{}, errTorn
	}
	return blockHeader{length: binary.LittleEndian.Uint32(b[8:]), crc: binary.LittleEndian.Uint32(b[12:]),
		first: int64(binary.LittleEndian.Uint64(b[16:]))}, nil
}

// Record is one archived raw record.
type Record struct {
	// Offset is the record's Kafka offset in its partition.
	Offset int64
	// KafkaTime is the Kafka record timestamp, Unix ns.
	KafkaTime int64
	// Envelope is the raw envelope exactly as on the topic (md.DecodeRaw decodes it). It is
	// borrowed from the reader's buffer: valid until the next call to Next.
	Envelope []byte
}

// appendRecord appends one record in block encoding.
func appendRecord(dst []byte, off, kafkaTime int64, env []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(off))
	dst = binary.AppendVarint(dst, kafkaTime)
	dst = binary.AppendUvarint(dst, uint64(len(env)))
	return append(dst, env...)
}

// nextRecord decodes the record at the start of b and returns the rest.
func nextRecord(b []byte) (Record, []byte, error) {
	off, n := binary.Uvarint(b)
	if n <= 0 {
		return Record{}, nil, errTorn
	}
	b = b[n:]
	ts, n := binary.Varint(b)
	if n <= 0 {
		return Record{}, nil, errTorn
	}
	b = b[n:]
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return Record{}, nil, errTorn
	}
	b = b[n:]
	return Record{Offset: int64(off), KafkaTime: ts, Envelope: b[:l:l]}, b[l:], nil
}

// codec holds one zstd encoder and decoder (not goroutine-safe; EncodeAll/DecodeAll are).
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newCodec() (*codec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(true),
		zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("archive: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, fmt.Errorf("archive: zstd decoder: %w", err)
	}
	return &codec{enc: enc, dec: dec}, nil
}

func (c *codec) close() { c.dec.Close() }

// encodeBlock appends the framed, compressed block of raw records to dst.
func (c *codec) encodeBlock(dst, raw []byte, first int64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, blockHeaderLen)...)
	dst = c.enc.EncodeAll(raw, dst)
	frame := dst[start+blockHeaderLen:]
	appendBlockHeader(dst[start:start], blockHeader{length: uint32(len(frame)),
		crc: crc32.Checksum(frame, castagnoli), first: first})
	return dst
}

// readBlock reads the block at pos of f: it returns the decompressed records (appended to
// dst) and the block's total length, or errTorn when the block is incomplete or corrupt.
func (c *codec) readBlock(f io.ReaderAt, pos int64, dst []byte) ([]byte, int64, error) {
	var hb [blockHeaderLen]byte
	if _, err := f.ReadAt(hb[:], pos); err != nil {
		if errors.Is(err, io.EOF) {
			return dst, 0, errTorn
		}
		return dst, 0, err
	}
	h, err := parseBlockHeader(hb[:])
	if err != nil {
		return dst, 0, err
	}
	frame := make([]byte, h.length)
	if _, err := f.ReadAt(frame, pos+blockHeaderLen); err != nil {
		if errors.Is(err, io.EOF) {
			return dst, 0, errTorn
		}
		return dst, 0, err
	}
	if crc32.Checksum(frame, castagnoli) != h.crc {
		return dst, 0, errTorn
	}
	out, err := c.dec.DecodeAll(frame, dst)
	if err != nil {
		return dst, 0, fmt.Errorf("%w: %v", errTorn, err)
	}
	return out, blockHeaderLen + int64(h.length), nil
}

// segmentName is "<YYYYMMDD>T<HH>-<first offset, 20 digits>.tfraw.zst" for the hour of
// recvHour (Unix hours).
func segmentName(recvHour int64, first int64) string {
	t := time.Unix(recvHour*3600, 0).UTC()
	return fmt.Sprintf("%sT%02d-%020d%s", t.Format("20060102"), t.Hour(), first, segmentSuffix)
}

// segmentHour parses the hour (Unix hours) of a segment name.
func segmentHour(name string) (int64, error) {
	day, rest, ok := strings.Cut(name, "T")
	if !ok || len(rest) < 2 {
		return 0, fmt.Errorf("archive: segment name %q", name)
	}
	t, err := time.Parse("20060102", day)
	if err != nil {
		return 0, fmt.Errorf("archive: segment name %q: %w", name, err)
	}
	h, err := strconv.Atoi(rest[:2])
	if err != nil {
		return 0, fmt.Errorf("archive: segment name %q: %w", name, err)
	}
	return t.Unix()/3600 + int64(h), nil
}

// listSegments returns the segment file names of a partition directory, in offset order.
func listSegments(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), segmentSuffix) {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool { return segFirst(names[i]) < segFirst(names[j]) })
	return names, nil
}

// segFirst returns the first offset in a segment name (-1 if unparsable).
func segFirst(name string) int64 {
	_, rest, _ := strings.Cut(strings.TrimSuffix(name, segmentSuffix), "-")
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// partitionDir is <root>/<venue>/p<NNN>.
func partitionDir(root, venue string, part int) string {
	return filepath.Join(root, venue, fmt.Sprintf("p%03d", part))
}

// syncDir fsyncs a directory so a file created in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
