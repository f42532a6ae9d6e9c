package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// A heartbeat that repeats the agent's last one, with nothing queued,
// shortly after it, is contact only: it skips the database (written
// behind) yet reads of the same store see it at once. Anything that
// could change the outcome of the full checks goes to the database.
func TestHeartbeatCoalescing(t *testing.T) {
	base := fleetapi.Heartbeat{LastSeq: 5, AgentVersion: "v1"}
	with := func(f func(*fleetapi.Heartbeat)) fleetapi.Heartbeat { hb := base; f(&hb); return hb }
	tests := []struct {
		name      string
		second    fleetapi.Heartbeat
		after     time.Duration
		coalesced bool
	}{
		{"unchanged", with(func(h *fleetapi.Heartbeat) { h.Time = t0.Add(15 * time.Second) }), 15 * time.Second, true},
		{"unchanged, just before the recheck", base, time.Minute - time.Millisecond, true},
		{"unchanged, at the recheck", base, time.Minute, false},
		{"clock moved back", base, -time.Second, false},
		{"new report numbered", with(func(h *fleetapi.Heartbeat) { h.LastSeq = 6 }), 15 * time.Second, false},
		{"reports queued", with(func(h *fleetapi.Heartbeat) { h.Pending = 1 }), 15 * time.Second, false},
		{"drops", with(func(h *fleetapi.Heartbeat) { h.Dropped = 1 }), 15 * time.Second, false},
		{"resync asked", with(func(h *fleetapi.Heartbeat) { h.Resync = true }), 15 * time.Second, false},
		{"agent upgraded", with(func(h *fleetapi.Heartbeat) { h.AgentVersion = "v2" }), 15 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s store.Store) {
				ctx := context.Background()
				c := enrolled(t, s, "edge", "ag")
				if ok, err := s.Ingest(ctx, "ag", findingsEnv(5, true), t0); err != nil || !ok {
					t.Fatalf("report: %v %v", ok, err)
				}
				first := t0.Add(time.Minute)
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
				if !got.LastSeen.Equal(at) {
					t.Fatalf("last seen %v, want %v", got.LastSeen, at)
				}
				ag, err := s.GetAgent(ctx, "ag")
				if err != nil {
					t.Fatal(err)
				}
				if tt.coalesced && !ag.LastSeen.Equal(at) {
					t.Fatalf("agent last seen %v, want %v", ag.LastSeen, at)
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
	for _, b := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "hub.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.Shared(t).NewDatabase(t) }},
	} {
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
