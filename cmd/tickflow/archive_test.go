package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/transport"
)

// TestArchiveCommandErrors: the service refuses to start without its required settings and
// says which; inspect reports an empty archive.
func TestArchiveCommandErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := mainErr([]string{"archive"}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "--kafka-brokers is required") || !strings.Contains(errb.String(), "--archive-dir is required") {
		t.Fatalf("archive without flags: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	dir := t.TempDir()
	if code := mainErr([]string{"archive", "inspect", "--archive-dir", dir}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "binance: nothing archived under "+dir) {
		t.Fatalf("inspect of an empty archive: exit %d, out %q", code, out.String())
	}
}

// TestArchiveService runs `tickflow archive` against a broker: it archives the raw topic,
// serves its metrics, and stops cleanly; `archive inspect` then shows the records.
func TestArchiveService(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	broker, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	brokers := []string{broker.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics([]string{"binance"}, transport.TopicDefaults{RawPartitions: 2})[:1]); err != nil {
		t.Fatal(err)
	}
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(context.Background())
	recs := renormRecords()
	produceRaw(t, prod, recs)
	dir := t.TempDir()
	metricsAddr := loopbackAddr(t)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- cmdArchive(sctx, []string{"--kafka-brokers", brokers[0], "--archive-dir", dir, "--metrics-addr", metricsAddr,
			"--log-level", "warn"}, io.Discard, io.Discard)
	}()
	waitFor(t, 30*time.Second, "records archived", func() bool {
		body, err := httpGet(metricsAddr, "/metrics")
		return err == nil && strings.Contains(body, fmt.Sprintf(`tickflow_archive_records_total{venue="binance"} %d`, len(recs)))
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("archive service: %v", err)
	}
	var out bytes.Buffer
	if code := mainErr([]string{"archive", "inspect", "--archive-dir", dir}, &out, io.Discard); code != 0 ||
		!strings.Contains(out.String(), fmt.Sprintf("offsets 0..%d, %d records", len(recs)-1, len(recs))) {
		t.Fatalf("inspect: exit %d:\n%s", code, out.String())
	}
}

// loopbackAddr returns a free 127.0.0.1 port.
func loopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
