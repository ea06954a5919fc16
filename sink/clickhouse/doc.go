// Package clickhouse is the scale-out store of tickflow: a [sink.Store] on a ClickHouse
// database (github.com/ClickHouse/clickhouse-go/v2, native protocol) holding every event kind
// of the pipeline — trades, integrity events, book updates (with top-N copies of the
// snapshots in book_snapshots), book statuses, BBO, funding, open interest, liquidations —
// plus coverage, consumed offsets, instruments ([Store.WriteInstruments]) and candles kept by
// materialized views over trades ([Store.ReconcileCandles], [Store.RebuildCandles]).
// [Store.BookAt] rebuilds a book from the store alone. SCHEMA.md documents every table, view
// and column.
//
// # What it owns
//
//   - The schema, created and changed only by numbered migrations embedded from
//     migrations/<dialect>/*.sql, in one of two dialects chosen by server version when the
//     database is created and recorded in schema_migrations: "modern" (ClickHouse 23.8+:
//     DateTime64(9, 'UTC'), LowCardinality, codecs, TTL, a parameterized view) and "legacy"
//     (18.16, the server Debian ships: Int64 nanosecond columns, no codecs). Both have the
//     same tables, the same partitioning (PARTITION BY toYYYYMMDD of the receive time, UTC)
//     and the same sorting key (venue, symbol, receive time, epoch, seq, idx: time plus
//     provenance within an instrument). A database keeps its dialect when the server is
//     upgraded.
//   - The exactly-once write path ([Store.Write]) described below.
//
// # Exactly once without transactions (ADR 0007)
//
// ClickHouse has no multi-statement transactions, and 18.16 has no insert deduplication
// tokens. What it does guarantee is that one INSERT of one block into a MergeTree table
// creates its part(s) atomically, and one part per partition touched. The store therefore
// writes every INSERT as one block (clickhouse-go sends a batch as one block) holding rows
// of a single partition and at most Config.MaxInsertRows rows (below the server's
// max_insert_block_size): each INSERT lands whole or not at all.
//
// A Write then runs, in order: one INSERT of coverage pieces, the INSERTs of integrity rows,
// of trades, then of book_updates, book_snapshots, book_status, bbo, funding, open_interest
// and liquidations, and one INSERT of the batch's offsets. Every table has its own watermark
// keys (book_snapshots too, under the sink-internal kind "book_snapshot"), so a retry after
// a failure between any two INSERTs stores exactly what is missing in each table. Rows are cut into INSERTs by
// partition day such that, for every watermark key, the rows of any INSERT follow in
// provenance all of that key's rows in earlier INSERTs (planInserts); with
// Config.InsertParallelism > 1 the trade rows of a large planned INSERT are split by key
// into INSERTs run at once, each holding all of its keys' rows, so the property holds for
// whichever of them land. The watermark of a key is not stored: it is derived from the
// rows, max((epoch, seq, idx)) per (venue, symbol, kind, parser_version) (the watermarks
// view), when the store opens and again after any failed Write. Events at or below it are
// skipped. The partial-failure cases:
//
//   - An INSERT fails before the server has the whole block (connection cut, timeout, server
//     error): the server discards it. The Write returns an error; the rows of earlier
//     INSERTs are stored, and for each key they are a prefix of its rows in the batch, so
//     the re-derived watermark sits exactly at the end of what landed and a retry of the same
//     batch stores exactly the rest.
//   - An INSERT lands but its acknowledgement is lost: the same, with that INSERT in the
//     prefix. Before deriving, the store waits (Config.SettleTimeout) until no INSERT of this
//     database is running on the server (system.processes, by query id prefix
//     "tickflow-sink/<database>/"), so an INSERT whose client vanished cannot commit after
//     the watermarks were read.
//   - The process dies anywhere: the next Open settles, derives the watermarks and returns
//     the stored offsets; consumption resumes there and re-delivered events at or below the
//     watermarks are skipped. Offsets are written after the rows they cover, so they never
//     run ahead of the rows; offsets that lag only cause re-delivery of duplicates.
//   - Offsets: the offsets table is a ReplacingMergeTree versioned by a counter the store
//     increments per Write (derived as max(version) at open and after a failure); the stored
//     offset of a partition is argMax(next_offset, version), which is right before and after
//     background merges. One INSERT per Write, so a Write's offsets land together.
//   - Coverage: pieces are written before the integrity rows they derive from, and applying
//     an integrity event again to a coverage state that already holds its effect converges
//     to the same pieces (coverage.go), so a retry after a partial Write leaves coverage
//     right.
//
// What this is not: atomic visibility. Until a failed Write is retried, readers may see
// some of its INSERTs (say the first day's trades) and not the rest; they never see a row
// twice. One process writes a database at a time (DuckDB enforces that with its file lock;
// the server does not: do not run two sinks on one database).
//
// # Concurrency
//
// [Store.Write] is serialized by a mutex; call it from one goroutine (the sink Runner).
// [Store.Offsets] and [Store.Close] are safe from any goroutine, and so are the readers and
// maintenance calls ([Store.BookAt], [Store.Candles], [Store.ReconcileCandles],
// [Store.RebuildCandles], [Store.WriteInstruments]), which run on the connection pool beside
// a Write (see SCHEMA.md on reconciling closed intervals only). clickhouse-go keeps a small
// connection pool (at most 4) with its own background goroutine, stopped by Close.
//
// # Blocking
//
// Write blocks for its INSERTs (tens of milliseconds for 10,000 rows, a few hundred for
// 100,000 on a 2-core machine), each bounded by Config.InsertTimeout, and after a failure for
// up to Config.SettleTimeout plus a scan of the tables' provenance columns (the derived
// watermarks cost one GROUP BY over every event table). Open costs the same scan.
// RebuildCandles and ReconcileCandles block for an ALTER ... DELETE mutation (polled until
// done, at most Config.InsertTimeout) and an INSERT ... SELECT over the range's trades; run
// them outside the sink's goroutine.
//
// # Files
//
//	clickhouse.go  Store, Open, Offsets, Close
//	config.go      Config, dialects, ParseDSN
//	migrate.go     embedded migrations, server versions, dialect choice
//	state.go       settling interrupted inserts, deriving watermarks and versions
//	write.go       Write, planInserts, column encoding
//	write_kinds.go the tables beyond trades and integrity: books, book status, BBO,
//	               book snapshots, funding, open interest, liquidations; StoresKind
//	coverage.go    coverage pieces from integrity events and book statuses
//	instruments.go WriteInstruments
//	bookat.go      BookAt: a book rebuilt from book_updates and book_status
//	candles.go     candle views: Candles, RebuildCandles, ReconcileCandles
//	errors.go      sentinel errors
//	testdata/chdb_modern.py  the modern DDL checked on chdb (current ClickHouse engine)
package clickhouse
