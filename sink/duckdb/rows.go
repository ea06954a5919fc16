package duckdb

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"sort"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/tickflow/tickflow/sink/queryout"
)

// Rows is a materialized query result that can be written as CSV or JSON.
type Rows struct {
	// Columns are the result's column names.
	Columns []string
	// Types are DuckDB's type names of the columns ("BIGINT", "TIMESTAMP_NS", ...).
	Types []string
	// Values holds one slice per row with one value per column: nil (NULL), bool, int*/uint*,
	// float32/64, string, []byte, time.Time, *big.Int, duckdb-go's Decimal, Interval or UUID,
	// or nested []any / map[string]any / duckdb-go Map values.
	Values [][]any
	// Truncated reports that the result had more rows than the query row limit.
	Truncated bool
}

func readRows(rows *sql.Rows, maxRows int) (*Rows, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	r := &Rows{Columns: cols, Types: make([]string, len(cts)), Values: [][]any{}}
	for i, ct := range cts {
		r.Types[i] = ct.DatabaseTypeName()
	}
	ptrs := make([]any, len(cols))
	for rows.Next() {
		if len(r.Values) >= maxRows {
			r.Truncated = true
			break
		}
		vals := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r.Values = append(r.Values, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// WriteCSV writes the rows as CSV (RFC 4180) with a header line. NULL is the empty field;
// timestamps are RFC 3339 with nanoseconds in UTC; BLOBs are base64; nested values are JSON.
func (r *Rows) WriteCSV(w io.Writer) error {
	return queryout.WriteCSV(w, r.result(), textValue, "duckdb")
}

// WriteJSON writes the rows as one JSON object:
//
//	{"columns":[...],"types":[...],"rows":[[...],...],"truncated":false}
//
// Numbers that JSON cannot hold exactly (HUGEINT, DECIMAL, 64-bit integers beyond 2^53)
// are written as JSON numbers in full precision; NaN and infinities as strings; timestamps
// as RFC 3339 strings in UTC; BLOBs as base64 strings.
func (r *Rows) WriteJSON(w io.Writer) error {
	return queryout.WriteJSON(w, r.result(), jsonValue)
}

func (r *Rows) result() queryout.Result {
	return queryout.Result{Columns: r.Columns, Types: r.Types, Values: r.Values, Truncated: r.Truncated}
}

// jsonValue converts a scanned DuckDB value into something encoding/json writes faithfully.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return x
	case float32:
		return queryout.JSONFloat(float64(x))
	case float64:
		return queryout.JSONFloat(x)
	case time.Time:
		return x.UTC().Format(queryout.TimeLayout)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case *big.Int:
		return json.Number(x.String())
	case duck.Decimal:
		return json.Number(decimalText(x))
	case duck.UUID:
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case duck.Map:
		// Keys may be any type: write [{"key":k,"value":v}, ...] in key text order.
		type kv struct {
			Key   any `json:"key"`
			Value any `json:"value"`
		}
		out := make([]kv, 0, len(x))
		for k, e := range x {
			out = append(out, kv{jsonValue(k), jsonValue(e)})
		}
		sort.Slice(out, func(i, j int) bool {
			return fmt.Sprint(out[i].Key) < fmt.Sprint(out[j].Key)
		})
		return out
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// textValue renders a value for CSV.
func textValue(v any) (string, error) {
	if s, ok := queryout.Text(v); ok {
		return s, nil
	}
	switch x := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(x), nil
	case duck.Decimal:
		return decimalText(x), nil
	case duck.UUID:
		return x.String(), nil
	case []any, map[string]any, duck.Map:
		b, err := json.Marshal(jsonValue(x))
		return string(b), err
	case fmt.Stringer:
		return x.String(), nil
	}
	return fmt.Sprint(v), nil
}

// decimalText renders a DuckDB DECIMAL exactly.
func decimalText(d duck.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	s := new(big.Int).Abs(d.Value).String()
	sc := int(d.Scale)
	if sc > 0 {
		for len(s) <= sc {
			s = "0" + s
		}
		s = s[:len(s)-sc] + "." + s[len(s)-sc:]
	}
	if d.Value.Sign() < 0 {
		s = "-" + s
	}
	return s
}
