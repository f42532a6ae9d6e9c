package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"
)

// SQLite is the embedded backend: one file, WAL journal, one hub process.
// Writers are serialised by SQLite; BEGIN IMMEDIATE and a busy timeout make
// them queue instead of failing.
type SQLite struct{ *sqlStore }

// OpenSQLite opens (creating) the database file and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	dsn := func(txlock string) string {
		q := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "busy_timeout(15000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", txlock)
		return "file:" + path + "?" + q.Encode()
	}
	db, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// A few readers in WAL mode (they never wait for the writer).
	db.SetMaxOpenConns(4)
	// Transactions (ingest, heartbeats, enrolment) go through one writer
	// connection: SQLite has one writer at a time anyway, and queueing in
	// Go is first come, first served, where several connections contending
	// for the write lock sleep in SQLite's busy handler (1 ms, 2 ms, 5 ms …
	// 100 ms steps), which made the ingest p99 hundreds of milliseconds.
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &SQLite{&sqlStore{db: db, w: w, d: sqliteDialect}}
	if err := migrate(ctx, w, sqliteDialect, LatestSchemaVersion()); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil { // it holds the hub's keys
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}

var sqliteDialect = dialect{name: "sqlite", blob: "BLOB", maxParams: 32000}
