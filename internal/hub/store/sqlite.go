package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"
)

// SQLite is the embedded backend: one file, WAL journal, one hub process.
// Writers are serialised by SQLite; BEGIN IMMEDIATE and a busy timeout make
// them queue instead of failing.
type SQLite struct {
	*sqlStore
	stop, done chan struct{}
}

// Checkpoints. The writer connection only checkpoints the WAL when it
// reaches walSafetyPages (a safety net); a goroutine checkpoints it
// PASSIVE-ly from a reader connection every checkpointEvery instead, so
// copying WAL frames into the database happens beside ingest rather than
// inside the report that crossed SQLite's default 1,000-page threshold (a
// latency spike every few dozen reports).
const (
	checkpointEvery = 500 * time.Millisecond
	walSafetyPages  = 16384
)

// OpenSQLite opens (creating) the database file and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if err := privateFiles(path); err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	dsn := func(txlock string, pragmas ...string) string {
		q := url.Values{}
		for _, p := range append([]string{"journal_mode(WAL)", "busy_timeout(15000)", "foreign_keys(1)", "synchronous(NORMAL)"}, pragmas...) {
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
	w, err := sql.Open("sqlite", dsn("immediate", fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyPages)))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &SQLite{sqlStore: &sqlStore{db: db, w: w, d: sqliteDialect}}
	if err := migrate(ctx, w, sqliteDialect, LatestSchemaVersion()); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	if err := s.prepareIngest(ctx, w); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.checkpoints()
	s.startCommitters(1) // the one writer connection
	s.startHeartbeats()
	s.startSeen()
	return s, nil
}

// privateFiles makes the database's directory (0700 when it creates it)
// and the database file 0600 before SQLite opens it, and takes group and
// other access away from the -wal and -shm files an earlier hub left.
//
// Why before: SQLite creates the -wal and -shm files with the mode of the
// database file, and all three hold hub_secrets (the CA key, the
// bundle-signing key). A database created by SQLite under the usual 022
// umask and chmod-ed afterwards had world-readable WAL and SHM files for
// as long as the hub ran. `hub` commands also set a 077 umask (see
// cmd/palisade), which covers what this cannot name; this path does not,
// because a umask is process-wide and the store is a library.
func privateFiles(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, name := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(name, fi.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *SQLite) checkpoints() {
	defer close(s.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// Errors (a busy database) are retried on the next tick; the
			// writer's own threshold bounds the WAL meanwhile.
			_, _ = s.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

// Close stops the checkpoints and closes the database.
func (s *SQLite) Close() error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	return s.sqlStore.Close()
}

var sqliteDialect = dialect{name: "sqlite", blob: "BLOB", maxParams: 32000}
