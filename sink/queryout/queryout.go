// Package queryout owns how query results are rendered as text, the same way for every
// store's read-only query path (DuckDB and ClickHouse): CSV cells and JSON values of the
// scalar types both drivers return. Engine-specific types (DuckDB decimals and maps,
// ClickHouse arrays and tuples) stay with their store.
package queryout

import (
	"math"
	"math/big"
	"strconv"
	"time"
)

// TimeLayout renders timestamps (always in UTC): RFC 3339 with up to nanoseconds.
const TimeLayout = "2006-01-02T15:04:05.999999999Z07:00"

// JSONFloat returns f for encoding/json, with NaN and ±Inf (which JSON cannot hold) as the
// strings "NaN", "Infinity" and "-Infinity".
func JSONFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// Text renders a scalar value as a CSV cell: NULL as empty, numbers in Go's shortest exact
// form, times in TimeLayout. ok is false for a type it does not know (the store renders it).
func Text(v any) (s string, ok bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case time.Time:
		return x.UTC().Format(TimeLayout), true
	case *big.Int:
		if x == nil {
			return "", true
		}
		return x.String(), true
	}
	return "", false
}
