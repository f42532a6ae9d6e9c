package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// WAL checkpoints on SQLite (issue #17).
//
// A checkpoint copies the pages the WAL holds into the database file and
// syncs it; then, once no reader still needs the WAL's frames, the next
// write transaction starts the WAL again from its beginning. Run by the
// writer's own commits (SQLite's auto-checkpoint), it made every few
// hundredth report wait for copying and syncing megabytes: the p99 of a
// SQLite hub was 120–250 ms at 100 reports/s.
//
// Here the writer never checkpoints (wal_autocheckpoint=0). Every
// walLimits.every the checkpointer runs a PASSIVE checkpoint on its own
// connection, beside the writer: it copies what is committed and never
// waits for or blocks the writer or a reader. Under a steady write load,
// though, a PASSIVE checkpoint never catches up — the writer appends
// frames while it copies — so the WAL would never restart and would grow
// without bound. When it holds softPages frames or more, the
// checkpointer first runs a few more PASSIVE checkpoints beside the
// writer; if they copy every frame (the writer committed nothing
// meanwhile), the writer's next transaction starts the WAL again by
// itself, never held (FreeRestarts). Otherwise, after freeTries
// intervals over softPages or past the midpoint of softPages and
// hardPages, and when no report waits for the writer, the
// checkpointer takes the writer's connection between two transactions
// (the committers queue for it in Go meanwhile) and runs a RESTART
// checkpoint on it: only the frames appended since the PASSIVE ones are
// left to copy and sync, and the next transaction starts the WAL again
// (the file is truncated to journal_size_limit). A writer never idle is
// held at hardPages whatever waits. The writer is held for that copy and the
// database file's sync: milliseconds on an idle disk, but a sync waits
// for whatever else the file system is writing (up to seconds on the
// shared benchmark machine). The RESTART waits at most
// restartWait for readers still using the WAL's frames (a long dashboard
// read); if they outlast it, the WAL keeps growing until hardPages, where
// the RESTART waits for them as long as the busy timeout allows (15 s).
// So the WAL is bounded by hardPages plus what the writer appends during
// one checkpoint interval, unless a single read outlasts the busy timeout.

// sqlitePageSize is SQLite's default page size, which the hub's
// databases use (a WAL frame is a page and a 24-byte header).
const sqlitePageSize = 4096

type walLimits struct {
	// every is the interval of the PASSIVE checkpoints.
	every time.Duration
	// softPages: frames at which the WAL is restarted between two
	// writer transactions, waiting at most restartWait for readers.
	softPages   int
	restartWait time.Duration
	// hardPages: frames at which the restart waits for readers up to the
	// busy timeout.
	hardPages int
}

// defaultWALLimits: the WAL is restarted at 64 MiB (about 20 s of
// writes at 500 delta reports/s; each restart holds the writer, so the
// fewer the better for the tail, and a longer WAL costs only disk), and
// at 256 MiB whatever waits.
var defaultWALLimits = walLimits{
	every:       250 * time.Millisecond,
	softPages:   16384,
	restartWait: 20 * time.Millisecond,
	hardPages:   65536,
}

// At the soft limit, PASSIVE checkpoints run again (at most maxCatchUp
// times) until no frame is left to copy.
const maxCatchUp = 4

// freeTries are the checkpoint intervals over the soft limit in which
// only the catch-ups try to leave the WAL copied whole (a restart that
// does not hold the writer) before a RESTART may hold it.
const freeTries = 8

// busyTimeoutMillis is every connection's busy_timeout (OpenSQLite).
const busyTimeoutMillis = 15000

// walCounters are the checkpointer's figures since the store opened.
type walCounters struct {
	passive, passiveNanos, copied     atomic.Int64
	restarts, forced, restartBusy     atomic.Int64
	freeRestarts                      atomic.Int64
	pauseNanos, maxPauseNanos         atomic.Int64
	frames, maxFrames, checkpointErrs atomic.Int64
}

