package clickhouse

import "errors"

// Sentinel errors callers branch on.
var (
	// ErrClosed is returned by methods of a closed store.
	ErrClosed = errors.New("clickhouse: store is closed")
	// ErrUnsettled is wrapped when an interrupted INSERT of this database was still running
	// on the server after Config.SettleTimeout: the watermarks cannot be derived yet. The
	// write may be retried later.
	ErrUnsettled = errors.New("clickhouse: an interrupted insert is still running on the server")
	// ErrSchema is wrapped when the database holds a schema this version cannot use (an
	// edited migration, another dialect than the server supports, a newer schema).
	ErrSchema = errors.New("clickhouse: incompatible schema")
)
