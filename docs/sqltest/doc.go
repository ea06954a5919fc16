// Package sqltest checks the worked queries of docs/sql.md: it extracts every tagged SQL
// block of the document, runs it on the engine it is written for (DuckDB in the unit tier;
// ClickHouse 18.16 and modern ClickHouse through chdb in the integration tier) over a
// generated market loaded through the stores' own Write, and compares the result with one
// computed in Go from the generated events. The package holds tests only.
package sqltest
