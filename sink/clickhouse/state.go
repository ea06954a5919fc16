package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/tickflow/tickflow/md"
	"github.com/tickflow/tickflow/sink"
)

// The exactly-once state is not stored anywhere of its own: the watermarks are derived from
// the rows (the watermarks view), and the version counters of offsets and coverage from
// their tables. It is derived when the store opens and again after any failed Write, because
// a failed INSERT may or may not have landed.

var kindByName = map[string]md.Kind{
	md.KindTrade.String():        md.KindTrade,
	md.KindIntegrity.String():    md.KindIntegrity,
	md.KindBookUpdate.String():   md.KindBookUpdate,
	md.KindBookStatus.String():   md.KindBookStatus,
	md.KindBBO.String():          md.KindBBO,
	md.KindFunding.String():      md.KindFunding,
	md.KindOpenInterest.String(): md.KindOpenInterest,
	md.KindLiquidation.String():  md.KindLiquidation,
	"book_snapshot":              kindBookSnapshot,
}

// settle waits until no INSERT of this database is running on the server (one interrupted by
// a lost connection or a killed writer may still be committing its part).
func (s *Store) settle(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.SettleTimeout)
	for {
		var n uint64
		if err := s.conn.QueryRow(ctx, `SELECT count() FROM system.processes
			WHERE position(query_id, ?) = 1`, s.qidBase).Scan(&n); err != nil {
			return fmt.Errorf("clickhouse: look for running inserts: %w", err)
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse: %d inserts of %s still running after %v: %w", n,
				s.cfg.Database, s.cfg.SettleTimeout, ErrUnsettled)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// loadState derives the watermarks and version counters from the stored rows. s.mu is held.
func (s *Store) loadState(ctx context.Context) error {
	s.wmOK = false
	if err := s.settle(ctx); err != nil {
		return err
	}
	s.wm.Reset()
	rows, err := s.conn.Query(ctx,
		"SELECT venue, symbol, kind, parser_version, epoch, seq, idx FROM watermarks")
	if err != nil {
		return fmt.Errorf("clickhouse: derive watermarks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k sink.Key
		var kind string
		var p md.Provenance
		if err := rows.Scan(&k.Venue, &k.Symbol, &kind, &k.ParserVersion, &p.Epoch, &p.Seq,
			&p.Index); err != nil {
			return fmt.Errorf("clickhouse: derive watermarks: %w", err)
		}
		kk, ok := kindByName[kind]
		if !ok {
			return fmt.Errorf("clickhouse: derive watermarks: unknown kind %q", kind)
		}
		k.Kind = kk
		s.wm.Load(k, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: derive watermarks: %w", err)
	}
	for _, v := range []struct {
		table string
		dst   *uint64
	}{{"offsets", &s.offVersion}, {"coverage", &s.covVersion}} {
		if err := s.conn.QueryRow(ctx, "SELECT max(version) FROM "+v.table).Scan(v.dst); err != nil {
			return fmt.Errorf("clickhouse: read %s version: %w", v.table, err)
		}
	}
	s.wmOK = true
	return nil
}
