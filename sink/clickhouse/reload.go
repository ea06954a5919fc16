package clickhouse

import (
	"context"

	"github.com/tickflow/tickflow/sink"
)

var _ sink.Reloader = (*Store)(nil)

// Reload derives the watermarks and version counters from the stored rows again, after
// waiting for interrupted INSERTs of this database to finish on the server (settle). A sink
// in a consumer group calls it on every assignment: the partitions' previous owner may have
// written rows since this store last derived them (ADR 0009). It waits for a Write in
// progress.
func (s *Store) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.loadState(ctx)
}
