//go:build integration

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestIntegrationBenchKafkaShort runs `tickflow bench-kafka` briefly in both modes against
// the real Kafka and ClickHouse of the integration tier: the command must store every
// preloaded trade exactly once (it verifies ids and exits non-zero otherwise) and report it.
// The rates are logged, not asserted: the machine is shared.
func TestIntegrationBenchKafkaShort(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		mode   string
		events int
	}{{"sink", 200_000}, {"e2e", 100_000}} {
		t.Run(tc.mode, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.json")
			cmd := exec.Command(bin, "bench-kafka", "--mode", tc.mode, "--events", strconv.Itoa(tc.events),
				"--symbols", "50", "--connections", "2", "--timeout", "3m", "--report", report,
				"--kafka-brokers", envOr("TICKFLOW_KAFKA", "127.0.0.1:19092"),
				"--clickhouse-addr", envOr("TICKFLOW_CLICKHOUSE", "127.0.0.1:19000"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bench-kafka --mode %s: %v\n%s", tc.mode, err, out)
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			var rep benchKafkaReport
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Stored != uint64(tc.events) || rep.Missing != 0 || rep.Duplicates != 0 || rep.OverallPerSec <= 0 {
				t.Fatalf("report %+v", rep)
			}
			t.Logf("%s: %.0f trades/s catching up (%.0f/s with startup), cores %v", tc.mode, rep.PerSec,
				rep.OverallPerSec, rep.Cores)
		})
	}
}
