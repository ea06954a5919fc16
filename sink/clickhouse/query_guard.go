package clickhouse

import (
	"fmt"
	"strings"
)

// The query guard: the text checks Querier.Query makes before the server sees a statement.
// The server backs them up: every query runs with readonly=1, which refuses writes, DDL and
// setting changes whatever the text says.

// queryStartWords are the first keywords of the statements the query endpoint runs.
var queryStartWords = map[string]bool{
	"select": true, "with": true, "show": true, "describe": true, "desc": true,
	"exists": true, "explain": true,
}

// deniedTableFuncs are the table functions that read files, URLs, object stores, other
// servers or programs. Any function whose lower-cased name has a denied prefix is refused
// too (s3Cluster, remoteSecure, urlCluster, icebergS3, ...).
var deniedQueryFuncs = map[string]bool{
	"file": true, "url": true, "input": true, "jdbc": true, "odbc": true, "hdfs": true,
	"mysql": true, "postgresql": true, "mongodb": true, "redis": true, "sqlite": true,
	"executable": true, "dictionary": true, "gcs": true, "oss": true, "cosn": true,
	"azureblobstorage": true, "deltalake": true, "hudi": true, "iceberg": true,
	"filesystem": true, "loop": true,
}

var deniedQueryPrefixes = []string{"s3", "remote", "cluster", "url", "file", "hdfs", "azure",
	"iceberg", "deltalake", "hudi", "mysql", "postgresql", "mongo", "executable", "odbc", "jdbc",
	"kafka", "rabbitmq", "nats"}

// deniedQueryWords are keywords refused anywhere in a query: clauses that change settings
// or send the result elsewhere (the endpoint chooses the output format itself).
var deniedQueryWords = map[string]string{
	"settings": "SETTINGS clauses are not allowed: the query endpoint's settings are fixed",
	"outfile":  "INTO OUTFILE is not allowed: results are returned, not written",
	"format":   "FORMAT clauses are not allowed: choose the output format of the endpoint",
}

func deniedQueryFunc(name string) bool {
	if deniedQueryFuncs[name] {
		return true
	}
	for _, p := range deniedQueryPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func queryRefused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrQueryRefused, fmt.Sprintf(format, args...))
}

// qtoken is a word (keyword or identifier, lower-cased, quoted identifiers included) or a
// single punctuation character. Literals and comments produce no tokens.
type qtoken struct {
	word  string
	punct byte
}

// checkQueryText validates the text of a query and returns it without trailing
// semicolons.
//
// Exactly one statement: after trailing whitespace and semicolons are removed, no ';' may
// remain anywhere, not even inside a literal or comment. Where the guard's lexing could
// differ from the server's (nested block comments, which 18.16 does not nest but current
// servers do), it refuses the query instead of guessing.
func checkQueryText(q string) (string, error) {
	q = strings.TrimRight(q, " \t\r\n\f;")
	if strings.TrimSpace(q) == "" {
		return "", queryRefused("empty query")
	}
	if strings.ContainsRune(q, ';') {
		return "", queryRefused("one statement per query: ';' is allowed only at the end " +
			"(also not inside strings or comments; use char(59))")
	}
	if strings.ContainsRune(q, 0) {
		return "", queryRefused("NUL byte in query")
	}
	toks, err := lexQuery(q)
	if err != nil {
		return "", err
	}
	first := ""
	for _, t := range toks {
		if t.punct == '(' {
			continue
		}
		first = t.word
		if first == "" {
			return "", queryRefused("query must start with a keyword, not %q", string(t.punct))
		}
		break
	}
	if first == "" {
		return "", queryRefused("empty query")
	}
	if !queryStartWords[first] {
		return "", queryRefused("%s statements are not allowed: the query endpoint is read-only "+
			"(SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN)", strings.ToUpper(first))
	}
	for i, t := range toks {
		if t.word == "" {
			continue
		}
		call := i+1 < len(toks) && toks[i+1].punct == '('
		qualified := i > 0 && toks[i-1].punct == '.' // system.settings, t.format
		if call && deniedQueryFunc(t.word) {
			return "", queryRefused("function %s is not allowed: the query endpoint reads only "+
				"the server's own tables", t.word)
		}
		if why, ok := deniedQueryWords[t.word]; ok && !call && !qualified {
			return "", queryRefused("%s", why)
		}
	}
	return q, nil
}

// lexQuery splits q into tokens, skipping whitespace, comments ("--", "/* */") and string
// literals ('..' with backslash escapes and doubled quotes). Identifiers quoted with `..` or
// "..", which the server accepts as function names too, are words. Unterminated literals or
// comments, and block comments containing "/*", are refused.
func lexQuery(q string) ([]qtoken, error) {
	var toks []qtoken
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return nil, queryRefused("unterminated comment")
			}
			if strings.Contains(q[i+2:i+2+end], "/*") {
				return nil, queryRefused("nested comments are not allowed")
			}
			i += 2 + end + 2
		case c == '\'':
			j, err := skipQuoted(q, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '"' || c == '`':
			j, err := skipQuoted(q, i)
			if err != nil {
				return nil, err
			}
			name := strings.ReplaceAll(q[i+1:j-1], string(c)+string(c), string(c))
			toks = append(toks, qtoken{word: strings.ToLower(strings.ReplaceAll(name, `\`, ""))})
			i = j
		case isQueryDigit(c):
			for i < len(q) && (isQueryWord(q[i]) || q[i] == '.') {
				i++
			}
		case isQueryWord(c):
			j := i
			for j < len(q) && isQueryWord(q[j]) {
				j++
			}
			toks = append(toks, qtoken{word: strings.ToLower(q[i:j])})
			i = j
		default:
			toks = append(toks, qtoken{punct: c})
			i++
		}
	}
	return toks, nil
}

// skipQuoted returns the index after the quoted literal or identifier whose opening quote
// is q[i]: a backslash escapes the next byte, a doubled quote is one quote.
func skipQuoted(q string, i int) (int, error) {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			j++
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	if quote == '\'' {
		return 0, queryRefused("unterminated string literal")
	}
	return 0, queryRefused("unterminated quoted identifier")
}

func isQueryDigit(c byte) bool { return c >= '0' && c <= '9' }

func isQueryWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isQueryDigit(c) || c >= 0x80
}
