package clickhouse

import (
	"testing"

	"github.com/tickflow/tickflow/sink"
)

func TestBatchLimits(t *testing.T) {
	var s sink.Store = &Store{}
	bs, ok := s.(sink.BatchSizer)
	if !ok {
		t.Fatal("Store is not a sink.BatchSizer")
	}
	if l := bs.BatchLimits(); l.MaxRows != DefaultBatchRows || l.MaxBytes != DefaultBatchBytes || l.MaxDelay != DefaultBatchDelay {
		t.Errorf("limits %+v", l)
	}
}

func TestInsertParallelismConfig(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{0, true}, {1, true}, {16, true}, {-1, false}, {17, false}} {
		if err := (Config{InsertParallelism: tc.n}).Validate(); (err == nil) != tc.ok {
			t.Errorf("InsertParallelism %d: %v", tc.n, err)
		}
	}
	if got := (Config{}).withDefaults().InsertParallelism; got != DefaultInsertParallelism {
		t.Errorf("default %d, want %d", got, DefaultInsertParallelism)
	}
	c, err := ParseDSN("clickhouse://127.0.0.1:9000/db?insert_parallelism=4")
	if err != nil || c.InsertParallelism != 4 {
		t.Errorf("dsn: %+v %v", c, err)
	}
	for _, bad := range []string{"x", "17"} {
		if _, err := ParseDSN("clickhouse://127.0.0.1:9000/db?insert_parallelism=" + bad); err == nil {
			t.Errorf("insert_parallelism=%s accepted", bad)
		}
	}
}
