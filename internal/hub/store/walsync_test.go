package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestReportAnsweredAfterWALSync: the committer's groups commit without
// syncing the WAL and the syncer syncs it off the writer; a report is
// answered only once a sync that started after its commit has returned.
// Each sync here first copies the database and the WAL (the state a power
// loss at that moment would leave, had the sync not run), then syncs:
// every report answered is in the copy taken by a sync before its answer,
// none is answered while that sync is held, and the writer's connection
// is back at synchronous=FULL for the other writers between the groups.
func TestReportAnsweredAfterWALSync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.db")
	s, err := store.OpenSQLiteWAL(ctx, path, time.Hour, 1<<20, 1<<20, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// quit frees a sync still held when the test ends (before Close).
	quit := make(chan struct{})
	defer close(quit)
	c := enrolled(t, s, "edge", "ag")
	entered, release := make(chan string), make(chan struct{})
	var n atomic.Int64
	store.WrapWALSync(s, func(sync func() error) error {
		n.Add(1)
		// (On the syncer's goroutine: no t.Fatal here; a failed copy
		// is a failed sync, which the test reports.)
		crashed := filepath.Join(dir, fmt.Sprintf("crash-%d.db", n.Load()))
		for _, suffix := range []string{"", "-wal"} {
			if err := copyPlain(path+suffix, crashed+suffix); err != nil {
				return err
			}
		}
		select {
		case entered <- crashed:
		case <-quit:
			return sync()
		}
		select {
		case <-release:
		case <-quit:
		}
		return sync()
	})
	const reports = 4
	for seq := uint64(1); seq <= reports; seq++ {
		answered := make(chan error, 1)
		go func() {
			applied, err := s.Ingest(ctx, "ag", rolloutEnv(seq, "ag", int(seq)), t0)
			if err == nil && !applied {
				err = errors.New("not applied")
			}
			answered <- err
		}()
		var crashed string
		select {
		case crashed = <-entered:
		case err := <-answered:
			t.Fatalf("seq %d answered (%v) without a WAL sync", seq, err)
		}
		// The sync is held: the report must not be answered. (A
		// broken order shows here; the wait bounds the test, it asserts
		// no timing.)
		select {
		case err := <-answered:
			t.Fatalf("seq %d answered (%v) while its WAL sync had not returned", seq, err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		if err := <-answered; err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		release = make(chan struct{})
		r, err := store.OpenSQLite(ctx, crashed)
		if err != nil {
			t.Fatal(err)
		}
		a, err := r.GetAgent(ctx, "ag")
		r.Close()
		if err != nil || a.LastSeq != seq {
			t.Fatalf("seq %d: the WAL as its sync began holds last seq %d (%v): the report was answered before it was committed to the WAL", seq, a.LastSeq, err)
		}
		if v, err := store.SQLitePragma(s, "writer", "synchronous"); err != nil || v != 2 {
			t.Fatalf("after seq %d: the writer's synchronous = %d (%v), want 2 (FULL) between the groups", seq, v, err)
		}
	}
	// The writer's statement journals stay in memory (sqlite.go); the
	// readers keep the default.
	if v, err := store.SQLitePragma(s, "writer", "temp_store"); err != nil || v != 2 {
		t.Errorf("writer: temp_store = %d (%v), want 2 (MEMORY)", v, err)
	}
	if v, err := store.SQLitePragma(s, "readers", "temp_store"); err != nil || v != 0 {
		t.Errorf("readers: temp_store = %d (%v), want 0 (the default)", v, err)
	}
	if n := n.Load(); n != reports {
		t.Errorf("%d WAL syncs for %d reports one at a time, want one each", n, reports)
	}
	if st := s.WALStats(); st.WALSyncs != reports || st.SyncFailed {
		t.Errorf("WALStats: %d syncs, failed %v; want %d, false", st.WALSyncs, st.SyncFailed, reports)
	}
	if n, err := s.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID}); err != nil || n != reports*3 {
		t.Errorf("%d findings (%v), want %d", n, err, reports*3)
	}
}

