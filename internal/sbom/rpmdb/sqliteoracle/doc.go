// Package sqliteoracle holds no code: its tests compare rpmdb's reader of
// the SQLite file format with SQLite itself (modernc.org/sqlite) on
// databases they build, and write the small databases rpmdb's own tests
// and fuzz seeds use (go test ./internal/sbom/rpmdb/sqliteoracle -update).
// They live apart so that rpmdb's test binary, which is fuzzed, does not
// link SQLite: its coverage instrumentation slows fuzzing to a crawl.
package sqliteoracle
