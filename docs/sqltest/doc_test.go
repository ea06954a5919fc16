package sqltest

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Engines: the tag after "sql" on a fenced block of docs/sql.md.
const (
	engDuckDB = "duckdb"
	engLegacy = "clickhouse-legacy" // ClickHouse 18.16 (legacy dialect)
	engModern = "clickhouse-modern" // current ClickHouse (modern dialect; chdb in tests)
)

var engines = []string{engDuckDB, engLegacy, engModern}

var (
	blockStart = regexp.MustCompile("^```sql[ \t]+(\\S+)[ \t]+name=(\\S+)[ \t]*$")
	// a row of the "checked on" table: | `name` | ✓ | ✓ | — |
	tableRow = regexp.MustCompile("^\\|\\s*`([a-z0-9_]+)`\\s*\\|([^|]*)\\|([^|]*)\\|([^|]*)\\|")
)

// docQueries is what docs/sql.md holds: per query name, per engine, the SQL; and the
// "checked on" table (per name, the engines marked).
type docQueries struct {
	sql   map[string]map[string]string
	table map[string][]string
}

// readDoc extracts the tagged SQL blocks (```sql <engine> name=<name>) of docs/sql.md.
func readDoc(t testing.TB) *docQueries {
	t.Helper()
	path := filepath.Join("..", "sql.md")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	d := &docQueries{sql: map[string]map[string]string{}, table: map[string][]string{}}
	sc := bufio.NewScanner(f)
	var cur *strings.Builder
	var eng, name string
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if cur != nil {
			if strings.TrimSpace(l) == "```" {
				if d.sql[name] == nil {
					d.sql[name] = map[string]string{}
				}
				if _, dup := d.sql[name][eng]; dup {
					t.Fatalf("%s:%d: second %s block named %s", path, line, eng, name)
				}
				d.sql[name][eng] = strings.TrimSpace(cur.String())
				cur = nil
				continue
			}
			cur.WriteString(l + "\n")
			continue
		}
		if m := blockStart.FindStringSubmatch(l); m != nil {
			eng, name = m[1], m[2]
			if !slices.Contains(engines, eng) {
				t.Fatalf("%s:%d: unknown engine %q (want one of %v)", path, line, eng, engines)
			}
			cur = &strings.Builder{}
			continue
		}
		if m := tableRow.FindStringSubmatch(l); m != nil {
			for i, cell := range m[2:] {
				if strings.Contains(cell, "✓") {
					d.table[m[1]] = append(d.table[m[1]], engines[i])
				}
			}
			if d.table[m[1]] == nil {
				d.table[m[1]] = []string{}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s: unterminated block %s", path, name)
	}
	return d
}

// forEngine returns the names and SQL of the blocks for eng, sorted by name.
func (d *docQueries) forEngine(eng string) [][2]string {
	var out [][2]string
	for name, byEng := range d.sql {
		if q, ok := byEng[eng]; ok {
			out = append(out, [2]string{name, q})
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// TestDocBlocks checks docs/sql.md against itself and the expectations: every block has a
// Go expectation (so it is tested), and the "checked on" table lists exactly the engines
// each query has a block for.
func TestDocBlocks(t *testing.T) {
	d := readDoc(t)
	if len(d.sql) < 10 {
		t.Fatalf("docs/sql.md has %d named queries, want at least 10", len(d.sql))
	}
	for name, byEng := range d.sql {
		if expectations[name] == nil {
			t.Errorf("query %s has no expectation in expect_test.go: it would not be tested", name)
		}
		var have []string
		for _, e := range engines {
			if _, ok := byEng[e]; ok {
				have = append(have, e)
			}
		}
		got, ok := d.table[name]
		if !ok {
			t.Errorf("query %s is missing from the table of queries", name)
			continue
		}
		if !slices.Equal(got, have) {
			t.Errorf("table says %s is checked on %v, but the blocks are for %v", name, got, have)
		}
	}
	for name := range d.table {
		if d.sql[name] == nil {
			t.Errorf("table lists %s, which has no block", name)
		}
	}
}

// ts is a time in Unix nanoseconds in expected results (engines return times in many types).
type ts int64

func (t ts) String() string { return time.Unix(0, int64(t)).UTC().Format(time.RFC3339Nano) }

// result is a query result in comparable form.
type result struct {
	cols []string
	rows [][]any
}

// normalize converts one engine value to the kind of the expected value want: ts, int64,
// float64 or string.
func normalize(v any, want any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch want.(type) {
	case ts:
		switch x := v.(type) {
		case time.Time:
			return ts(x.UnixNano()), nil
		case string:
			for _, layout := range []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano} {
				if tm, err := time.ParseInLocation(layout, x, time.UTC); err == nil {
					return ts(tm.UnixNano()), nil
				}
			}
			return nil, fmt.Errorf("time %q: unknown format", x)
		case int64:
			return ts(x), nil
		}
	case int64:
		switch x := v.(type) {
		case string:
			n, err := strconv.ParseInt(x, 10, 64)
			return n, err
		case float64:
			if x != math.Trunc(x) {
				return nil, fmt.Errorf("%v is not an integer", x)
			}
			return int64(x), nil
		default:
			n, err := strconv.ParseInt(fmt.Sprint(x), 10, 64)
			return n, err
		}
	case float64:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case string:
			return strconv.ParseFloat(x, 64)
		default:
			return strconv.ParseFloat(fmt.Sprint(x), 64)
		}
	case string:
		return fmt.Sprint(v), nil
	}
	return nil, fmt.Errorf("value %v (%T): cannot compare with %T", v, v, want)
}

func floatEq(a, b float64) bool {
	if a == b {
		return true
	}
	d := math.Abs(a - b)
	return d <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) || d <= 1e-9
}

// compare reports the first differences between got (raw engine values) and want.
func compare(t *testing.T, what string, got [][]any, gotCols []string, want result) {
	t.Helper()
	if !slices.Equal(gotCols, want.cols) {
		t.Errorf("%s: columns %v, want %v", what, gotCols, want.cols)
		return
	}
	if len(want.rows) == 0 {
		t.Errorf("%s: the expectation is empty: the data does not exercise this query", what)
	}
	if len(got) != len(want.rows) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want.rows))
	}
	bad := 0
	for i := range min(len(got), len(want.rows)) {
		for j, w := range want.rows[i] {
			g, err := normalize(got[i][j], w)
			ok := err == nil
			if ok {
				if wf, isF := w.(float64); isF && g != nil {
					ok = floatEq(g.(float64), wf)
				} else {
					ok = g == w
				}
			}
			if !ok {
				if bad < 5 {
					t.Errorf("%s: row %d column %s: got %v (%T, err %v), want %v\n got row  %v\n want row %v",
						what, i, want.cols[j], got[i][j], got[i][j], err, w, got[i], want.rows[i])
				}
				bad++
				break
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d rows differ", what, bad)
	}
}
