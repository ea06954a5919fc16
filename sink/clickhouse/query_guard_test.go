package clickhouse

import (
	"errors"
	"strings"
	"testing"
)

// TestQueryGuard checks the statements the query endpoint must refuse before the server
// sees them, and some it must run.
func TestQueryGuard(t *testing.T) {
	refused := []struct{ q, why string }{
		{"", "empty"},
		{"  ;; ", "empty"},
		{"INSERT INTO trades SELECT * FROM trades", "INSERT"},
		{"ALTER TABLE trades DELETE WHERE 1", "ALTER"},
		{"DROP TABLE trades", "DROP"},
		{"CREATE TABLE x (a Int8) ENGINE = Memory", "CREATE"},
		{"OPTIMIZE TABLE trades FINAL", "OPTIMIZE"},
		{"SYSTEM SHUTDOWN", "SYSTEM"},
		{"KILL QUERY WHERE 1", "KILL"},
		{"TRUNCATE TABLE trades", "TRUNCATE"},
		{"RENAME TABLE trades TO t2", "RENAME"},
		{"ATTACH TABLE trades", "ATTACH"},
		{"DETACH TABLE trades", "DETACH"},
		{"SET readonly = 0", "SET"},
		{"USE system", "USE"},
		{"GRANT ALL ON *.* TO default", "GRANT"},
		{"COPY trades TO 'x'", "COPY"},
		{"INSTALL httpfs", "INSTALL"},
		{"SELECT 1; DROP TABLE trades", "one statement"},
		{"SELECT ';'", "one statement"},
		{"SELECT * FROM file('/etc/passwd', 'TSV', 'line String')", "function file"},
		{"SELECT * FROM FILE('/etc/passwd')", "function file"},
		{"SELECT * FROM `file`('/etc/passwd')", "function file"},
		{`SELECT * FROM "url"('http://x/', CSV)`, "function url"},
		{"SELECT * FROM url ('http://127.0.0.1/', CSV, 'a String')", "function url"},
		{"SELECT * FROM s3('http://x/b/k', 'CSV')", "function s3"},
		{"SELECT * FROM s3Cluster('c', 'http://x/b/k')", "function s3cluster"},
		{"SELECT * FROM remote('127.0.0.1:9000', system.one)", "function remote"},
		{"SELECT * FROM remoteSecure('h:9440', db.t)", "function remotesecure"},
		{"SELECT * FROM cluster('c', db.t)", "function cluster"},
		{"SELECT * FROM mysql('h:3306', 'db', 't', 'u', 'p')", "function mysql"},
		{"SELECT * FROM postgresql('h:5432', 'db', 't', 'u', 'p')", "function postgresql"},
		{"SELECT * FROM hdfs('hdfs://h/f', 'TSV')", "function hdfs"},
		{"SELECT * FROM executable('x.sh', 'TSV', 'a String')", "function executable"},
		{"SELECT * FROM jdbc('x', 'y')", "function jdbc"},
		{"SELECT * FROM odbc('x', 'y')", "function odbc"},
		{"SELECT * FROM input('a String')", "function input"},
		{"SELECT * FROM urlCluster('c', 'http://x')", "function urlcluster"},
		{"SELECT * FROM azureBlobStorage('x')", "function azureblobstorage"},
		{"SELECT * FROM icebergS3('x')", "function icebergs3"},
		{"SELECT 1 SETTINGS readonly = 0", "SETTINGS"},
		{"SELECT 1 settings max_threads = 64", "SETTINGS"},
		{"SELECT 1 FORMAT TSV", "FORMAT"},
		{"SELECT 1 INTO OUTFILE '/tmp/x'", "OUTFILE"},
		{"SELECT 1 /* unterminated", "unterminated comment"},
		{"SELECT 1 /* a /* b */ FROM file('x') /* c */", "nested"},
		{"SELECT 'abc", "unterminated string"},
		{`SELECT 'a\' FROM file('x')`, "unterminated string"},
		{"SELECT `abc", "unterminated quoted"},
		{"(INSERT INTO t VALUES (1))", "INSERT"},
		{"SELECT 1\x00", "NUL"},
	}
	for _, c := range refused {
		_, err := checkQueryText(c.q)
		if !errors.Is(err, ErrQueryRefused) {
			t.Errorf("%q: got %v, want a refusal", c.q, err)
			continue
		}
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.why)) {
			t.Errorf("%q: refusal %q does not say %q", c.q, err, c.why)
		}
	}
	allowed := []string{
		"SELECT 1",
		"select count() from trades;",
		"  WITH x AS (SELECT 1) SELECT * FROM x ;\n",
		"(SELECT 1) UNION ALL (SELECT 2)",
		"SHOW TABLES",
		"DESCRIBE TABLE trades",
		"DESC trades",
		"EXISTS TABLE trades",
		"SELECT name, value FROM system.settings WHERE name = 'readonly'",
		"SELECT 'file(''x'')', 'SETTINGS', '--', '/* */' -- file('x') SETTINGS\n",
		"SELECT 1 /* file('/etc/passwd') FORMAT TSV */",
		"SELECT profile FROM t",
		"SELECT filename, urls FROM t",
		"SELECT toStartOfMinute(now()), formatDateTime(now(), '%F')",
		"SELECT * FROM numbers(10)",
		"SELECT * FROM trades_v ORDER BY venue LIMIT 1 BY venue",
	}
	for _, q := range allowed {
		if _, err := checkQueryText(q); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}
