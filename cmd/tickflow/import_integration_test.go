//go:build integration

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// TestIntegrationImportClickHouse imports the fixture into a real ClickHouse (the integration
// tier's 18.16): the reports must be the very golden files of the DuckDB test — the import is
// store-independent — including nothing stored the second time.
func TestIntegrationImportClickHouse(t *testing.T) {
	addr := os.Getenv("TICKFLOW_CLICKHOUSE")
	if addr == "" {
		addr = "127.0.0.1:19000"
	}
	db := fmt.Sprintf("tickflow_import_%d", time.Now().UnixNano())
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Ping(context.Background()); err != nil {
		t.Skipf("no ClickHouse at %s (make services-up): %v", addr, err)
	}
	defer conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	dsn := "clickhouse://default@" + addr + "/" + db
	fixture := filepath.Join("testdata", "import", "binance.jsonl")
	checkGolden(t, "binance.golden", runImport(t, "--clickhouse-dsn", dsn, fixture))
	checkGolden(t, "binance.again.golden", runImport(t, "--clickhouse-dsn", dsn, fixture))
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".trades").Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d trades in ClickHouse (err %v), want 4", n, err)
	}
}