// WALStats are a SQLite store's checkpoint figures since it opened (the
// hub's metrics palisade_hub_sqlite_*).
type WALStats struct {
	// PassiveCheckpoints ran beside the writer and took PassiveTime.
	PassiveCheckpoints int64
	PassiveTime        time.Duration
	// FramesCopied into the database by all checkpoints.
	FramesCopied int64
	// Restarts held the writer's connection (WriterPause in all, the
	// longest MaxWriterPause); Forced of them waited for readers up to
	// the busy timeout (hard limit); RestartsBusy ended with readers
	// still on the WAL.
	Restarts, Forced, RestartsBusy int64
	// FreeRestarts are the times the WAL reached its soft limit and the
	// PASSIVE checkpoints copied all of it: the writer then starts it
	// over by itself at its next transaction, without being held.
	FreeRestarts                int64
	WriterPause, MaxWriterPause time.Duration
	// WALFrames is the WAL's length at the last checkpoint, MaxWALFrames
	// the longest seen (a frame is a 4 KiB page).
	WALFrames, MaxWALFrames int64
	// Errors of checkpoints (retried at the next interval).
	Errors int64
	// Commits are the writer's group commits and CommittedItems the
	// items they applied (an agent's request of reports, or a
	// heartbeat).
	Commits, CommittedItems int64
	// CommitTimes are the writer's transactions' durations: the
	// writer's serial time. The WAL is synced after them, off the
	// writer (walsync.go).
	CommitTimes DurationCounts
	// WALSyncs are the syncs of the WAL after the group commits
	// (WALSyncTime in all), each covering the groups committed before
	// it; SyncFailed, the first that failed (the store refuses reports
	// since).
	WALSyncs    int64
	WALSyncTime time.Duration
	SyncFailed  bool
}

// WALStats returns the checkpoint and commit figures.
func (s *SQLite) WALStats() WALStats {
	c := &s.walStats
	st := WALStats{
		PassiveCheckpoints: c.passive.Load(), PassiveTime: time.Duration(c.passiveNanos.Load()),
		FramesCopied: c.copied.Load(),
		Restarts:     c.restarts.Load(), Forced: c.forced.Load(), RestartsBusy: c.restartBusy.Load(), FreeRestarts: c.freeRestarts.Load(),
		WriterPause: time.Duration(c.pauseNanos.Load()), MaxWriterPause: time.Duration(c.maxPauseNanos.Load()),
		WALFrames: c.frames.Load(), MaxWALFrames: c.maxFrames.Load(), Errors: c.checkpointErrs.Load(),
		Commits: s.groupCommits.Load(), CommittedItems: s.groupItems.Load(),
		CommitTimes: s.commitTimes.read(),
	}
	if ws := s.walSync; ws != nil {
		st.WALSyncs, st.WALSyncTime, st.SyncFailed = ws.syncs.Load(), time.Duration(ws.syncNanos.Load()), ws.err() != nil
	}
	return st
}

func (s *SQLite) checkpoints() {
	defer close(s.done)
	t := time.NewTicker(s.wal.every)
	defer t.Stop()
	ctx := context.Background()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.checkpoint(ctx)
		}
	}
}

// checkpoint runs one PASSIVE checkpoint and, when the WAL is still at
// its soft limit or more, a RESTART on the writer's connection.
func (s *SQLite) checkpoint(ctx context.Context) {
	c := &s.walStats
	start := time.Now()
	_, log, backfilled, err := walCheckpoint(ctx, s.ck, "PASSIVE")
	if err != nil {
		s.checkpointFailed(err) // retried at the next interval
		return
	}
	if backfilled > s.lastBackfilled || log < s.lastLog {
		c.passive.Add(1)
		c.passiveNanos.Add(int64(time.Since(start)))
	}
	s.noteFrames(log, backfilled)
	if log < int64(s.wal.softPages) {
		s.overSoft = 0
		s.checkpointRecovered()
		return
	}
	// At the soft limit, catch up beside the writer: at 100 reports/s
	// the WAL grows by about 16 MiB a second, a few hundred pages during
	// one PASSIVE checkpoint, so a few more leave little or nothing.
	for range maxCatchUp {
		if log == backfilled {
			break
		}
		if _, log, backfilled, err = walCheckpoint(ctx, s.ck, "PASSIVE"); err != nil {
			s.checkpointFailed(err)
			return
		}
		s.noteFrames(log, backfilled)
	}
	hard := log >= int64(s.wal.hardPages)
	if !hard && log == backfilled {
		// Every frame is in the database, which the checkpoint synced:
		// the writer's next transaction starts the WAL over by itself
		// (SQLite restarts a WAL whose frames are all copied when a
		// writer begins and no reader still uses its frames), and the
		// writer was never held. A RESTART checkpoint on the writer's
		// connection did the same while holding it, for the copy of the
		// last frames and the database file's sync: 159 ms each on
		// average (349 ms at most) at 200 reports/s on the shared
		// machine, the tail of those reports' latency.
		if s.overSoft >= 0 {
			c.freeRestarts.Add(1)
		}
		s.overSoft = -1 // counted once until the WAL is under the limit
		s.checkpointRecovered()
		return
	}
	// Otherwise the writer is held only after freeTries intervals over
	// the soft limit or past the midpoint of the soft and the hard limit
	// (the catch-ups above get those chances first), and when no report
	// waits for it: a restart's copy and sync then delay only what
	// arrives during it. A writer that is never idle is held at the hard
	// limit.
	s.overSoft = max(s.overSoft, 0) + 1
	mid := int64(s.wal.softPages+s.wal.hardPages) / 2
	if !hard && (log < mid && s.overSoft <= freeTries || s.commit != nil && !s.commit.idle()) {
		return
	}
	if err := s.restartWAL(ctx, hard); err != nil {
		s.checkpointFailed(err)
		return
	}
	s.checkpointRecovered()
}

