package duckdb

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func TestExp3(t *testing.T) {
	for _, v := range []struct{ name, ddl, sel string }{
		{"full", `venue VARCHAR, symbol VARCHAR, trade_id VARCHAR, trade_id_num UBIGINT, pm BIGINT, ps UTINYINT, qm BIGINT, qs UTINYINT, price DOUBLE, qty DOUBLE, side VARCHAR, ex TIMESTAMP_NS, se TIMESTAMP_NS, re TIMESTAMP_NS, co BIGINT, epoch UBIGINT, seq UBIGINT, idx UINTEGER, source VARCHAR, pv USMALLINT`,
			`'binance', 'SYM' || (i%200), CAST(i AS VARCHAR), i, 6500000 + (i*7919)%1000, 2, 1000+(i*31)%5000, 5, (6500000 + (i*7919)%1000)/100, (1000+(i*31)%5000)/1e5, CASE WHEN i%2=0 THEN 'buy' ELSE 'sell' END, make_timestamp_ns(1767225600000000000 + i*1000), make_timestamp_ns(1767225600000000000 + i*1000+5), make_timestamp_ns(1767225600000000000 + i*1000+100), -7, 1, i, 0, 'live', 1`},
		{"no_trade_id_text", `venue VARCHAR, symbol VARCHAR, trade_id_num UBIGINT, pm BIGINT, ps UTINYINT, qm BIGINT, qs UTINYINT, price DOUBLE, qty DOUBLE, side VARCHAR, ex TIMESTAMP_NS, se TIMESTAMP_NS, re TIMESTAMP_NS, co BIGINT, epoch UBIGINT, seq UBIGINT, idx UINTEGER, source VARCHAR, pv USMALLINT`,
			`'binance', 'SYM' || (i%200), i, 6500000 + (i*7919)%1000, 2, 1000+(i*31)%5000, 5, (6500000 + (i*7919)%1000)/100, (1000+(i*31)%5000)/1e5, CASE WHEN i%2=0 THEN 'buy' ELSE 'sell' END, make_timestamp_ns(1767225600000000000 + i*1000), make_timestamp_ns(1767225600000000000 + i*1000+5), make_timestamp_ns(1767225600000000000 + i*1000+100), -7, 1, i, 0, 'live', 1`},
		{"doubles_only", `price DOUBLE, qty DOUBLE`, `(6500000 + (i*7919)%1000)/100, (1000+(i*31)%5000)/1e5`},
		{"bigints_only", `pm BIGINT, qm BIGINT`, `6500000 + (i*7919)%1000, 1000+(i*31)%5000`},
		{"ts_only", `ex TIMESTAMP_NS, se TIMESTAMP_NS, re TIMESTAMP_NS`, `make_timestamp_ns(1767225600000000000 + i*1000), make_timestamp_ns(1767225600000000000 + i*1000+5), make_timestamp_ns(1767225600000000000 + i*1000+100)`},
		{"strings_only", `venue VARCHAR, symbol VARCHAR, side VARCHAR, source VARCHAR`, `'binance', 'SYM' || (i%200), CASE WHEN i%2=0 THEN 'buy' ELSE 'sell' END, 'live'`},
		{"no_doubles", `venue VARCHAR, symbol VARCHAR, trade_id_num UBIGINT, pm BIGINT, ps UTINYINT, qm BIGINT, qs UTINYINT, side VARCHAR, ex TIMESTAMP_NS, se TIMESTAMP_NS, re TIMESTAMP_NS, co BIGINT, epoch UBIGINT, seq UBIGINT, idx UINTEGER, source VARCHAR, pv USMALLINT`,
			`'binance', 'SYM' || (i%200), i, 6500000 + (i*7919)%1000, 2, 1000+(i*31)%5000, 5, CASE WHEN i%2=0 THEN 'buy' ELSE 'sell' END, make_timestamp_ns(1767225600000000000 + i*1000), make_timestamp_ns(1767225600000000000 + i*1000+5), make_timestamp_ns(1767225600000000000 + i*1000+100), -7, 1, i, 0, 'live', 1`},
	} {
		db, err := sql.Open("duckdb", filepath.Join(t.TempDir(), "e.db")+"?checkpoint_threshold=10GB")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		if _, err := db.Exec("CREATE TABLE t (" + v.ddl + ")"); err != nil {
			t.Fatal(err)
		}
		var ins, cp time.Duration
		for b := 0; b < 10; b++ {
			st := time.Now()
			if _, err := db.Exec("INSERT INTO t SELECT "+v.sel+" FROM range(?, ?) r(i)", b*150000, (b+1)*150000); err != nil {
				t.Fatal(err)
			}
			ins += time.Since(st)
			st = time.Now()
			if _, err := db.Exec("CHECKPOINT"); err != nil {
				t.Fatal(err)
			}
			cp += time.Since(st)
		}
		t.Logf("%s: insert %v checkpoint %v per 150k rows", v.name, ins/10, cp/10)
		db.Close()
	}
}
