package transport

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProduceConsume pushes records of a unified trade's size (~150 bytes) through the
// embedded broker: produced with 200 keys onto an 8-partition topic, consumed by one
// consumer. It reports records/s and CPU µs per record (producer, broker and consumer
// together, all in this process), the number to compare on a shared machine:
//
//	go test -run '^$' -bench ProduceConsume -benchtime 200000x -count 5 ./transport/
func BenchmarkProduceConsume(b *testing.B) {
	brokers := startTopics(b, TopicSpec{Name: "bench", Partitions: 8})
	ctx := context.Background()
	p, err := NewProducer(ProducerConfig{Brokers: brokers}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	c := NewConsumer(ConsumerConfig{Brokers: brokers}, nil, nil)
	defer c.Close()
	offs := make([]Offset, 8)
	for i := range offs {
		offs[i] = Offset{Topic: "bench", Partition: i, Next: OffsetNewest}
	}
	if err := c.Assign(offs); err != nil {
		b.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let OffsetNewest resolve before producing
	keys := make([][]byte, 200)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "binance/SYM%03d-USDT", i)
	}
	val := make([]byte, 150)
	n := b.N
	done := make(chan error, 1)
	go func() {
		got := 0
		for got < n {
			msgs, err := c.Poll(ctx, 10000)
			if err != nil {
				done <- err
				return
			}
			got += len(msgs)
		}
		done <- nil
	}()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		if err := p.Produce(ctx, "bench", keys[i%len(keys)], val, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/record")
}
