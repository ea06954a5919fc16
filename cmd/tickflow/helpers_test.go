package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickflow/tickflow/collectors/binance"
)

// waitFor polls cond until it is true or the timeout expires.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readRunInfo waits for <dataDir>/run.json written by a running pipeline with the given pid
// (0 = any).
func readRunInfo(t *testing.T, dataDir string, pid int, timeout time.Duration) runInfo {
	t.Helper()
	var info runInfo
	waitFor(t, timeout, runInfoFile, func() bool {
		var err error
		info, err = loadRunInfo(dataDir)
		return err == nil && (pid == 0 || info.PID == pid)
	})
	return info
}

func httpGet(addr, path string) (string, error) { return httpGetBody(addr, path) }

// query runs SQL through the running pipeline's /query endpoint and returns CSV rows
// without the header.
func query(addr, sql string) ([][]string, error) {
	out, err := httpGet(addr, "/query?q="+url.QueryEscape(sql))
	if err != nil {
		return nil, err
	}
	return parseCSV(out), nil
}

func parseCSV(out string) [][]string {
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		if sc.Text() == "" {
			continue
		}
		rows = append(rows, strings.Split(sc.Text(), ","))
	}
	return rows
}

func queryInt(addr, sql string) (int64, error) {
	rows, err := query(addr, sql)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("query %q: want one value, got %v", sql, rows)
	}
	return strconv.ParseInt(rows[0][0], 10, 64)
}

// metric returns the sum of the samples of a metric whose labels contain every given
// label="value" pair.
func metric(t *testing.T, addr, name string, labels ...string) float64 {
	t.Helper()
	body, err := httpGet(addr, "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	return promSum(body, name, labels...)
}

// unifiedOf maps native symbols to unified ones using the simulator's exchangeInfo.
func unifiedOf(t *testing.T, restAddr string) map[string]string {
	t.Helper()
	body, err := httpGet(restAddr, "/api/v3/exchangeInfo")
	if err != nil {
		t.Fatal(err)
	}
	insts, err := binance.ParseExchangeInfo([]byte(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, in := range insts {
		m[in.Native] = in.Symbol
	}
	return m
}

// tradeLogIDs reads a simulator trade log ("<NATIVE> <id>" lines) as "UNIFIED/id" keys.
func tradeLogIDs(t *testing.T, log []byte, unified map[string]string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, line := range bytes.Split(log, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) != 2 {
			continue
		}
		u, ok := unified[f[0]]
		if !ok {
			t.Fatalf("trade log symbol %q not in exchangeInfo", f[0])
		}
		ids[u+"/"+f[1]] = true
	}
	return ids
}

// compareIDs reports missing and duplicate ids of stored rows (symbol, trade_id) against
// the expected set.
func compareIDs(t *testing.T, want map[string]bool, rows [][]string) (missing, dups, extra int) {
	t.Helper()
	got := map[string]int{}
	for _, r := range rows {
		got[r[0]+"/"+r[1]]++
	}
	for k, n := range got {
		if n > 1 {
			dups += n - 1
		}
		if !want[k] {
			extra++
		}
	}
	for k := range want {
		if got[k] == 0 {
			missing++
			if missing <= 5 {
				t.Logf("missing %s", k)
			}
		}
	}
	return missing, dups, extra
}
