package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"
)

// SQLite is the embedded backend: one file, WAL journal, one hub process.
// Writers are serialised by SQLite; BEGIN IMMEDIATE and a busy timeout make
// them queue instead of failing.
type SQLite struct {
	*sqlStore
	// ck is the checkpointer's own connection (checkpoint.go): never one
	// a dashboard read or the writer waits for.
	ck       *sql.DB
	wal      walLimits
	walStats walCounters
	// lastLog and lastBackfilled are the WAL's length and frames copied
	// at the last checkpoint (the checkpointer's goroutine only).
	lastLog, lastBackfilled int64
	// failing counts the checkpoints failed in a row and failLogged is
	// when that was last logged (the checkpointer's goroutine only).
	failing    int64
	failLogged time.Time
	// overSoft counts the checkpoint intervals the WAL has been over its
	// soft limit without being copied whole, -1 once it was (the
	// checkpointer's goroutine only; checkpoint.go).
	overSoft int
	// log receives the checkpointer's failures (SetLogger).
	log        atomic.Pointer[slog.Logger]
	stop, done chan struct{}
	// stopOnce stops the checkpointer and closes its pool once, however
	// many times Close is called (sqlStore.Close is itself once).
	stopOnce sync.Once
	stopErr  error
}

// Durability and checkpoints (issue #17).
//
// synchronous=FULL: in WAL mode SQLite then syncs the WAL file at every
// commit, so a report the hub answered 200 is on the disk and survives
// an OS crash or power loss. (NORMAL, used before, syncs only at
// checkpoints: the last commits before a power loss could roll back.)
// Group commit keeps that to one sync per group of reports, not one per
// report.
//
// wal_autocheckpoint=0 on every connection: no commit ever runs a
// checkpoint (the few writes outside the writer's transactions — an API
// token's last use, an audit event — go through the readers' pool, and
// would otherwise checkpoint the whole WAL in their request).
// The checkpointer (checkpoint.go) copies the WAL into the database from
// its own connection beside the writer, and bounds the WAL's size.
//
// journal_size_limit: when the WAL restarts, its file is truncated to the
// soft limit, so a burst that grew it does not keep its disk space.

// OpenSQLite opens (creating) the database file and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	return openSQLite(ctx, path, defaultWALLimits)
}

func openSQLite(ctx context.Context, path string, lim walLimits) (*SQLite, error) {
	if err := privateFiles(path); err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	dsn := func(txlock string, pragmas ...string) string {
		q := url.Values{}
		for _, p := range append([]string{"journal_mode(WAL)", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis), "foreign_keys(1)", "synchronous(FULL)",
			fmt.Sprintf("journal_size_limit(%d)", lim.softPages*sqlitePageSize), "wal_autocheckpoint(0)"}, pragmas...) {
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
	s := &SQLite{sqlStore: &sqlStore{db: db, d: sqliteDialect, digests: newDigestCache(digestCacheBytes)}, wal: lim}
	// Transactions (ingest, heartbeats, enrolment) go through one writer
	// connection: SQLite has one writer at a time anyway, and queueing in
	// Go is first come, first served, where several connections contending
	// for the write lock sleep in SQLite's busy handler (1 ms, 2 ms, 5 ms …
	// 100 ms steps), which made the ingest p99 hundreds of milliseconds.
	//
	// The writer keeps its statement journals in memory (temp_store):
	// an upsert or delete inside the writer's transaction journals the
	// pages it changes so that it can be undone alone, and past 64 KiB
	// SQLite spilled that journal to a temporary file, a write system
	// call per page (14 % of the hub's CPU under a load of deltas). The
	// writer's statements are bounded (rows in chunks of 64, a
	// cluster's nodes, rules or images under their quotas), so the
	// journal is a few MiB at most. The readers' pool keeps SQLite's
	// default: a dashboard's sort of many rows may spill to disk.
	//
	// The writer also keeps a larger page cache (writerCachePages).
	if s.w, err = sql.Open("sqlite", dsn("immediate", "temp_store(MEMORY)", fmt.Sprintf("cache_size(%d)", writerCachePages))); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxIdleTime(0)
	s.w.SetConnMaxLifetime(0)
	if s.ck, err = sql.Open("sqlite", dsn("deferred")); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s.ck.SetMaxOpenConns(1)
	s.ck.SetMaxIdleConns(1)
	s.ck.SetConnMaxIdleTime(0)
	s.ck.SetConnMaxLifetime(0)
	if err := migrate(ctx, s.w, sqliteDialect, LatestSchemaVersion()); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	if err := s.prepareIngest(ctx, s.w); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s.walSync = newWALSyncer(path)
	s.startCommitters(1) // the one writer connection
	s.startHeartbeats()
	s.startSeen()
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.checkpoints() // after the committers, whose queue it reads
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

// Close stops the checkpoints and closes the database.
func (s *SQLite) Close() error {
	s.stopOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
		if s.ck != nil {
			s.stopErr = s.ck.Close()
		}
		if s.w == nil { // opening failed before the writer
			s.stopErr = errors.Join(s.stopErr, s.db.Close())
		}
	})
	if s.w == nil {
		return s.stopErr
	}
	return errors.Join(s.stopErr, s.sqlStore.Close())
}

// writerCachePages is the writer connection's page cache, in pages
// (SQLite's default is 2 MB, about 500 pages). With the default, under a
// load of deltas to 100 clusters (bench/hub TestSQLiteDeltaWriter) the
// writer read most pages it touched back from the operating system's
// cache, a pread system call each (11 % of the process's CPU), and a
// group that dirtied more pages than the cache spilled them into the WAL
// before its commit (9 %). The pages are allocated as they are read,
// outside Go's heap, and take about twice their size in RSS: 16,384
// pages took the hub's RSS under hubload from 172 to 299 MiB, so 8,192
// (32 MiB of pages). Only the one writer connection has it: the readers'
// pool keeps the default. The cache is kept from one transaction to the
// next as long as only the writer writes (SQLite drops it when another
// connection's commit changed the WAL).
const writerCachePages = 8192

var sqliteDialect = dialect{name: "sqlite", blob: "BLOB", maxParams: 32000}
