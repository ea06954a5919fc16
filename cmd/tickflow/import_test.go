package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickflow/tickflow/sink/duckdb"
)

var updateGolden = flag.Bool("update-import", false, "rewrite testdata/import/*.golden")

// checkGolden compares got with testdata file name (rewritten with -update-import).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "import", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-import to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update-import after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func runImport(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	if code := mainErr(append([]string{"import"}, args...), &out, &errb); code != 0 {
		t.Fatalf("import %v: exit %d: %s", args, code, errb.String())
	}
	return out.Bytes()
}

// TestImportGoldenAndIdempotent imports the fixture (good frames, malformed frames and lines,
// a book gap, a crossed book, a stale snapshot) into a fresh DuckDB store: the report must
// match the golden file, the stored rows must carry source reimport, and a second import of
// the same file must store nothing (every event a duplicate of the same id and provenance).
func TestImportGoldenAndIdempotent(t *testing.T) {
	dir := t.TempDir()
	fixture := filepath.Join("testdata", "import", "binance.jsonl")
	checkGolden(t, "binance.golden", runImport(t, "--data-dir", dir, fixture))
	checkGolden(t, "binance.again.golden", runImport(t, "--data-dir", dir, fixture))

	st, err := duckdb.OpenReadOnly(context.Background(), filepath.Join(dir, "tickflow.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		sql  string
		want string
	}{
		// The four good trades, once each, source reimport, ids from the venue.
		{"SELECT string_agg(trade_id, ',' ORDER BY trade_id_num) || '/' || string_agg(DISTINCT source::VARCHAR, ',') FROM trades", "1000,1001,1003,1004/reimport"},
		{"SELECT count(*) FROM trades_v", "4"},
		// The U/u gap is stored as an integrity event with the missing ids.
		{"SELECT first_id || '..' || last_id FROM integrity WHERE type = 'gap' AND stream = 'book'", "104..109"},
		// Book: snapshot (bridged delta 98..101 applied), delta, resnapshot after the gap,
		// delta, snapshot after the stale one; statuses valid/invalid x2/valid x2 + invalid.
		{"SELECT count(*) FROM book_updates", "5"},
		{"SELECT string_agg(state || coalesce(':' || reason, ''), ',' ORDER BY recv_time) FROM book_status", "valid,invalid:gap,valid,invalid:resync_started,valid"},
		{"SELECT count(*) FROM bbo", "1"},
	} {
		rows, err := st.Query(context.Background(), c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		var buf bytes.Buffer
		if err := rows.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
		if got := strings.Trim(string(lines[len(lines)-1]), `"`); got != c.want {
			t.Errorf("%s = %q, want %q", c.sql, got, c.want)
		}
	}
}

// TestImportErrors: usage and file errors say what is wrong.
func TestImportErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "give exactly one file"},
		{[]string{"--data-dir", t.TempDir(), "/nonexistent/x.jsonl"}, "open import file"},
		{[]string{"--clickhouse-dsn", "::bad", "x"}, "open import file"},
	} {
		var out, errb bytes.Buffer
		if code := mainErr(append([]string{"import"}, c.args...), &out, &errb); code == 0 || !bytes.Contains(errb.Bytes(), []byte(c.want)) {
			t.Errorf("import %v: exit %d, stderr %q; want failure mentioning %q", c.args, code, errb.String(), c.want)
		}
	}
}

// TestImportReportJSON: --report-json writes the same report as JSON for tools.
func TestImportReportJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	runImport(t, "--data-dir", dir, "--report-json", path, filepath.Join("testdata", "import", "binance.jsonl"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Venues []struct {
			Venue    string                          `json:"venue"`
			Parsed   int                             `json:"parsed"`
			Rejected map[string]int                  `json:"rejected"`
			Events   map[string]struct{ Stored int } `json:"events"`
			Rules    []struct {
				Rule   string `json:"rule"`
				Failed int    `json:"failed"`
			} `json:"book_rules"`
			Gaps []struct {
				Symbol  string `json:"symbol"`
				FirstID uint64 `json:"first_id"`
			} `json:"book_gaps"`
		} `json:"venues"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, b)
	}
	v := rep.Venues[0]
	for _, r := range rep.Venues {
		if r.Venue == "binance" {
			v = r
		}
	}
	failed := 0
	for _, r := range v.Rules {
		failed += r.Failed
	}
	if v.Parsed != 18 || v.Rejected["invalid_json"] != 1 || v.Events["trade"].Stored != 4 || failed != 3 ||
		len(v.Gaps) != 1 || v.Gaps[0].FirstID != 104 {
		t.Fatalf("report JSON does not match the text report:\n%s", b)
	}
}
