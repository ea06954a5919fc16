package archive

import (
	"fmt"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
)

// BenchmarkArchiveAppend measures archiving raw Binance trade and depth frames: encode,
// compress (zstd), write and fsync blocks of 1 MiB, index them. It reports records/s-style
// throughput as MB/s of envelopes and the compression ratio.
//
//	go test -run '^$' -bench BenchmarkArchiveAppend -count 6 ./archive/ | tee new.txt; benchstat old.txt new.txt
func BenchmarkArchiveAppend(b *testing.B) {
	c, err := newCodec()
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	pw, _, err := openPartition(partitionDir(b.TempDir(), "binance", 0), c)
	if err != nil {
		b.Fatal(err)
	}
	defer pw.close()
	envs := make([][]byte, 256)
	var size int64
	for i := range envs {
		frame := fmt.Sprintf(`{"stream":"btcusdt@trade","data":{"e":"trade","E":%d,"s":"BTCUSDT","t":%d,"p":"%d.%02d","q":"0.%05d","T":%d,"m":%t,"M":true}}`,
			1795307795000+i, 4200000000+i, 50000+i%37, i%100, 1000+i*7, 1795307795000+i, i%3 == 0)
		if i%2 == 1 {
			frame = fmt.Sprintf(`{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":%d,"s":"BTCUSDT","U":%d,"u":%d,"b":[["%d.00","0.%05d"],["%d.00","0"]],"a":[["%d.00","1.%05d"]]}}`,
				1795307795000+i, 9000+i, 9002+i, 50000-i%50, i*13, 49990-i%50, 50001+i%40, i*11)
		}
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: "stream-0", Epoch: 1795307790000000000,
			Seq: uint64(i + 1), RecvTime: 1795307795000000000 + int64(i)*1000, Frame: []byte(frame)}
		envs[i] = md.AppendRaw(nil, &rec)
		size += int64(len(envs[i]))
	}
	b.SetBytes(size / int64(len(envs)))
	b.ReportAllocs()
	now := time.Now()
	off := int64(0)
	for b.Loop() {
		if _, err := pw.add(off, now.UnixNano(), envs[off%int64(len(envs))], now); err != nil {
			b.Fatal(err)
		}
		off++
		if pw.pendingBytes() >= DefaultFlushBytes {
			if err := pw.flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := pw.flush(); err != nil {
		b.Fatal(err)
	}
}
