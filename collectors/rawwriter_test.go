package collectors

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/transport"
)

// TestKafkaRawWriter writes raw records through the embedded broker and reads them back:
// every record is acknowledged once, lands on tickflow.raw.<venue> under key venue/slot, in
// order, and decodes to what was written although the caller reuses its buffers.
func TestKafkaRawWriter(t *testing.T) {
	b, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := []string{b.Addr()}
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics([]string{"binance"}, transport.TopicDefaults{})); err != nil {
		t.Fatal(err)
	}
	p, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &KafkaRawWriter{P: p}
	var _ RawWriter = w

	const n = 300
	var mu sync.Mutex
	acks, fails := 0, 0
	var want []md.RawRecord
	meta := make([]byte, 0, 64)
	frame := make([]byte, 0, 64)
	for i := range n {
		slot := "trade-" + fmt.Sprint(i%2)
		meta = append(meta[:0], fmt.Sprintf("m%d", i)...)
		frame = append(frame[:0], fmt.Sprintf(`{"i":%d}`, i)...)
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: slot, Epoch: 1000 + uint64(i%2),
			Seq: uint64(i/2 + 1), RecvTime: int64(i + 1), Meta: meta, Frame: frame}
		if err := w.Write(&rec, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails++
			} else {
				acks++
			}
		}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		cp := rec
		cp.Meta, cp.Frame = []byte(string(meta)), []byte(string(frame))
		want = append(want, cp)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if acks != n || fails != 0 {
		t.Fatalf("acks %d fails %d, want %d/0", acks, fails, n)
	}
	mu.Unlock()

	topic := transport.RawTopic("binance")
	ends, err := transport.EndOffsets(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	var offs []transport.Offset
	for part, end := range ends {
		if end > 0 {
			offs = append(offs, transport.Offset{Topic: topic, Partition: part, Next: transport.OffsetOldest})
		}
	}
	c := transport.NewConsumer(transport.ConsumerConfig{Brokers: brokers, Name: "test"}, nil, nil)
	defer c.Close()
	if err := c.Assign(offs); err != nil {
		t.Fatal(err)
	}
	dec := md.NewDecoder()
	got := map[string][]md.RawRecord{}
	for total := 0; total < n; {
		msgs, err := c.Poll(ctx, 1000)
		if err != nil {
			t.Fatalf("poll after %d: %v", total, err)
		}
		for _, m := range msgs {
			var r md.RawRecord
			if err := dec.DecodeRaw(&r, m.Value); err != nil {
				t.Fatal(err)
			}
			if k := string(m.Key); k != "binance/"+r.Conn {
				t.Fatalf("key %q for conn %q", k, r.Conn)
			}
			got[r.Conn] = append(got[r.Conn], r)
			total++
		}
	}
	for i, wr := range want {
		g := got[wr.Conn][int(wr.Seq)-1]
		if !reflect.DeepEqual(g, wr) {
			t.Fatalf("record %d: got %+v, want %+v", i, g, wr)
		}
	}
}

func TestKafkaRawWriterFull(t *testing.T) {
	b, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := []string{b.Addr()}
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics([]string{"binance"}, transport.TopicDefaults{})); err != nil {
		t.Fatal(err)
	}
	p, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers, MaxInFlightBytes: 1000, Linger: 200 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	w := &KafkaRawWriter{P: p}
	refused, queued := false, 0
	var mu sync.Mutex
	acked := 0
	for i := range 20 {
		rec := md.RawRecord{Type: md.RawFrame, Dir: md.DirIn, Venue: "binance", Conn: "trade-0", Epoch: 1, Seq: uint64(i + 1),
			RecvTime: 1, Frame: make([]byte, 300)}
		err := w.Write(&rec, func(err error) {
			mu.Lock()
			acked++
			mu.Unlock()
		})
		if errors.Is(err, transport.ErrFull) {
			refused = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		queued++
	}
	if !refused {
		t.Fatal("Write never reported transport.ErrFull with a 1000-byte in-flight bound")
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Only the queued records are acknowledged; the refused one never is.
	mu.Lock()
	defer mu.Unlock()
	if queued == 0 || acked != queued {
		t.Fatalf("%d records queued, %d acknowledged", queued, acked)
	}
}
