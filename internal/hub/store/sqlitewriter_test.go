package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestWriterPageCache: the SQLite writer's connection keeps
// WriterCachePages pages cached (a delta's pages would otherwise be read
// back from the operating system one system call each and spilled into
// the WAL before the commit); the readers keep SQLite's default.
func TestWriterPageCache(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		pool string
		want int64
	}{
		{"writer", store.WriterCachePages},
		{"readers", -2000},
		{"checkpointer", -2000},
	} {
		if v, err := store.SQLitePragma(s, tc.pool, "cache_size"); err != nil || v != tc.want {
			t.Errorf("%s: cache_size = %d (%v), want %d", tc.pool, v, err, tc.want)
		}
	}
	if store.WriterCachePages <= 2000*1024/4096 {
		t.Errorf("the writer's cache of %d pages is no larger than SQLite's default", store.WriterCachePages)
	}
}

// TestWALRestartsWithoutHoldingWriter: when the WAL reaches its soft
// limit and the PASSIVE checkpoints beside the writer copy all of it,
// the writer's next transaction starts the WAL over by itself: no
// RESTART checkpoint holds the writer's connection (Restarts stays 0
// below the midpoint of the limits), and the WAL file is truncated to
// the soft limit all the same.
func TestWALRestartsWithoutHoldingWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	const soft = 64
	s, err := store.OpenSQLiteWAL(ctx, path, 5*time.Millisecond, soft, 1<<20, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enrolled(t, s, "edge", "ag")
	// Past the soft limit: reports of 40 pods rewritten each time.
	seq := uint64(0)
	for walSize(t, path) < 4*soft*walFrameBytes {
		seq++
		if _, err := s.Ingest(ctx, "ag", rolloutEnv(seq, "ag", 40), t0); err != nil {
			t.Fatal(err)
		}
	}
	// Small reports, one at a time, until the WAL has restarted and its
	// file was truncated to the soft limit (journal_size_limit).
	deadline := time.Now().Add(60 * time.Second)
	for walSize(t, path) > soft*4096 && time.Now().Before(deadline) {
		seq++
		if _, err := s.Ingest(ctx, "ag", rolloutEnv(seq, "ag", 1), t0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := s.WALStats()
	t.Logf("after %d reports: WAL %d bytes; %+v", seq, walSize(t, path), st)
	if n := walSize(t, path); n > soft*4096 {
		t.Fatalf("the WAL is still %d bytes (soft limit %d bytes)", n, soft*4096)
	}
	if st.FreeRestarts == 0 {
		t.Error("no WAL copied whole at the soft limit (FreeRestarts 0)")
	}
	if st.Restarts != 0 || st.WriterPause != 0 {
		t.Errorf("%d RESTART checkpoints held the writer %v below the midpoint of the limits", st.Restarts, st.WriterPause)
	}
	if n, err := s.CountFindings(ctx, store.FindingQuery{}); err != nil || n != 40*3 {
		t.Errorf("CountFindings = %d (%v), want %d", n, err, 40*3)
	}
}
