package clickhouse

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"time"

	"github.com/tickflow/tickflow/sink/queryout"
)

// WriteCSV writes the rows as CSV (RFC 4180) with a header line. NULL is the empty field;
// times are RFC 3339 with nanoseconds in UTC; arrays, tuples and maps are JSON.
func (r *Rows) WriteCSV(w io.Writer) error {
	return queryout.WriteCSV(w, r.result(), queryText, "clickhouse")
}

// WriteJSON writes the rows as one JSON object, the same shape as the DuckDB store's:
//
//	{"columns":[...],"types":[...],"rows":[[...],...],"truncated":false}
//
// 64-bit integers and big numbers are JSON numbers in full precision; NaN and infinities are
// strings; times are RFC 3339 strings in UTC.
func (r *Rows) WriteJSON(w io.Writer) error {
	return queryout.WriteJSON(w, r.result(), queryJSON)
}

func (r *Rows) result() queryout.Result {
	return queryout.Result{Columns: r.Columns, Types: r.Types, Values: r.Values, Truncated: r.Truncated}
}

// queryJSON converts a scanned value into something encoding/json writes faithfully.
func queryJSON(v any) any {
	switch x := v.(type) {
	case float64:
		return queryout.JSONFloat(x)
	case float32:
		return queryout.JSONFloat(float64(x))
	case time.Time:
		return x.UTC().Format(queryout.TimeLayout)
	case *big.Int:
		if x == nil {
			return nil
		}
		return json.Number(x.String())
	case fmt.Stringer:
		return x.String()
	}
	// Arrays (Array(UInt8) too: ClickHouse strings scan as string, so a []uint8 is an array,
	// not bytes), tuples and maps, element by element.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = queryJSON(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			out[fmt.Sprint(it.Key().Interface())] = queryJSON(it.Value().Interface())
		}
		return out
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return queryJSON(rv.Elem().Interface())
	}
	return v
}

// queryText renders a value for CSV.
func queryText(v any) (string, error) {
	if s, ok := queryout.Text(v); ok {
		return s, nil
	}
	switch x := v.(type) {
	case fmt.Stringer:
		return x.String(), nil
	}
	b, err := json.Marshal(queryJSON(v))
	return string(b), err
}