// TestWALSyncFailureStopsReports: a report whose WAL sync fails is
// answered with the error, not as applied, and every later report is
// refused (it could not be made durable either, and its agent's resends
// would be deduplicated against rows a power loss may take back), while
// reads go on.
func TestWALSyncFailureStopsReports(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLiteWAL(ctx, filepath.Join(t.TempDir(), "hub.db"), time.Hour, 1<<20, 1<<20, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := enrolled(t, s, "edge", "ag")
	if applied, err := s.Ingest(ctx, "ag", rolloutEnv(1, "ag", 1), t0); err != nil || !applied {
		t.Fatalf("seq 1: %v, %v", applied, err)
	}
	if err := s.WriteFailure(); err != nil {
		t.Fatalf("WriteFailure before any failed sync: %v", err)
	}
	broken := errors.New("EIO")
	store.WrapWALSync(s, func(func() error) error { return broken })
	for seq := uint64(2); seq <= 3; seq++ {
		applied, err := s.Ingest(ctx, "ag", rolloutEnv(seq, "ag", 1), t0)
		if applied || !errors.Is(err, broken) {
			t.Fatalf("seq %d after a failed sync: applied %v, %v; want the sync's error", seq, applied, err)
		}
	}
	if st := s.WALStats(); !st.SyncFailed || st.WALSyncs != 2 {
		t.Errorf("WALStats: failed %v after %d syncs; want true after 2 (the third report refused before it is applied)", st.SyncFailed, st.WALSyncs)
	}
	if err := s.WriteFailure(); !errors.Is(err, broken) {
		t.Errorf("WriteFailure after a failed sync: %v, want the sync's error (readiness reports it)", err)
	}
	if _, err := s.GetCluster(ctx, c.ID); err != nil {
		t.Errorf("reads after a failed sync: %v", err)
	}
	// Seq 2 was committed before its sync failed; seq 3 was never
	// applied.
	if a, err := s.GetAgent(ctx, "ag"); err != nil || a.LastSeq != 2 {
		t.Errorf("last seq %d (%v), want 2: a report was applied after the failed sync", a.LastSeq, err)
	}
}

// TestWALSyncStoresTheSame: random report sequences of several agents
// sent at once (so that groups form and commit while earlier ones are
// being synced) leave exactly the rows (every column), counters, rows
// count, last applied Seq and answers of a store whose commits sync the
// WAL themselves.
func TestWALSyncStoresTheSame(t *testing.T) {
	ctx := context.Background()
	open := func(sync bool) *store.SQLite {
		s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if !sync {
			store.DisableWALSync(s)
		}
		return s
	}
	synced, inCommit := open(true), open(false)
	const agents, steps = 6, 40
	type answer struct {
		applied []bool
		err     string
	}
	run := func(s *store.SQLite) [][]answer {
		out := make([][]answer, agents)
		var wg sync.WaitGroup
		for a := range agents {
			enrolled(t, s, fmt.Sprintf("edge-%d", a), fmt.Sprintf("ag-%d", a))
		}
		for a := range agents {
			wg.Go(func() {
				m := &digestModel{rng: rand.New(rand.NewPCG(uint64(a), 17)), objects: map[string][]finding.Finding{}}
				for range 12 {
					m.newObject()
				}
				now, seq := t0, uint64(0)
				var last []*fleetapi.Envelope
				for range steps {
					now = now.Add([]time.Duration{0, time.Minute, 61 * time.Minute}[m.rng.IntN(3)])
					var envs []*fleetapi.Envelope
					if m.rng.IntN(8) == 0 && last != nil {
						envs = last // a resend: every report a replay
					} else {
						for range 1 + m.rng.IntN(3) {
							seq++
							envs = append(envs, &fleetapi.Envelope{Seq: seq, Time: now, Kind: fleetapi.KindFindings, Findings: m.report()})
						}
					}
					last = envs
					applied, err := s.IngestBatch(ctx, fmt.Sprintf("ag-%d", a), envs, now)
					msg := ""
					if err != nil {
						msg = err.Error()
					}
					out[a] = append(out[a], answer{applied, msg})
				}
			})
		}
		wg.Wait()
		return out
	}
	got, want := run(synced), run(inCommit)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("answers differ:\nsynced off the writer %v\nsynced in the commit %v", got, want)
	}
	for a := range agents {
		name := fmt.Sprintf("edge-%d", a)
		cs, cw := clusterByName(t, synced, name), clusterByName(t, inCommit, name)
		gr, wr := store.AllFindingRows(t, synced, cs.ID), store.AllFindingRows(t, inCommit, cw.ID)
		if !reflect.DeepEqual(gr, wr) {
			t.Fatalf("%s: %d rows, %d synced in the commit; first difference: %s", name, len(gr), len(wr), firstDiff(gr, wr))
		}
		if !reflect.DeepEqual(cs.Findings, cw.Findings) || cs.FindingRows != cw.FindingRows {
			t.Fatalf("%s: counters %v (%d rows), synced in the commit %v (%d)", name, cs.Findings, cs.FindingRows, cw.Findings, cw.FindingRows)
		}
		as, err1 := synced.GetAgent(ctx, fmt.Sprintf("ag-%d", a))
		aw, err2 := inCommit.GetAgent(ctx, fmt.Sprintf("ag-%d", a))
		if err1 != nil || err2 != nil || as.LastSeq != aw.LastSeq || as.LastSeq == 0 {
			t.Fatalf("%s: last seq %d (%v), synced in the commit %d (%v)", name, as.LastSeq, err1, aw.LastSeq, err2)
		}
	}
	st := synced.WALStats()
	if st.WALSyncs == 0 || st.Commits == 0 {
		t.Fatalf("%d WAL syncs for %d commits: the syncer did not run", st.WALSyncs, st.Commits)
	}
	if w := inCommit.WALStats(); w.WALSyncs != 0 {
		t.Fatalf("the store syncing in its commits counted %d syncs off the writer", w.WALSyncs)
	}
	t.Logf("%d group commits of %d items, %d WAL syncs", st.Commits, st.CommittedItems, st.WALSyncs)
}

