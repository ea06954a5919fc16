// Package duckdb is the embedded store of tickflow: a [sink.Store] (and [sink.KindStore])
// on one DuckDB database file (github.com/duckdb/duckdb-go/v2, cgo) holding trades,
// integrity events, book updates with one row per level, book statuses, BBOs, coverage,
// watermarks and consumed offsets, plus the hardened read-only query endpoint over it.
// SCHEMA.md documents every table, view and column, and the book_at macro that rebuilds a
// book at any moment from the store alone.
//
// # What it owns
//
//   - The schema, created and changed only by numbered migrations embedded from
//     migrations/*.sql, applied in order in one transaction by [Open] and recorded with
//     their checksums in schema_migrations.
//   - The exactly-once write path ([Store.Write]): one transaction per batch holding the
//     rows, the coverage rows derived from integrity events and book statuses, the
//     advanced watermarks and the batch's offsets. The watermarks are cached in memory (the store is the only
//     writer) and reloaded after a failed transaction.
//   - The query endpoint ([Store.Query]): one read-only statement per call, checked by
//     text and by DuckDB's statement type, run in a READ ONLY transaction, with a timeout,
//     a row cap, DuckDB's memory_limit, external access disabled and the configuration
//     locked. Results are [Rows], written with [Rows.WriteCSV] or [Rows.WriteJSON].
//
// # Concurrency
//
// [Store.Write] is serialized by a mutex and runs on the store's own writer connection;
// call it from one goroutine (the sink Runner). [Store.Query], [Store.Offsets] and
// [Store.Close] are safe from any goroutine; up to Config.QueryConns queries run at once
// beside the writer. DuckDB runs its own worker threads inside cgo calls; the package
// starts no goroutines of its own (duckdb-go starts short-lived ones to interrupt a query
// whose context is done).
//
// # Blocking
//
// Write blocks for the duration of the transaction (tens to hundreds of milliseconds for a
// 50,000-row batch; longer when DuckDB checkpoints its WAL at commit). Query blocks up to
// Config.QueryTimeout. Nothing here may be called from a latency-sensitive path such as a
// WebSocket write loop; the stream gateway reads history through its own goroutine.
//
// # Files
//
//	duckdb.go     Store, Open, OpenReadOnly, Offsets, Close
//	config.go     Config and the DSN (startup settings)
//	migrate.go    embedded migrations and their runner
//	write.go      the write transaction
//	books.go      book updates and levels, book statuses, BBOs; book coverage
//	coverage.go   coverage rows from integrity events
//	query.go      Query and the statement-type check
//	guard.go      the text checks of the query endpoint
//	rows.go       Rows, CSV and JSON output
//	errors.go     sentinel errors
package duckdb
