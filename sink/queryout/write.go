package queryout

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Result is a query result as both stores return it.
type Result struct {
	Columns   []string
	Types     []string
	Values    [][]any
	Truncated bool
}

// WriteCSV writes r as CSV (RFC 4180) with a header line, each value rendered by text (the
// store's renderer, which starts with [Text]); engine prefixes errors ("duckdb").
func WriteCSV(w io.Writer, r Result, text func(any) (string, error), engine string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(r.Columns); err != nil {
		return err
	}
	rec := make([]string, len(r.Columns))
	for _, row := range r.Values {
		for i, v := range row {
			s, err := text(v)
			if err != nil {
				return fmt.Errorf("%s: csv: column %s: %w", engine, r.Columns[i], err)
			}
			rec[i] = s
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes r as one JSON object, row by row (the result is never built twice in
// memory):
//
//	{"columns":[...],"types":[...],"rows":[[...],...],"truncated":false}
//
// Each value is converted by value (the store's converter) before encoding/json writes it.
func WriteJSON(w io.Writer, r Result, value func(any) any) error {
	bw := &errWriter{w: w}
	bw.write(`{"columns":`)
	bw.json(r.Columns)
	bw.write(`,"types":`)
	bw.json(r.Types)
	bw.write(`,"rows":[`)
	for ri, row := range r.Values {
		if ri > 0 {
			bw.write(",")
		}
		bw.write("[")
		for i, v := range row {
			if i > 0 {
				bw.write(",")
			}
			bw.json(value(v))
		}
		bw.write("]")
		if bw.err != nil {
			return bw.err
		}
	}
	bw.write(`],"truncated":` + strconv.FormatBool(r.Truncated) + "}\n")
	return bw.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

func (e *errWriter) json(v any) {
	if e.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.err = err
		return
	}
	_, e.err = e.w.Write(b)
}
