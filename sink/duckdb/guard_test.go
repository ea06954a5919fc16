package duckdb

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	cases := []struct {
		q, first string
		ok       bool
	}{
		{"SELECT 1", "select", true},
		{"((select 1))", "select", true},
		{"-- c\n/* d */ WITH x AS (SELECT 1) SELECT * FROM x;  ", "with", true},
		{`SELECT "read_csv" FROM trades`, "select", true}, // a column, not a call
		{"SELECT 'read_csv(' FROM trades", "select", true},
		{"SELECT $$read_csv('x')$$", "select", true},
		{"SELECT $tag$ a $ b $tag$", "select", true},
		{"SELECT $1, $name", "select", true},
		{"SELECT E'\\'' || 'x'", "select", true},
		{"SELECT 1 -- trailing comment", "select", true},
		{"SELECT ReAd_CsV('x')", "", false},
		{"SELECT * FROM my_db.read_parquet ('x')", "", false},
		{"SELECT 1; SELECT 2", "", false},
		{"SELECT ';'", "", false},
		{"SELECT 1 /* unterminated", "", false},
		{"SELECT $$ unterminated", "", false},
		{`SELECT "unterminated`, "", false},
		{"E'abc", "", false},
		{"INSERT INTO t VALUES (1)", "", false},
		{"; ;", "", false},
		{"(", "", false},
		{"+1", "", false},
	}
	for _, c := range cases {
		_, first, err := checkText(c.q)
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v, want ok=%v", c.q, err, c.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrQueryRefused) {
			t.Errorf("%q: %v does not wrap ErrQueryRefused", c.q, err)
		}
		if c.ok && first != c.first {
			t.Errorf("%q: first word %q, want %q", c.q, first, c.first)
		}
	}
}

// FuzzCheckText: the guard never panics, and whatever it accepts is one statement that
// starts with an allowed keyword.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"SELECT 1", "select * from read_csv('x')", "SELECT 1; DROP TABLE t",
		"/* /* */ */ SELECT $$;$$", "E'\\';' SELECT", `SELECT "a""b"(1)`, "EXPLAIN ANALYZE SELECT 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out, first, err := checkText(q)
		if err != nil {
			return
		}
		if strings.ContainsRune(out, ';') {
			t.Fatalf("accepted %q with an inner ';'", q)
		}
		if !startWords[first] {
			t.Fatalf("accepted %q starting with %q", q, first)
		}
	})
}
