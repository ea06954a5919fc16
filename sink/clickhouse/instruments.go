package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tickflow/tickflow/md"
)

func instrumentColumns(d Dialect) []string {
	return []string{"venue", "native", "symbol", "kind", "base", "quote", "settle", "inverse",
		timeCol(d, "expiry"), "strike", "is_call", "tick_mant", "tick_scale", "lot_mant",
		"lot_scale", "status", timeCol(d, "valid_from"), timeCol(d, "recorded")}
}

// WriteInstruments records instrument versions (ADR 0004) in the instruments table: one row
// per (venue, native symbol, valid_from), recorded now. Recording a version again (an
// instrument list fetched at every start) replaces the older recording: instruments_v
// (instruments FINAL) shows one row per version, the latest recording. All rows go in one
// INSERT (instruments is not partitioned), so they land together or not at all; on error
// the call can simply be repeated. An empty Symbol is filled with md.UnifiedSymbol.
//
// Safe to call concurrently with Write (it uses its own connection from the pool).
func (s *Store) WriteInstruments(ctx context.Context, ins []md.Instrument) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if len(ins) == 0 {
		return nil
	}
	if len(ins) > s.cfg.MaxInsertRows {
		return fmt.Errorf("clickhouse: write instruments: %d rows, more than one INSERT of "+
			"MaxInsertRows (%d): split the list", len(ins), s.cfg.MaxInsertRows)
	}
	now := time.Now().UnixNano()
	err := s.insert(ctx, "instruments", insertSQL("instruments", instrumentColumns(s.dialect)),
		func(bt driver.Batch) error {
			for i := range ins {
				in := &ins[i]
				sym := in.Symbol
				if sym == "" {
					sym = md.UnifiedSymbol(in)
				}
				kind, status := int8(in.Kind), int8(in.Status)
				if in.Kind > md.Option {
					kind = 0
				}
				if in.Status > md.Delisted {
					status = 0
				}
				if err := bt.Append(in.Venue, in.Native, sym, kind, in.Base, in.Quote, in.Settle,
					boolU8(in.Inverse), s.plainTime(in.Expiry), in.Strike, boolU8(in.Call),
					in.TickSize.Mant, in.TickSize.Scale, in.LotSize.Mant, in.LotSize.Scale, status,
					s.plainTime(in.ValidFrom), s.plainTime(now)); err != nil {
					return fmt.Errorf("instrument %s %s: %w", in.Venue, in.Native, err)
				}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("clickhouse: write instruments: %w", err)
	}
	return nil
}

// plainTime returns a row value for a non-nullable time column of the dialect.
func (s *Store) plainTime(ns int64) any {
	if s.dialect == DialectModern {
		return unixTime(ns)
	}
	return ns
}
