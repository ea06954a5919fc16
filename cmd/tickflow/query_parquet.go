package main

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"
)

// writeParquet writes a query result (either store's) as one Parquet file. The rows go into
// a private in-memory DuckDB (not the store, which runs with external access disabled and
// runs no user SQL here) and DuckDB's COPY ... (FORMAT parquet) writes the file, which is
// then copied to w. Column types come from the Go values: booleans, signed and unsigned
// 64-bit integers, doubles, TIMESTAMP_NS (UTC) and text; anything else (decimals, big
// integers, arrays, maps) is written as its text.
func writeParquet(ctx context.Context, w io.Writer, cols []string, vals [][]any) (err error) {
	dir, err := os.MkdirTemp("", "tickflow-parquet-")
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	defer os.RemoveAll(dir)
	connector, err := duck.NewConnector("", nil)
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	defer connector.Close()
	conn, err := connector.Connect(ctx)
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	defer conn.Close()
	exec := func(q string) error {
		_, err := conn.(driver.ExecerContext).ExecContext(ctx, q, nil)
		return err
	}
	kinds := parquetKinds(cols, vals)
	var defs []string
	seen := map[string]int{}
	for i, c := range cols {
		name := c
		if seen[c]++; seen[c] > 1 { // SELECT 1 AS a, 2 AS a
			name = c + "_" + strconv.Itoa(seen[c])
		}
		defs = append(defs, `"`+strings.ReplaceAll(name, `"`, `""`)+`" `+kinds[i])
	}
	if len(cols) == 0 {
		return errors.New("parquet: the result has no columns")
	}
	if err := exec("CREATE TABLE r (" + strings.Join(defs, ", ") + ")"); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	app, err := duck.NewAppenderFromConn(conn, "", "r")
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	row := make([]driver.Value, len(cols))
	for _, vs := range vals {
		for i, v := range vs {
			if row[i], err = parquetValue(v, kinds[i]); err != nil {
				_ = app.Close()
				return fmt.Errorf("parquet: column %s: %w", cols[i], err)
			}
		}
		if err := app.AppendRow(row...); err != nil {
			_ = app.Close()
			return fmt.Errorf("parquet: %w", err)
		}
	}
	if err := app.Close(); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	path := filepath.Join(dir, "result.parquet")
	if err := exec("COPY r TO '" + strings.ReplaceAll(path, "'", "''") + "' (FORMAT parquet)"); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// parquetKinds returns the DuckDB type of each column, from its first non-NULL value.
func parquetKinds(cols []string, vals [][]any) []string {
	kinds := make([]string, len(cols))
	for i := range cols {
		kinds[i] = "VARCHAR"
		for _, row := range vals {
			if row[i] == nil {
				continue
			}
			switch row[i].(type) {
			case bool:
				kinds[i] = "BOOLEAN"
			case int, int8, int16, int32, int64, uint8, uint16, uint32:
				kinds[i] = "BIGINT"
			case uint, uint64:
				kinds[i] = "UBIGINT"
			case float32, float64:
				kinds[i] = "DOUBLE"
			case time.Time:
				kinds[i] = "TIMESTAMP_NS"
			}
			break
		}
	}
	return kinds
}

// parquetValue converts v for a column of DuckDB type kind.
func parquetValue(v any, kind string) (driver.Value, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case "BOOLEAN":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%v (%T) in a BOOLEAN column", v, v)
		}
		return b, nil
	case "BIGINT":
		n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64)
		return n, err
	case "UBIGINT":
		n, err := strconv.ParseUint(fmt.Sprint(v), 10, 64)
		return n, err
	case "DOUBLE":
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
		return nil, fmt.Errorf("%v (%T) in a DOUBLE column", v, v)
	case "TIMESTAMP_NS":
		t, ok := v.(time.Time)
		if !ok {
			return nil, fmt.Errorf("%v (%T) in a TIMESTAMP_NS column", v, v)
		}
		return t.UTC(), nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case *big.Int:
		return x.String(), nil
	case fmt.Stringer:
		return x.String(), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, bool:
		return fmt.Sprint(x), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}
