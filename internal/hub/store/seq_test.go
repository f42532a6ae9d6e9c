package store_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// A forged report far ahead of the agent's numbering is refused, so the
// genuine reports after it are still applied (issue #16: one report with
// Seq 2^63-1 froze a cluster's data).
func TestIngestRefusesSeqFarAhead(t *testing.T) {
	tests := []struct {
		name  string
		seq   uint64
		batch bool
	}{
		{"max int64", math.MaxInt64, false},
		{"2^63 wraps negative as int64", 1 << 63, false},
		{"max uint64", math.MaxUint64, false},
		{"one past the bound", 1 + store.MaxSeqAdvance + 1, false},
		{"max int64 in a batch", math.MaxInt64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s store.Store) {
				ctx := context.Background()
				c := enrolled(t, s, "edge", "ag")
				if ok, err := s.Ingest(ctx, "ag", findingsEnv(1, true, objFindings("Pod", "a", "p1", "r1")), t0); err != nil || !ok {
					t.Fatalf("first report: %v %v", ok, err)
				}
				forged := findingsEnv(tt.seq, true)
				var err error
				if tt.batch {
					_, err = s.IngestBatch(ctx, "ag", []*fleetapi.Envelope{findingsEnv(2, false), forged}, t0)
				} else {
					_, err = s.Ingest(ctx, "ag", forged, t0)
				}
				if !errors.Is(err, store.ErrSeqAdvance) {
					t.Fatalf("forged seq %d: err = %v, want ErrSeqAdvance", tt.seq, err)
				}
				ok, err := s.Ingest(ctx, "ag", findingsEnv(2, false, objFindings("Pod", "a", "p2", "r2")), t0.Add(time.Second))
				if err != nil || !ok {
					t.Fatalf("genuine report after the forged one: applied %v, %v", ok, err)
				}
				if n, _ := s.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID}); n != 2 {
					t.Fatalf("%d findings, want 2", n)
				}
			})
		})
	}
}

// The bound is exact: a report at most MaxSeqAdvance ahead is applied.
func TestIngestAcceptsSeqWithinBound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		enrolled(t, s, "edge", "ag")
		if ok, err := s.Ingest(ctx, "ag", findingsEnv(store.MaxSeqAdvance, true), t0); err != nil || !ok {
			t.Fatalf("report %d: %v %v", store.MaxSeqAdvance, ok, err)
		}
	})
}

// A cluster whose hub-side Seq is ahead of what its agent says it has
// numbered is frozen: its heartbeats no longer keep it online, and a
// re-enrolled agent starts again from 0.
func TestHeartbeatOfFrozenAgentIsNotContact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "ag")
		if ok, err := s.Ingest(ctx, "ag", findingsEnv(store.MaxSeqAdvance, true), t0); err != nil || !ok {
			t.Fatalf("forged report within the bound: %v %v", ok, err)
		}
		later := t0.Add(time.Hour)
		if err := s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{LastSeq: 7}, later); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetCluster(ctx, c.ID)
		if st := got.State(later, time.Minute, 5*time.Minute); st == fleetapi.StateOnline {
			t.Fatalf("frozen cluster is %s after a heartbeat", st)
		}
		// A heartbeat that agrees with the hub is contact.
		if err := s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{LastSeq: store.MaxSeqAdvance}, later); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetCluster(ctx, c.ID)
		if st := got.State(later, time.Minute, 5*time.Minute); st != fleetapi.StateOnline {
			t.Fatalf("cluster is %s after a consistent heartbeat, want online", st)
		}
		// An agent whose queued reports are all beyond the bound (its
		// reports are refused) is not contact either.
		if err := s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{LastSeq: 3*store.MaxSeqAdvance + 5, Pending: 5}, later.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetCluster(ctx, c.ID)
		if st := got.State(later.Add(time.Hour), time.Minute, 5*time.Minute); st == fleetapi.StateOnline {
			t.Fatalf("cluster whose reports are all refused is %s after a heartbeat", st)
		}
		// Re-enrolment: the new agent's numbering starts from 0.
		if err := s.CreateBootstrapToken(ctx, store.BootstrapToken{ID: "tok-2", ClusterID: c.ID, Hash: hash("s2"), CreatedAt: t0, ExpiresAt: later.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EnrollAgent(ctx, "tok-2", hash("s2"), store.Agent{ID: "ag2"}, later); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Ingest(ctx, "ag2", findingsEnv(1, true), later); err != nil || !ok {
			t.Fatalf("re-enrolled agent's first report: %v %v", ok, err)
		}
	})
}

// An agent with reports queued and none applied for StuckAfter (all
// refused, or never sent) does not keep its cluster online by
// heartbeats; one whose reports are applied does.
func TestHeartbeatWithReportsStuckIsNotContact(t *testing.T) {
	tests := []struct {
		name    string
		applied bool          // a report applied at t0
		after   time.Duration // heartbeat time after t0
		pending uint64
		online  bool
	}{
		{"nothing queued", false, time.Hour, 0, true},
		{"queued, recently enrolled", false, time.Minute, 3, true},
		{"queued, never applied", false, store.StuckAfter + time.Minute, 3, false},
		{"queued, applied long ago", true, store.StuckAfter + time.Minute, 3, false},
		{"queued, applied recently", true, store.StuckAfter - time.Minute, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s store.Store) {
				ctx := context.Background()
				c := enrolled(t, s, "edge", "ag")
				if tt.applied {
					if ok, err := s.Ingest(ctx, "ag", findingsEnv(1, true), t0); err != nil || !ok {
						t.Fatalf("report: %v %v", ok, err)
					}
				}
				at := t0.Add(tt.after)
				if err := s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{Pending: tt.pending}, at); err != nil {
					t.Fatal(err)
				}
				got, _ := s.GetCluster(ctx, c.ID)
				if online := got.State(at, time.Minute, 5*time.Minute) == fleetapi.StateOnline; online != tt.online {
					t.Fatalf("online %v after the heartbeat, want %v", online, tt.online)
				}
			})
		})
	}
}
