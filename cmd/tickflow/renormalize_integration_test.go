//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/collectors/binance"
	"github.com/tickflow/tickflow/transport"
)

// TestIntegrationRenormalizeClickHouse re-normalizes raw from the topic into a real
// ClickHouse (18.16): the stored parser version is read from ClickHouse, so a version not
// above it is refused, and the fixed parser's rows are stored beside the old ones.
func TestIntegrationRenormalizeClickHouse(t *testing.T) {
	addr := os.Getenv("TICKFLOW_CLICKHOUSE")
	if addr == "" {
		addr = "127.0.0.1:19000"
	}
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Ping(context.Background()); err != nil {
		t.Skipf("no ClickHouse at %s (make services-up): %v", addr, err)
	}
	db := fmt.Sprintf("tickflow_renorm_%d", time.Now().UnixNano())
	defer conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)

	log := slog.New(slog.DiscardHandler)
	broker, err := transport.StartEmbedded(transport.EmbeddedConfig{DataDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	brokers := []string{broker.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := transport.EnsureTopics(ctx, brokers, transport.Topics([]string{"binance"}, transport.TopicDefaults{RawPartitions: 2})[:1]); err != nil {
		t.Fatal(err)
	}
	prod, err := transport.NewProducer(transport.ProducerConfig{Brokers: brokers}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(context.Background())
	produceRaw(t, prod, renormRecords())

	base := renormOptions{store: storeFlags{clickhouseDSN: "clickhouse://default@" + addr + "/" + db}, kafkaBrokers: brokers[0],
		venues: "binance", archiveDir: t.TempDir()}
	reg1 := collectors.NewRegistry()
	reg1.Register(binance.Connector{})
	o := base
	o.parserVersion = 1
	var out bytes.Buffer
	if err := renormalize(ctx, o, reg1, log, &out); err != nil {
		t.Fatal(err)
	}
	if err := renormalize(ctx, o, reg1, log, &out); err == nil || !strings.Contains(err.Error(), "not above the version 1 already stored") {
		t.Fatalf("version 1 again: err %v, want a refusal read from ClickHouse", err)
	}
	reg2 := collectors.NewRegistry()
	reg2.Register(fixedBinance{})
	o.parserVersion = 2
	out.Reset()
	if err := renormalize(ctx, o, reg2, log, &out); err != nil {
		t.Fatal(err)
	}
	var v1, v2 uint64
	if err := conn.QueryRow(ctx, "SELECT countIf(parser_version = 1), countIf(parser_version = 2 AND side = 1) FROM "+db+".trades").Scan(&v1, &v2); err != nil {
		t.Fatal(err)
	}
	if v1 != 40 || v2 != 40 {
		t.Fatalf("ClickHouse holds %d v1 trades and %d fixed v2 trades, want 40 and 40:\n%s", v1, v2, out.String())
	}
}
