package clickhouse

import (
	"errors"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestSplitStatements(t *testing.T) {
	got := splitStatements("-- header; not a statement\nCREATE TABLE a (x UInt8);\n\n" +
		"CREATE VIEW v AS SELECT ';' AS s\nFROM a;  \n-- trailing\n")
	want := []string{"CREATE TABLE a (x UInt8)", "CREATE VIEW v AS SELECT ';' AS s\nFROM a"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

var (
	createRE = regexp.MustCompile(`(?m)^CREATE (TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS (\w+)`)
	dropRE   = regexp.MustCompile(`^DROP TABLE IF EXISTS (\w+)$`)
)

// Both dialects have the same migrations and create the same tables and views, and every
// statement is idempotent.
func TestDialectsMatch(t *testing.T) {
	leg, err := loadMigrations(DialectLegacy)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := loadMigrations(DialectModern)
	if err != nil {
		t.Fatal(err)
	}
	if len(leg) == 0 || len(leg) != len(mod) {
		t.Fatalf("legacy has %d migrations, modern %d", len(leg), len(mod))
	}
	for i := range leg {
		if leg[i].name != mod[i].name {
			t.Errorf("migration %d: legacy %q, modern %q", i+1, leg[i].name, mod[i].name)
		}
		objects := func(m migration) []string {
			var out []string
			for _, st := range m.statements {
				if dropRE.MatchString(st) {
					// Idempotent; allowed before anything is written (0002 replaces the
					// empty placeholder tables of 0001).
					out = append(out, "-"+dropRE.FindStringSubmatch(st)[1])
					continue
				}
				if !strings.HasPrefix(st, "CREATE") {
					t.Errorf("%s: statement is not a CREATE or DROP TABLE IF EXISTS: %.60q", m.name, st)
				}
				mm := createRE.FindStringSubmatch(st)
				if mm == nil {
					t.Errorf("%s: statement is not idempotent (IF NOT EXISTS): %.60q", m.name, st)
					continue
				}
				out = append(out, mm[2])
			}
			sort.Strings(out)
			return out
		}
		lo, mo := objects(leg[i]), objects(mod[i])
		// trades_range is a parameterized view, modern only.
		mo = slicesDelete(mo, "trades_range")
		if !reflect.DeepEqual(lo, mo) {
			t.Errorf("migration %d objects differ:\nlegacy %v\nmodern %v", i+1, lo, mo)
		}
		if strings.Contains(strings.Join(leg[i].statements, "\n"), "DateTime64") ||
			strings.Contains(strings.Join(leg[i].statements, "\n"), "CODEC") {
			t.Errorf("legacy migration %d uses a type or codec 18.16 lacks", i+1)
		}
	}
}

func slicesDelete(s []string, v string) []string {
	var out []string
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func TestServerVersionAndDialect(t *testing.T) {
	for _, c := range []struct {
		text   string
		forced Dialect
		want   Dialect
		err    error
	}{
		{"18.16.1", "", DialectLegacy, nil},
		{"20.3.1.1", "", DialectLegacy, nil},
		{"23.8.2.7", "", DialectModern, nil},
		{"24.8.4.13", "", DialectModern, nil},
		{"25.1", "", DialectModern, nil},
		{"24.8.4.13", DialectLegacy, DialectLegacy, nil},
		{"18.16.1", DialectModern, "", ErrSchema},
	} {
		v, err := parseServerVersion(c.text)
		if err != nil {
			t.Fatalf("%s: %v", c.text, err)
		}
		d, err := dialectFor(v, c.forced)
		if d != c.want || !errors.Is(err, c.err) {
			t.Errorf("%s forced %q: %q, %v; want %q, %v", c.text, c.forced, d, err, c.want, c.err)
		}
	}
	if _, err := parseServerVersion("dev"); err == nil {
		t.Error("parsed a version without numbers")
	}
}

func TestParseDSNAndValidate(t *testing.T) {
	c, err := ParseDSN("clickhouse://writer:s3cret@ch.example:9000/md?dialect=legacy&insert_timeout=30s&max_insert_rows=5000")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Addr: "ch.example:9000", Database: "md", Username: "writer", Password: "s3cret",
		Dialect: DialectLegacy, InsertTimeout: 30 * time.Second, MaxInsertRows: 5000}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	for _, bad := range []string{
		"http://x:1/db", "clickhouse://x:1/bad-name", "clickhouse://x:1/db?dialect=new",
		"clickhouse://x:1/db?max_insert_rows=2000000", "clickhouse://x:1/db?nope=1",
		"clickhouse://nohost/db",
	} {
		if _, err := ParseDSN(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
