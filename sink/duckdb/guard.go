package duckdb

import (
	"fmt"
	"strings"
)

// The query guard: the text checks Query makes before DuckDB sees a statement. DuckDB's own
// statement type (checked after preparing), a read-only transaction, disabled external
// access and the locked configuration back them up.

// startWords are the first keywords of the statements Query runs.
var startWords = map[string]bool{
	"select": true, "with": true, "from": true, "values": true, "table": true,
	"describe": true, "show": true, "summarize": true, "explain": true,
	"pivot": true, "unpivot": true,
}

// deniedFuncs are table or scalar functions that read files, run SQL text, or touch
// secrets or settings. Any function whose name has a denied prefix or suffix is refused
// too.
var deniedFuncs = map[string]bool{
	"glob": true, "sniff_csv": true, "query": true, "query_table": true,
	"json_execute_serialized_sql": true, "getenv": true, "checkpoint": true,
	"force_checkpoint": true, "load_aws_credentials": true, "which_secret": true,
	"duckdb_secrets": true, "install_extension": true, "load_extension": true,
}

var (
	deniedPrefixes = []string{"read_", "parquet_", "sqlite_", "postgres_", "mysql_",
		"iceberg_", "delta_", "http", "s3_", "ducklake_"}
	deniedSuffixes = []string{"_scan", "_attach", "_secret", "_secrets"}
)

func deniedFunc(name string) bool {
	if deniedFuncs[name] {
		return true
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, s := range deniedSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrQueryRefused, fmt.Sprintf(format, args...))
}

// token is a word (keyword or identifier, lower-cased; quoted identifiers included) or a
// single punctuation character. Literals and comments produce no tokens.
type token struct {
	word  string
	punct byte
}

// checkText validates the text of a query and returns it without trailing semicolons and
// its first keyword.
//
// Exactly one statement: after trailing whitespace and semicolons are removed, no ';' may
// remain anywhere, not even inside a literal or comment. This is deliberately stricter than
// SQL (write chr(59) for a semicolon in a string): the database/sql driver executes every
// statement but the last while preparing, so the count of statements must not depend on
// this guard lexing strings exactly as DuckDB does.
func checkText(q string) (string, string, error) {
	q = strings.TrimRight(q, " \t\r\n\f;")
	if strings.TrimSpace(q) == "" {
		return "", "", refused("empty query")
	}
	if strings.ContainsRune(q, ';') {
		return "", "", refused("one statement per query: ';' is allowed only at the end " +
			"(also not inside strings or comments; use chr(59))")
	}
	if strings.ContainsRune(q, 0) {
		return "", "", refused("NUL byte in query")
	}
	toks, err := lex(q)
	if err != nil {
		return "", "", err
	}
	first := ""
	for _, t := range toks {
		if t.punct == '(' {
			continue
		}
		first = t.word
		if first == "" {
			return "", "", refused("query must start with a keyword, not %q", string(t.punct))
		}
		break
	}
	if first == "" {
		return "", "", refused("empty query")
	}
	if !startWords[first] {
		return "", "", refused("%s statements are not allowed: the query endpoint is "+
			"read-only (SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)",
			strings.ToUpper(first))
	}
	for i, t := range toks {
		if t.word == "" || i+1 >= len(toks) || toks[i+1].punct != '(' {
			continue
		}
		if deniedFunc(t.word) {
			return "", "", refused("function %s is not allowed: the query endpoint reads only "+
				"the store's own tables", t.word)
		}
	}
	return q, first, nil
}

// lex splits q into tokens, skipping whitespace, comments ("--", nested "/* */"), string
// literals ('..', E'..' with backslash escapes, $tag$..$tag$) and numbers. Unterminated
// literals or comments are refused.
func lex(q string) ([]token, error) {
	var toks []token
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
			depth := 0
			for {
				switch {
				case i+1 >= len(q):
					return nil, refused("unterminated comment")
				case q[i] == '/' && q[i+1] == '*':
					depth++
					i += 2
				case q[i] == '*' && q[i+1] == '/':
					depth--
					i += 2
				default:
					i++
				}
				if depth == 0 {
					break
				}
			}
		case c == '\'':
			j, err := skipString(q, i, false)
			if err != nil {
				return nil, err
			}
			i = j
		case (c == 'e' || c == 'E') && i+1 < len(q) && q[i+1] == '\'' && (i == 0 || !isWord(q[i-1])):
			j, err := skipString(q, i+1, true)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(q) {
					return nil, refused("unterminated quoted identifier")
				}
				if q[j] == '"' {
					if j+1 < len(q) && q[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(q[j])
				j++
			}
			toks = append(toks, token{word: strings.ToLower(b.String())})
			i = j + 1
		case c == '$':
			j := i + 1
			for j < len(q) && isWord(q[j]) && q[j] != '$' {
				j++
			}
			if j < len(q) && q[j] == '$' && (j == i+1 || !isDigit(q[i+1])) {
				tag := q[i : j+1]
				end := strings.Index(q[j+1:], tag)
				if end < 0 {
					return nil, refused("unterminated dollar-quoted string")
				}
				i = j + 1 + end + len(tag)
				continue
			}
			i = j // a parameter ($1, $name)
		case isDigit(c):
			for i < len(q) && (isWord(q[i]) || q[i] == '.') {
				i++
			}
		case isWord(c):
			j := i
			for j < len(q) && isWord(q[j]) {
				j++
			}
			toks = append(toks, token{word: strings.ToLower(q[i:j])})
			i = j
		default:
			toks = append(toks, token{punct: c})
			i++
		}
	}
	return toks, nil
}

// skipString returns the index after the string literal whose opening quote is at q[i].
func skipString(q string, i int, backslash bool) (int, error) {
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if backslash {
				j++
			}
		case '\'':
			if j+1 < len(q) && q[j+1] == '\'' {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, refused("unterminated string literal")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWord(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		isDigit(c) || c >= 0x80
}
