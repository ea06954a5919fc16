package binancesim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateDepth(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" = valid
	}{
		{"hash depth max", Config{BookHashDepth: 5000}, ""},
		{"hash depth negative", Config{BookHashDepth: -1}, "book hash depth"},
		{"hash depth too deep", Config{BookHashDepth: 5001}, "book hash depth"},
		{"gap rate > 1", Config{Faults: Faults{DepthGapRate: 1.5}}, "depth gap rate"},
		{"reorder NaN", Config{Faults: Faults{DepthReorderRate: nan()}}, "depth reorder rate"},
		{"negative drop", Config{Faults: Faults{DepthDropRate: -0.1}}, "depth drop rate"},
		{"negative dup", Config{Faults: Faults{DepthDuplicateRate: -0.1}}, "depth duplicate rate"},
		{"depth sum > 1", Config{Faults: Faults{DepthGapRate: 0.5, DepthDropRate: 0.3, MalformedRate: 0.3}}, "depth gap+drop"},
		{"negative snapshot delay", Config{Faults: Faults{SnapshotDelay: -time.Second}}, "snapshot delay"},
		{"all depth faults", Config{BookHashDepth: 10, Faults: Faults{DepthGapRate: 0.1, DepthDropRate: 0.1,
			DepthDuplicateRate: 0.1, DepthReorderRate: 0.1, MalformedRate: 0.1, SnapshotDelay: time.Second}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
		})
	}
	if d := (Config{}).withDefaults().BookHashDepth; d != DefaultBookHashDepth {
		t.Fatalf("default book hash depth %d", d)
	}
}
