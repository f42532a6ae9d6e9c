package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// walFrameBytes is a WAL frame: a 4 KiB page and its 24-byte header.
const walFrameBytes = 4096 + 24

// rolloutEnv is a delta that rewrites the findings of objects pods
// (their messages carry seq, so every report changes every row).
func rolloutEnv(seq uint64, agent string, pods int) *fleetapi.Envelope {
	objs := make([]fleetapi.ObjectFindings, pods)
	for i := range objs {
		objs[i] = objFindings("Pod", agent, fmt.Sprintf("p%d", i), "r1", "r2", "r3")
		for j := range objs[i].Findings {
			objs[i].Findings[j].Message = fmt.Sprintf("seq %d of %s", seq, objs[i].Findings[j].Message)
		}
	}
	return findingsEnv(seq, false, objs...)
}

// walSize is the size of the database's WAL file (0 when there is none).
func walSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path + "-wal")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Error(err)
		return 0
	}
	return fi.Size()
}

// TestWALBoundedUnderWriteLoad: with writers that never pause, a PASSIVE
// checkpoint beside them never catches up and the WAL never restarts by
// itself; the checkpointer restarts it between two transactions, so its
// file stays under the hard limit however much is written (here about
// ten times that limit), while readers read beside the writer.
func TestWALBoundedUnderWriteLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	const soft, hard = 64, 1024
	s, err := store.OpenSQLiteWAL(ctx, path, 5*time.Millisecond, soft, hard, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const agents, reports = 8, 60
	for a := range agents {
		enrolled(t, s, fmt.Sprintf("edge-%d", a), fmt.Sprintf("ag-%d", a))
	}
	var maxWAL atomic.Int64
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() { // the WAL's size, sampled
		for {
			if n := walSize(t, path); n > maxWAL.Load() {
				maxWAL.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	bg.Go(func() { // readers, as the agents' certificate lookups and the dashboard
		for {
			if _, err := s.CountFindings(ctx, store.FindingQuery{}); err != nil {
				t.Error(err)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	})
	var writers sync.WaitGroup
	for a := range agents {
		writers.Go(func() {
			agent := fmt.Sprintf("ag-%d", a)
			for seq := uint64(1); seq <= reports; seq++ {
				if applied, err := s.Ingest(ctx, agent, rolloutEnv(seq, agent, 40), t0); err != nil || !applied {
					t.Errorf("%s seq %d: applied %v, %v", agent, seq, applied, err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	bg.Wait()
	st := s.WALStats()
	t.Logf("WAL at most %d bytes (hard limit %d); %d frames copied by checkpoints; %d restarts (%d busy), writer held %v in all, %v at most; %d commits of %d items",
		maxWAL.Load(), hard*walFrameBytes, st.FramesCopied, st.Restarts, st.RestartsBusy, st.WriterPause, st.MaxWriterPause, st.Commits, st.CommittedItems)
	if st.FramesCopied < 4*hard {
		t.Fatalf("the checkpoints copied %d frames, too few to test a bound of %d", st.FramesCopied, hard)
	}
	// The bound: the hard limit, and what the writers append during the
	// checkpointer's interval before it sees the limit (much less here).
	if got := maxWAL.Load(); got > 2*int64(hard)*walFrameBytes {
		t.Errorf("WAL grew to %d bytes, over twice the hard limit of %d pages (%d bytes)", got, hard, hard*walFrameBytes)
	}
	if st.Restarts+st.FreeRestarts == 0 {
		t.Error("no restart of the WAL under a steady write load")
	}
	if n, err := s.CountFindings(ctx, store.FindingQuery{}); err != nil || n != agents*40*3 {
		t.Errorf("CountFindings = %d (%v), want %d", n, err, agents*40*3)
	}
}

// TestCheckpointDoesNotWaitOnLongReaders: a reader that keeps an old
// snapshot open stops the WAL from restarting; the checkpointer's
// restarts then give up after restartWait instead of holding the writer,
// so reports keep being applied while the WAL grows, and once the reader
// ends the WAL restarts and its file is truncated to the soft limit
// (journal_size_limit).
func TestCheckpointDoesNotWaitOnLongReaders(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	const soft, hard = 32, 1 << 20
	s, err := store.OpenSQLiteWAL(ctx, path, 5*time.Millisecond, soft, hard, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enrolled(t, s, "edge", "ag")
	// A dashboard read that does not end: its own connection, in a read
	// transaction on the snapshot of now.
	rdb, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	rtx, err := rdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rtx.QueryRow(`SELECT COUNT(*) FROM agents`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// The writes must not wait for that reader: a restart that waited
	// up to the busy timeout (15 s) each time would hold them for minutes.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	seq := uint64(0)
	for walSize(t, path) < 8*soft*walFrameBytes {
		seq++
		if applied, err := s.Ingest(wctx, "ag", rolloutEnv(seq, "ag", 20), t0); err != nil || !applied {
			t.Fatalf("seq %d with a reader open: applied %v, %v", seq, applied, err)
		}
	}
	// A restart must have been tried while the reader held the WAL.
	for s.WALStats().RestartsBusy == 0 {
		select {
		case <-wctx.Done():
			t.Fatal("no restart tried while the reader held the WAL")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := rtx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// The reader gone, the next restart succeeds and the transaction
	// after it truncates the file.
	for walSize(t, path) > soft*walFrameBytes {
		seq++
		if _, err := s.Ingest(wctx, "ag", rolloutEnv(seq, "ag", 1), t0); err != nil {
			t.Fatalf("seq %d after the reader: %v", seq, err)
		}
		select {
		case <-wctx.Done():
			t.Fatalf("WAL still %d bytes a minute after the reader ended (soft limit %d pages)", walSize(t, path), soft)
		case <-time.After(5 * time.Millisecond):
		}
	}
	// The writes stopped once the file held 8*soft frames, and a
	// checkpoint may have seen exactly that many: at least, not more.
	if st := s.WALStats(); st.MaxWALFrames < 8*soft {
		t.Errorf("the WAL's longest length was %d frames while a reader held it, want at least %d", st.MaxWALFrames, 8*soft)
	}
}

// TestCommittedReportSurvivesCrash: a report the store said it applied
// is in the WAL when Ingest returns, so a crash before any checkpoint
// (here: the database and WAL files copied while the store is open)
// loses nothing; and the writer runs synchronous=FULL, which in WAL mode
// syncs the WAL at every commit, so it is on the disk too (NORMAL would
// leave the last commits to the next checkpoint's sync: lost on power
// loss).
func TestCommittedReportSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.db")
	// No checkpoint runs while the test writes (an hour's interval).
	s, err := store.OpenSQLiteWAL(ctx, path, time.Hour, 1<<20, 1<<20, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, pool := range []string{"writer", "readers", "checkpointer"} {
		// Writes outside the writer's transactions (an API token's last
		// use) go through the readers' pool: FULL there too, and no
		// connection checkpoints at its commits.
		if v, err := store.SQLitePragma(s, pool, "synchronous"); err != nil || v != 2 {
			t.Errorf("%s: synchronous = %d (%v), want 2 (FULL)", pool, v, err)
		}
		if v, err := store.SQLitePragma(s, pool, "wal_autocheckpoint"); err != nil || v != 0 {
			t.Errorf("%s: wal_autocheckpoint = %d (%v), want 0 (checkpoints by the checkpointer only)", pool, v, err)
		}
	}
	c := enrolled(t, s, "edge", "ag")
	const reports = 5
	for seq := uint64(1); seq <= reports; seq++ {
		if applied, err := s.Ingest(ctx, "ag", rolloutEnv(seq, "ag", int(seq)), t0); err != nil || !applied {
			t.Fatalf("seq %d: applied %v, %v", seq, applied, err)
		}
	}
	if walSize(t, path) == 0 {
		t.Fatal("no WAL: the test would not exercise recovery from it")
	}
	crashed := filepath.Join(t.TempDir(), "hub.db")
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, path+suffix, crashed+suffix)
	}
	r, err := store.OpenSQLite(ctx, crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID}); err != nil || n != reports*3 {
		t.Errorf("after the crash: %d findings (%v), want %d", n, err, reports*3)
	}
	if a, err := r.GetAgent(ctx, "ag"); err != nil || a.LastSeq != reports {
		t.Errorf("after the crash: last seq %d (%v), want %d", a.LastSeq, err, reports)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointFailuresLogged: checkpoints that fail (here their
// connection is gone; in production a full disk or a read-only file) are
// counted and logged with their cause, once and not at every interval.
func TestCheckpointFailuresLogged(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLiteWAL(ctx, filepath.Join(t.TempDir(), "hub.db"), 2*time.Millisecond, 64, 1024, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logFile, err := os.Create(filepath.Join(t.TempDir(), "hub.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.SetLogger(slog.New(slog.NewJSONHandler(logFile, nil)))
	if err := store.BreakCheckpointer(s); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.WALStats().Errors < 10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.WALStats().Errors; n < 10 {
		t.Fatalf("%d checkpoint errors counted, want at least 10", n)
	}
	out, err := os.ReadFile(logFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	logged := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(logged) != 1 || !strings.Contains(logged[0], `"level":"ERROR"`) || !strings.Contains(logged[0], "wal_checkpoint(PASSIVE)") {
		t.Fatalf("log after %d failures:\n%s\nwant one error naming the checkpoint and its cause", s.WALStats().Errors, out)
	}
}

// TestRestartWithLargeWAL: a hub that stopped with a long WAL (a crash,
// or checkpoints failing) reopens with every committed report, and its
// checkpointer brings the WAL file back under the soft limit.
func TestRestartWithLargeWAL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.db")
	// No checkpoints: the WAL keeps every frame.
	s, err := store.OpenSQLiteWAL(ctx, path, time.Hour, 1<<20, 1<<21, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	enrolled(t, s, "edge", "ag")
	const reports, pods = 30, 40
	for seq := uint64(1); seq <= reports; seq++ {
		if _, err := s.Ingest(ctx, "ag", rolloutEnv(seq, "ag", pods), t0); err != nil {
			t.Fatal(err)
		}
	}
	// The files as a crash leaves them: the database and its WAL, copied
	// while the store is open and idle.
	crashed := filepath.Join(t.TempDir(), "hub.db")
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, path+suffix, crashed+suffix)
	}
	s.Close()
	const soft = 64
	crashedWAL := walSize(t, crashed)
	if crashedWAL < 8*soft*walFrameBytes {
		t.Fatalf("the crashed WAL is %d bytes, too short to test", crashedWAL)
	}
	s, err = store.OpenSQLiteWAL(ctx, crashed, 5*time.Millisecond, soft, 1024, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.CountFindings(ctx, store.FindingQuery{}); err != nil || n != pods*3 {
		t.Fatalf("after the restart CountFindings = %d (%v), want %d", n, err, pods*3)
	}
	// The WAL file is truncated when the writer starts it again, after
	// a RESTART checkpoint: reports keep coming.
	deadline := time.Now().Add(60 * time.Second)
	seq := uint64(reports)
	for walSize(t, crashed) > soft*4096 && time.Now().Before(deadline) {
		seq++
		if _, err := s.Ingest(ctx, "ag", rolloutEnv(seq, "ag", 1), t0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := walSize(t, crashed); n > soft*4096 {
		t.Fatalf("the WAL is still %d bytes after %d reports (soft limit %d bytes); %+v", n, seq-reports, soft*4096, s.WALStats())
	}
	t.Logf("a WAL of %d bytes at the restart: %d bytes after %d reports; %d restarts", crashedWAL, walSize(t, crashed), seq-reports, s.WALStats().Restarts)
	if n, err := s.CountFindings(ctx, store.FindingQuery{}); err != nil || n != pods*3 {
		t.Fatalf("CountFindings = %d (%v), want %d", n, err, pods*3)
	}
}
