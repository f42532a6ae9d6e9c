package store_test

import (
	"cmp"
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// A heartbeat shortly after the agent's last full one that counts as
// contact by what the database said then (the agent's last applied Seq,
// its last report) is contact only: it skips the database (written
// behind) yet reads of the same store see it at once, queue length
// included. That holds with reports queued: in a 10,000-cluster run,
// heartbeats of agents with a backlog all went to the database, two
// statements each inside the committers' groups, and the replica stalled.
// Anything the remembered values cannot decide goes to the database.
func TestHeartbeatCoalescing(t *testing.T) {
	base := fleetapi.Heartbeat{LastSeq: 5, AgentVersion: "v1"}
	with := func(f func(*fleetapi.Heartbeat)) fleetapi.Heartbeat { hb := base; f(&hb); return hb }
	tests := []struct {
		name      string
		first     time.Duration // after the report (default a minute)
		second    fleetapi.Heartbeat
		after     time.Duration
		coalesced bool
		refused   bool // the second does not count as contact
	}{
		{"unchanged", 0, with(func(h *fleetapi.Heartbeat) { h.Time = t0.Add(15 * time.Second) }), 15 * time.Second, true, false},
		{"unchanged, just before the recheck", 0, base, time.Minute - time.Millisecond, true, false},
		{"unchanged, at the recheck", 0, base, time.Minute, false, false},
		{"clock moved back", 0, base, -time.Second, false, false},
		{"new report numbered", 0, with(func(h *fleetapi.Heartbeat) { h.LastSeq = 6 }), 15 * time.Second, true, false},
		{"reports queued", 0, with(func(h *fleetapi.Heartbeat) { h.LastSeq, h.Pending = 9, 4 }), 15 * time.Second, true, false},
		{"reports queued, none applied for StuckAfter", store.StuckAfter, with(func(h *fleetapi.Heartbeat) { h.LastSeq, h.Pending = 9, 4 }), 15 * time.Second, false, true},
		{"reports queued too far ahead", 0, with(func(h *fleetapi.Heartbeat) { h.LastSeq, h.Pending = 5+store.MaxSeqAdvance+10, 1 }), 15 * time.Second, false, true},
		{"behind the hub's Seq", 0, with(func(h *fleetapi.Heartbeat) { h.LastSeq = 4 }), 15 * time.Second, false, true},
		{"drops", 0, with(func(h *fleetapi.Heartbeat) { h.Dropped = 1 }), 15 * time.Second, false, false},
		{"resync asked", 0, with(func(h *fleetapi.Heartbeat) { h.Resync = true }), 15 * time.Second, false, false},
		// The version is not stored: nothing for the database to do.
		{"agent upgraded", 0, with(func(h *fleetapi.Heartbeat) { h.AgentVersion = "v2" }), 15 * time.Second, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s store.Store) {
				ctx := context.Background()
				c := enrolled(t, s, "edge", "ag")
				if ok, err := s.Ingest(ctx, "ag", findingsEnv(5, true), t0); err != nil || !ok {
					t.Fatalf("report: %v %v", ok, err)
				}
				first := t0.Add(cmp.Or(tt.first, time.Minute))
				if err := s.Heartbeat(ctx, "ag", base, first); err != nil {
					t.Fatal(err)
				}
				at := first.Add(tt.after)
				if err := s.Heartbeat(ctx, "ag", tt.second, at); err != nil {
					t.Fatal(err)
				}
				full, coalesced := store.HeartbeatCounts(s)
				if got := coalesced == 1; got != tt.coalesced || full+coalesced != 2 {
					t.Fatalf("full %d, coalesced %d; want the second coalesced: %v", full, coalesced, tt.coalesced)
				}
				got, err := s.GetCluster(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if want := map[bool]time.Time{false: at, true: first}[tt.refused]; !got.LastSeen.Equal(want) {
					t.Fatalf("last seen %v, want %v", got.LastSeen, want)
				}
				ag, err := s.GetAgent(ctx, "ag")
				if err != nil {
					t.Fatal(err)
				}
				if tt.coalesced && !ag.LastSeen.Equal(at) {
					t.Fatalf("agent last seen %v, want %v", ag.LastSeen, at)
				}
				if tt.coalesced && got.Pending != tt.second.Pending {
					t.Fatalf("cluster pending %d, want %d", got.Pending, tt.second.Pending)
				}
			})
		})
	}
}

// A heartbeat that did not count as contact (a frozen agent) is never
// coalesced: its repeats are checked in full and keep not counting.
func TestHeartbeatNotContactIsNotCoalesced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "ag")
		if ok, err := s.Ingest(ctx, "ag", findingsEnv(100, true), t0); err != nil || !ok {
			t.Fatalf("report: %v %v", ok, err)
		}
		for i, d := range []time.Duration{time.Hour, time.Hour + 15*time.Second, time.Hour + 30*time.Second} {
			at := t0.Add(d)
			if err := s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{LastSeq: 7}, at); err != nil {
				t.Fatal(err)
			}
			if full, _ := store.HeartbeatCounts(s); full != int64(i+1) {
				t.Fatalf("heartbeat %d: %d applied in full", i, full)
			}
			got, _ := s.GetCluster(ctx, c.ID)
			if st := got.State(at, time.Minute, 5*time.Minute); st == fleetapi.StateOnline {
				t.Fatalf("heartbeat %d: frozen cluster is %s", i, st)
			}
		}
	})
}

