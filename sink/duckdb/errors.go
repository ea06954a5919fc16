package duckdb

import "errors"

// Sentinel errors callers branch on.
var (
	// ErrReadOnly is returned by Write on a store opened read-only.
	ErrReadOnly = errors.New("duckdb: store is read-only")
	// ErrClosed is returned by methods of a closed store.
	ErrClosed = errors.New("duckdb: store is closed")
	// ErrQueryRefused is wrapped by Query's errors for statements the read-only query
	// endpoint does not run (anything but a single read); the message says why.
	ErrQueryRefused = errors.New("duckdb: query refused")
	// ErrInUse is wrapped when the database file is locked by another process (the running
	// pipeline): query that process instead.
	ErrInUse = errors.New("duckdb: database file is in use by another process")
)
