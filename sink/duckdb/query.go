package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	duck "github.com/duckdb/duckdb-go/v2"
)

// Query runs one read-only statement and returns its result, at most Config.QueryMaxRows
// rows (Rows.Truncated tells when more existed), within Config.QueryTimeout. It is the
// store's query endpoint and is hardened for untrusted SQL:
//
//   - one statement only, starting with SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SHOW,
//     SUMMARIZE or EXPLAIN; after DuckDB prepared it, its statement type must be SELECT
//     (EXPLAIN: the explained statement must be);
//   - functions that read files or run SQL text (read_csv, read_parquet, read_json, glob,
//     query, ...) are refused by name;
//   - it runs inside a READ ONLY transaction that is rolled back afterwards;
//   - DuckDB itself runs with enable_external_access=false and lock_configuration=true,
//     so even a statement that slipped through could not reach other files or change a
//     setting, and memory_limit bounds its memory.
//
// Refusals wrap ErrQueryRefused and say why; a timeout wraps context.DeadlineExceeded.
// args bind to ? or $n placeholders.
// Query is safe for concurrent use (up to Config.QueryConns at once).
func (s *Store) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	q, first, err := checkText(query)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("duckdb: query: connect: %w", err)
	}
	defer conn.Close()
	rows, err := s.queryConn(ctx, conn, q, first, args)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		// Make the timeout recognizable (errors.Is(err, context.DeadlineExceeded)) even when
		// DuckDB reports it as an interrupt.
		return nil, fmt.Errorf("duckdb: query: timed out after %v: %w: %w", s.cfg.QueryTimeout,
			context.DeadlineExceeded, err)
	}
	return rows, err
}

func (s *Store) queryConn(ctx context.Context, conn *sql.Conn, q, first string,
	args []any) (res *Rows, err error) {
	// Read-only transaction first, so that nothing the statement does can write.
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION READ ONLY"); err != nil {
		return nil, fmt.Errorf("duckdb: query: begin: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), defaultRollbackTimeout)
		defer cancel()
		if _, rerr := conn.ExecContext(rctx, "ROLLBACK"); rerr != nil {
			// Do not hand a connection in an unknown state back to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = fmt.Errorf("duckdb: query: rollback: %w", rerr)
			}
		}
	}()
	if err := checkStatementType(ctx, conn, q, first); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: query: %w", err)
	}
	defer rows.Close()
	res, err = readRows(rows, s.cfg.QueryMaxRows)
	if err != nil {
		return nil, fmt.Errorf("duckdb: query: %w", err)
	}
	return res, nil
}

// checkStatementType prepares q and checks DuckDB's statement type. Preparing a single
// statement executes nothing.
func checkStatementType(ctx context.Context, conn *sql.Conn, q, first string) error {
	var inner, innerFirst string
	if first == "explain" {
		// Check the explained statement's text before DuckDB binds anything of it.
		text, err := explained(q)
		if err != nil {
			return err
		}
		if inner, innerFirst, err = checkText(text); err != nil {
			return err
		}
		if innerFirst == "explain" {
			return refused("nested EXPLAIN")
		}
	}
	var typ duck.StmtType
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*duck.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		st, err := c.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer st.Close()
		ds, ok := st.(*duck.Stmt)
		if !ok {
			return fmt.Errorf("unexpected driver statement %T", st)
		}
		typ, err = ds.StatementType()
		return err
	})
	if err != nil {
		return fmt.Errorf("duckdb: query: %w", err)
	}
	switch typ {
	case duck.STATEMENT_TYPE_SELECT:
		return nil
	case duck.STATEMENT_TYPE_EXPLAIN:
		if inner == "" {
			return refused("EXPLAIN must start the query")
		}
		return checkStatementType(ctx, conn, inner, innerFirst)
	}
	return refused("%s statements are not allowed: the query endpoint is read-only",
		stmtTypeName(typ, first))
}

// explained returns the statement an EXPLAIN statement explains: the text after EXPLAIN,
// an optional ANALYZE and an optional parenthesized option list.
func explained(q string) (string, error) {
	rest := q
	cut := func(word string) bool {
		t := strings.TrimLeft(stripLeadingComments(rest), " \t\r\n\f")
		if len(t) >= len(word) && strings.EqualFold(t[:len(word)], word) &&
			(len(t) == len(word) || !isWord(t[len(word)])) {
			rest = t[len(word):]
			return true
		}
		return false
	}
	if !cut("explain") {
		return "", refused("cannot find the statement after EXPLAIN")
	}
	cut("analyze")
	t := strings.TrimLeft(stripLeadingComments(rest), " \t\r\n\f")
	if strings.HasPrefix(t, "(") {
		end := strings.IndexByte(t, ')')
		if end < 0 {
			return "", refused("unterminated EXPLAIN options")
		}
		t = t[end+1:]
	}
	return t, nil
}

func stripLeadingComments(s string) string {
	for {
		t := strings.TrimLeft(s, " \t\r\n\f")
		switch {
		case strings.HasPrefix(t, "--"):
			if i := strings.IndexByte(t, '\n'); i >= 0 {
				s = t[i+1:]
				continue
			}
			return ""
		case strings.HasPrefix(t, "/*"):
			if i := strings.Index(t, "*/"); i >= 0 {
				s = t[i+2:]
				continue
			}
			return ""
		}
		return t
	}
}

var stmtTypeNames = map[duck.StmtType]string{
	duck.STATEMENT_TYPE_INSERT: "INSERT", duck.STATEMENT_TYPE_UPDATE: "UPDATE",
	duck.STATEMENT_TYPE_DELETE: "DELETE", duck.STATEMENT_TYPE_CREATE: "CREATE",
	duck.STATEMENT_TYPE_ALTER: "ALTER", duck.STATEMENT_TYPE_DROP: "DROP",
	duck.STATEMENT_TYPE_COPY: "COPY", duck.STATEMENT_TYPE_ATTACH: "ATTACH",
	duck.STATEMENT_TYPE_DETACH: "DETACH", duck.STATEMENT_TYPE_LOAD: "LOAD/INSTALL",
	duck.STATEMENT_TYPE_SET: "SET", duck.STATEMENT_TYPE_VARIABLE_SET: "SET VARIABLE",
	duck.STATEMENT_TYPE_PRAGMA: "PRAGMA", duck.STATEMENT_TYPE_EXPORT: "EXPORT",
	duck.STATEMENT_TYPE_CALL: "CALL", duck.STATEMENT_TYPE_TRANSACTION: "transaction",
	duck.STATEMENT_TYPE_PREPARE: "PREPARE", duck.STATEMENT_TYPE_EXECUTE: "EXECUTE",
	duck.STATEMENT_TYPE_VACUUM: "VACUUM", duck.STATEMENT_TYPE_ANALYZE: "ANALYZE",
	duck.STATEMENT_TYPE_CREATE_FUNC: "CREATE FUNCTION", duck.STATEMENT_TYPE_MULTI: "multi",
	duck.STATEMENT_TYPE_EXTENSION: "extension", duck.STATEMENT_TYPE_RELATION: "relation",
	duck.STATEMENT_TYPE_LOGICAL_PLAN: "logical plan",
}

func stmtTypeName(t duck.StmtType, first string) string {
	if n, ok := stmtTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("%s (statement type %d)", strings.ToUpper(first), int(t))
}
