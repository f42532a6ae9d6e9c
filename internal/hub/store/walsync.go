package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// The committer's WAL sync, off the writer (SQLite; issue #17).
//
// With synchronous=FULL the one writer connection syncs the WAL inside
// every commit: while the disk flushes (about 1 ms on this machine's disk
// when quiet, 10–300 ms when other processes write), the writer applies
// nothing, and every report that arrives meanwhile queues behind it. A
// committer's group now commits with synchronous=NORMAL (SQLite appends
// the group's frames to the WAL and makes them visible, without a sync)
// and hands the group to the syncer, which syncs the WAL file
// (fdatasync) and only then answers the group's items. The writer goes
// on with the next group while the disk flushes; one sync covers every
// group committed before it started.
//
// Durability is the same as FULL's for what the hub answers: a report
// answered 200 was committed before a sync of the WAL that returned
// without error, and the WAL is append-only between restarts (a restart
// starts it over only after a checkpoint copied and synced everything in
// it into the database, and SQLite syncs the new header), so SQLite's
// recovery after a power loss replays it. What differs is visibility:
// readers (the dashboard) may see a group a few milliseconds before it is
// on the disk; if the power fails in between, that group is lost as a
// FULL commit in progress would be, and its agents, never answered, send
// it again. Only the committers' groups and the heartbeat batcher's
// batches (hbbatch.go) take this path; every other write (enrolment,
// accounts, the readers' pool) still commits FULL.
//
// A failed sync leaves committed groups that may not be on the disk (on
// Linux the failed pages are marked clean): the store refuses every
// later group with that error, the way PostgreSQL stops on a failed WAL
// flush, until the hub is restarted. Answering them would acknowledge
// reports that a later power loss could take back, and their agents'
// resends would then be deduplicated against rows that are gone.

// walSyncer syncs the SQLite WAL for the committer (see above).
type walSyncer struct {
	// path is the WAL file (the database's path + "-wal").
	path string
	// in are what to do once the WAL is synced past the commits made
	// before (after).
	in   chan func(error)
	done chan struct{}
	// sync makes the WAL durable (syncWAL; tests replace it).
	sync func() error
	// dirIno is the WAL's inode whose directory entry was last synced
	// (the syncer's goroutine only): a new WAL file's name must be on
	// the disk too.
	dirIno uint64
	// failed holds the first sync error; then every group is refused.
	failed atomic.Pointer[error]
	// syncs counts the syncs, syncNanos their time.
	syncs, syncNanos atomic.Int64
}

// walSyncQueue bounds the groups committed and not yet synced: beyond
// it the writer waits for the disk, as with FULL.
const walSyncQueue = 8

func newWALSyncer(dbPath string) *walSyncer {
	w := &walSyncer{path: dbPath + "-wal", in: make(chan func(error), walSyncQueue), done: make(chan struct{})}
	w.sync = w.syncWAL
	go w.loop()
	return w
}

// err is the sync failure that stopped the store's commits, or nil.
func (w *walSyncer) err() error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// after runs answer, on the syncer's goroutine, once a sync of the WAL
// that started after this call has returned (its error, or the one that
// stopped the store): the caller's transaction committed before it.
// Answers run in the order given.
func (w *walSyncer) after(answer func(error)) { w.in <- answer }

// stop answers what was handed and ends the syncer (after the
// committers have stopped).
func (w *walSyncer) stop() {
	close(w.in)
	<-w.done
}

func (w *walSyncer) loop() {
	defer close(w.done)
	for answer := range w.in {
		answers := []func(error){answer}
		// Every group committed before this sync starts is covered by
		// it.
	more:
		for {
			select {
			case a, ok := <-w.in:
				if !ok {
					break more
				}
				answers = append(answers, a)
			default:
				break more
			}
		}
		err := w.err()
		if err == nil {
			start := time.Now()
			err = w.sync()
			w.syncs.Add(1)
			w.syncNanos.Add(int64(time.Since(start)))
			if err != nil {
				err = fmt.Errorf("sync %s: %w (the store refuses reports until the hub restarts)", w.path, err)
				w.failed.CompareAndSwap(nil, &err)
			}
		}
		for _, a := range answers {
			a(err)
		}
	}
}

// syncWAL makes the WAL file's data durable (fdatasync where there is
// one), and its directory entry the first time a WAL file is synced.
// The file is opened for each sync, so the sync is always of the file
// SQLite writes now, never of one it removed.
func (w *walSyncer) syncWAL() error {
	f, err := os.Open(w.path)
	if err != nil {
		return err
	}
	defer f.Close()
	ino, err := fileIno(f)
	if err != nil {
		return err
	}
	if err := dataSync(f); err != nil {
		return err
	}
	if ino != 0 && ino == w.dirIno {
		return nil
	}
	d, err := os.Open(filepath.Dir(w.path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	w.dirIno = ino
	return nil
}

// groupTx runs a committer's group in a transaction. On SQLite with a
// WAL syncer, it runs on the writer's connection with synchronous=NORMAL
// for the transaction only (the syncer syncs it), FULL again before the
// connection goes back to the other writers; otherwise it is txCopy.
func (s *sqlStore) groupTx(ctx context.Context, fn func(*sql.Tx, copyFunc) error) (err error) {
	if s.walSync == nil {
		return s.txCopy(ctx, fn)
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("writer connection: %w", err)
	}
	defer func() {
		if _, rerr := conn.ExecContext(ctx, "PRAGMA synchronous = FULL"); rerr != nil {
			// Never hand a connection left NORMAL to the others:
			// discard it.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("synchronous = FULL: %w", rerr))
		}
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return fmt.Errorf("synchronous = NORMAL: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx, nil); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