// Coalesced contacts reach the database within a flush (every
// seenFlushEvery, and at Close), where another replica reads them; they
// never move last_seen back past a later report.
func TestHeartbeatWriteBehindAcrossReplicas(t *testing.T) {
	for _, b := range backendURLs {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url := b.url(t)
			a, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			c := enrolled(t, a, "edge", "ag")
			r, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			seen := func(want time.Time, what string) {
				t.Helper()
				got, err := r.GetCluster(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				ag, err := r.GetAgent(ctx, "ag")
				if err != nil {
					t.Fatal(err)
				}
				if !got.LastSeen.Equal(want) || !ag.LastSeen.Equal(want) {
					t.Fatalf("%s: the other replica sees cluster %v, agent %v, want %v", what, got.LastSeen, ag.LastSeen, want)
				}
			}
			hb := fleetapi.Heartbeat{}
			for _, d := range []time.Duration{0, 15 * time.Second, 30 * time.Second} {
				if err := a.Heartbeat(ctx, "ag", hb, t0.Add(d)); err != nil {
					t.Fatal(err)
				}
			}
			seen(t0, "before the flush")
			if err := store.FlushHeartbeats(ctx, a); err != nil {
				t.Fatal(err)
			}
			seen(t0.Add(30*time.Second), "after the flush")

			// A report through the other replica after a coalesced
			// heartbeat: the flush does not move last_seen back.
			if err := a.Heartbeat(ctx, "ag", hb, t0.Add(40*time.Second)); err != nil {
				t.Fatal(err)
			}
			if ok, err := r.Ingest(ctx, "ag", findingsEnv(1, true), t0.Add(50*time.Second)); err != nil || !ok {
				t.Fatalf("report: %v %v", ok, err)
			}
			if err := store.FlushHeartbeats(ctx, a); err != nil {
				t.Fatal(err)
			}
			seen(t0.Add(50*time.Second), "after a later report")

			// Close writes what is due.
			if err := a.Heartbeat(ctx, "ag", hb, t0.Add(55*time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, coalesced := store.HeartbeatCounts(a); coalesced != 4 {
				t.Fatalf("%d heartbeats coalesced, want 4", coalesced)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			seen(t0.Add(55*time.Second), "after Close")
		})
	}
}

// On PostgreSQL a flush skips the rows a report's transaction holds
// instead of waiting for them (readers of the replica wait for flushes),
// and writes those contacts at a later flush.
func TestHeartbeatFlushSkipsLockedRows(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Shared(t).NewDatabase(t)
	a, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := enrolled(t, a, "edge", "ag")
	if err := a.Heartbeat(ctx, "ag", fleetapi.Heartbeat{}, t0); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, table := range []string{"agents", "clusters"} {
		t.Run(table, func(t *testing.T) {
			at := t0.Add(time.Duration(i+1) * 15 * time.Second)
			if err := a.Heartbeat(ctx, "ag", fleetapi.Heartbeat{}, at); err != nil {
				t.Fatal(err)
			}
			if _, coalesced := store.HeartbeatCounts(a); coalesced != int64(i+1) {
				t.Fatalf("%d heartbeats coalesced, want %d", coalesced, i+1)
			}
			id := map[string]string{"agents": "ag", "clusters": c.ID}[table]
			lock, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Rollback() //nolint:errcheck // ends the lock if the test fails early
			if _, err := lock.ExecContext(ctx, `SELECT 1 FROM `+table+` WHERE id = $1 FOR UPDATE`, id); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- store.FlushHeartbeats(ctx, a) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the flush waits for a row another transaction holds")
			}
			if err := lock.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := store.FlushHeartbeats(ctx, a); err != nil {
				t.Fatal(err)
			}
			var seen int64
			if err := db.QueryRowContext(ctx, `SELECT last_seen FROM `+table+` WHERE id = $1`, id).Scan(&seen); err != nil {
				t.Fatal(err)
			}
			if seen != at.UnixMilli() {
				t.Fatalf("%s last_seen %d after the lock ended, want %d", table, seen, at.UnixMilli())
			}
		})
	}
}

// With the committers stalled (a replica far behind its reports), an
// agent with reports queued still gets its heartbeats answered: after a
// full one they are contact recorded in memory, not items queued for the
// writer behind the reports (where each waited up to maxCommitWait and
// then made the writer's groups longer).
func TestHeartbeatBacklogSkipsWriter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "ag")
		if ok, err := s.Ingest(ctx, "ag", findingsEnv(5, true), t0); err != nil || !ok {
			t.Fatalf("report: %v %v", ok, err)
		}
		if err := s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{LastSeq: 8, Pending: 3}, t0.Add(15*time.Second)); err != nil {
			t.Fatal(err)
		}
		resume := store.StallCommitters(s, 50*time.Millisecond)
		defer resume(1)
		for i, d := range []time.Duration{30 * time.Second, 45 * time.Second} {
			hb := fleetapi.Heartbeat{LastSeq: uint64(9 + i), Pending: uint64(4 + i)}
			if err := s.Heartbeat(ctx, "ag", hb, t0.Add(d)); err != nil {
				t.Fatalf("heartbeat at +%v with the writer stalled: %v", d, err)
			}
		}
		got, err := s.GetCluster(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeen.Equal(t0.Add(45*time.Second)) || got.Pending != 5 {
			t.Fatalf("cluster last seen %v, pending %d; want %v, 5", got.LastSeen, got.Pending, t0.Add(45*time.Second))
		}
	})
}
