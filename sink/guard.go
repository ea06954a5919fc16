package sink

import (
	"context"
	"errors"
	"fmt"
)

// ErrFenced is wrapped by writes refused because this process may no longer write the
// partitions they came from: its consumer-group generation is over or its lease expired
// (a member frozen past its session timeout: ADR 0009). A fenced batch is dropped, never
// retried: the partitions' new owner writes those events.
var ErrFenced = errors.New("sink: writer fenced: it no longer owns the partitions")

type guardKey struct{}

// WithGuard returns a context carrying guard, which a [Store] calls through [CheckGuard] as
// the last step before each part of a Write becomes durable. guard returns nil while the
// caller may write (see transport.Assignment.Check). It must be safe for concurrent use: a
// store may run several INSERTs of one Write in parallel.
func WithGuard(ctx context.Context, guard func() error) context.Context {
	return context.WithValue(ctx, guardKey{}, guard)
}

// CheckGuard calls the guard ctx carries, if any, and returns its error wrapped with
// ErrFenced. Stores without transactions call it after the server has accepted an INSERT
// and before sending the data that commits it, so a writer frozen between the check and the
// commit is still visible to the new owner's settle (ADR 0009); stores with transactions may
// call it before committing.
func CheckGuard(ctx context.Context) error {
	g, _ := ctx.Value(guardKey{}).(func() error)
	if g == nil {
		return nil
	}
	if err := g(); err != nil {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return nil
}

// Reloader is implemented by a [Store] that caches state derived from the stored rows (the
// ClickHouse store's watermarks and version counters). Reload derives it again; a consumer
// group member calls it on every assignment, before reading [Store.Offsets], because the
// partitions' previous owner may have written since (ADR 0009). A store whose state cannot
// be changed by another writer (DuckDB: one process holds the file) need not implement it.
type Reloader interface {
	Reload(ctx context.Context) error
}