// clusterByName is the cluster of that name in s.
func clusterByName(t *testing.T, s store.Store, name string) store.Cluster {
	t.Helper()
	cs, err := s.ListClusters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s", name)
	return store.Cluster{}
}

// copyPlain copies a file (for goroutines other than the test's).
func copyPlain(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// TestHeartbeatAnsweredAfterWALSync: a full heartbeat, applied by the
// heartbeat batcher, is answered only after a sync of the WAL that began
// once it was committed, as a report is.
func TestHeartbeatAnsweredAfterWALSync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.db")
	s, err := store.OpenSQLiteWAL(ctx, path, time.Hour, 1<<20, 1<<20, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	quit := make(chan struct{})
	defer close(quit)
	enrolled(t, s, "edge", "ag")
	entered, release := make(chan string), make(chan struct{})
	store.WrapWALSync(s, func(sync func() error) error {
		crashed := filepath.Join(dir, "crash.db")
		for _, suffix := range []string{"", "-wal"} {
			if err := copyPlain(path+suffix, crashed+suffix); err != nil {
				return err
			}
		}
		select {
		case entered <- crashed:
		case <-quit:
			return sync()
		}
		select {
		case <-release:
		case <-quit:
		}
		return sync()
	})
	at := t0.Add(time.Hour)
	answered := make(chan error, 1)
	go func() { answered <- s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{Pending: 3}, at) }()
	var crashed string
	select {
	case crashed = <-entered:
	case err := <-answered:
		t.Fatalf("heartbeat answered (%v) without a WAL sync", err)
	}
	select {
	case err := <-answered:
		t.Fatalf("heartbeat answered (%v) while its WAL sync had not returned", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if n := store.HeartbeatBatches(s); n == 0 {
		t.Fatal("the heartbeat did not go through the batcher: the test misses its path")
	}
	r, err := store.OpenSQLite(ctx, crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if a, err := r.GetAgent(ctx, "ag"); err != nil || !a.LastSeen.Equal(at) {
		t.Fatalf("the WAL as the sync began: agent last seen %v (%v), want %v: the heartbeat was answered before it was committed", a.LastSeen, err, at)
	}
}