// checkpointLogEvery is how often at most a checkpoint that keeps failing
// is logged again (with the failures since): a full disk or a read-only
// file fails every interval, four times a second.
const checkpointLogEvery = time.Minute

// SetLogger makes the checkpointer log its failures to l (the hub's
// logger); nil: slog.Default(). A failing checkpoint is counted
// (palisade_hub_sqlite_checkpoint_errors_total) and logged with its
// cause: the first failure at once, then at most once a checkpointLogEvery
// with the count since, and a recovery once checkpoints succeed again.
// Without it the WAL grows unseen until the disk is full.
func (s *SQLite) SetLogger(l *slog.Logger) { s.log.Store(l) }

func (s *SQLite) logger() *slog.Logger {
	if l := s.log.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// checkpointFailed counts and logs a failed checkpoint (the
// checkpointer's goroutine only).
func (s *SQLite) checkpointFailed(err error) {
	s.walStats.checkpointErrs.Add(1)
	s.failing++
	now := time.Now()
	if s.failing > 1 && now.Sub(s.failLogged) < checkpointLogEvery {
		return
	}
	s.failLogged = now
	s.logger().Error("sqlite WAL checkpoint failed; the WAL grows until a checkpoint succeeds (retried every interval)",
		"error", err.Error(), "failures", s.failing, "wal_pages", s.walStats.frames.Load())
}

// checkpointRecovered logs that checkpoints succeed again after failures.
func (s *SQLite) checkpointRecovered() {
	if s.failing == 0 {
		return
	}
	s.logger().Info("sqlite WAL checkpoints succeed again", "failures", s.failing, "wal_pages", s.walStats.frames.Load())
	s.failing, s.failLogged = 0, time.Time{}
}

// noteFrames records the WAL's length and the frames copied by a
// checkpoint, from what wal_checkpoint answers: the WAL's length and the
// frames of it copied so far (by this checkpoint and the earlier ones
// since the WAL restarted). Only the checkpointer's goroutine calls it.
func (s *SQLite) noteFrames(log, backfilled int64) {
	c := &s.walStats
	c.frames.Store(log)
	if log < s.lastLog || backfilled < s.lastBackfilled { // the WAL restarted since
		s.lastBackfilled = 0
	}
	c.copied.Add(backfilled - s.lastBackfilled)
	s.lastLog, s.lastBackfilled = log, backfilled
	storeMax(&c.maxFrames, log)
}

// restartWAL runs a RESTART checkpoint on the writer's connection,
// between two of its transactions; hard waits for readers up to the busy
// timeout instead of restartWait.
func (s *SQLite) restartWAL(ctx context.Context, hard bool) error {
	c := &s.walStats
	conn, err := s.w.Conn(ctx) // waits for the transaction in progress
	if err != nil {
		return fmt.Errorf("writer connection: %w", err)
	}
	defer conn.Close()
	start := time.Now()
	defer func() {
		d := int64(time.Since(start))
		c.pauseNanos.Add(d)
		storeMax(&c.maxPauseNanos, d)
	}()
	c.restarts.Add(1)
	if hard {
		c.forced.Add(1)
	} else {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", s.wal.restartWait.Milliseconds())); err != nil {
			return fmt.Errorf("busy timeout: %w", err)
		}
		// A failure here leaves the shorter timeout, which only makes
		// the writer's rare waits for the write lock shorter.
		defer func() { _, _ = conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeoutMillis)) }()
	}
	busy, log, backfilled, err := walCheckpoint(ctx, conn, "RESTART")
	if err != nil {
		return err
	}
	if busy {
		c.restartBusy.Add(1)
	}
	s.noteFrames(log, backfilled)
	return nil
}

// execQuerier is a *sql.DB or *sql.Conn.
type execQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// walCheckpoint runs PRAGMA wal_checkpoint(mode): busy when it could not
// finish (a reader or writer in the way), the WAL's length in frames and
// the frames of it copied into the database so far.
func walCheckpoint(ctx context.Context, q execQuerier, mode string) (busy bool, log, backfilled int64, err error) {
	var b int
	if err := q.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&b, &log, &backfilled); err != nil {
		return false, 0, 0, fmt.Errorf("wal_checkpoint(%s): %w", mode, err)
	}
	// -1 when the database is not in WAL mode (an in-memory one).
	return b != 0, max(log, 0), max(backfilled, 0), nil
}
