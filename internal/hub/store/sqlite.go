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
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(15000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// One writer at a time anyway; a few readers in WAL mode.
	db.SetMaxOpenConns(4)
	s := &SQLite{&sqlStore{db: db, d: sqliteDialect}}
	if err := migrate(ctx, db, sqliteDialect, LatestSchemaVersion()); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil { // it holds the hub's keys
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}

var sqliteDialect = dialect{name: "sqlite", blob: "BLOB", maxParams: 32000}
