package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// waitFor polls cond until it holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Full heartbeats waiting at one moment are applied together, in one
// transaction (on PostgreSQL a fixed number of statements whatever their
// number), each with its own outcome and the cluster rows ending as if
// applied one by one. In a 10,000-cluster run they were two statements
// each in the committers' groups, behind the reports, and at the start
// 10,000 of them stalled the hub.
func TestFullHeartbeatsSetBased(t *testing.T) {
	const n = 200
	type hbCase struct {
		agent   string
		hb      fleetapi.Heartbeat
		at      time.Time
		missing bool
	}
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		var cases []hbCase
		clusters := map[string]store.Cluster{}
		for i := range n {
			a := fmt.Sprintf("ag-%03d", i)
			clusters[a] = enrolled(t, s, fmt.Sprintf("edge-%03d", i), a)
			cases = append(cases, hbCase{agent: a, hb: fleetapi.Heartbeat{Pending: uint64(i % 5), Dropped: uint64(i % 3)}, at: t0.Add(time.Minute + time.Duration(i)*time.Millisecond)})
		}
		// Two agents of one cluster: the later heartbeat's queue length,
		// the larger drop count, the later contact.
		multi := enrolled(t, s, "multi", "m1")
		enrolled(t, s, "multi", "m2")
		cases = append(cases,
			hbCase{agent: "m1", hb: fleetapi.Heartbeat{Pending: 3, Dropped: 4}, at: t0.Add(2 * time.Minute)},
			hbCase{agent: "m2", hb: fleetapi.Heartbeat{Pending: 7, Dropped: 1}, at: t0.Add(3 * time.Minute)})
		// Reports queued and none applied for StuckAfter: not contact.
		stuck := enrolled(t, s, "stuck", "st")
		cases = append(cases, hbCase{agent: "st", hb: fleetapi.Heartbeat{Pending: 2}, at: t0.Add(store.StuckAfter + time.Minute)})
		cases = append(cases, hbCase{agent: "ghost", at: t0.Add(time.Minute), missing: true})

		resume := store.StallHeartbeats(s, time.Hour, 1<<20)
		defer resume()
		errs := make([]error, len(cases))
		var wg sync.WaitGroup
		for i, c := range cases {
			wg.Go(func() { errs[i] = s.Heartbeat(ctx, c.agent, c.hb, c.at) })
		}
		waitFor(t, "the heartbeats to queue", func() bool { return store.HeartbeatQueue(s) == len(cases) })
		stmts := store.Statements(s)
		resume()
		wg.Wait()
		if got := store.HeartbeatBatches(s); got != 1 {
			t.Errorf("%d heartbeats in %d transactions, want 1", len(cases), got)
		}
		if s.Backend() == "postgres" {
			if got := store.Statements(s) - stmts; got > 4 {
				t.Errorf("%d heartbeats cost %d statements, want at most 4", len(cases), got)
			}
		}
		for i, c := range cases {
			if c.missing {
				if !errors.Is(errs[i], store.ErrNotFound) {
					t.Errorf("heartbeat of unknown agent: %v, want ErrNotFound", errs[i])
				}
				continue
			}
			if errs[i] != nil {
				t.Fatalf("heartbeat of %s: %v", c.agent, errs[i])
			}
			ag, err := s.GetAgent(ctx, c.agent)
			if err != nil {
				t.Fatal(err)
			}
			if !ag.LastSeen.Equal(c.at) {
				t.Errorf("agent %s last seen %v, want %v", c.agent, ag.LastSeen, c.at)
			}
		}
		for i := range n {
			a := fmt.Sprintf("ag-%03d", i)
			got, err := s.GetCluster(ctx, clusters[a].ID)
			if err != nil {
				t.Fatal(err)
			}
			c := cases[i]
			if !got.LastSeen.Equal(c.at) || got.Pending != c.hb.Pending || got.Dropped != c.hb.Dropped {
				t.Errorf("cluster of %s: last seen %v, pending %d, dropped %d; want %v, %d, %d", a, got.LastSeen, got.Pending, got.Dropped, c.at, c.hb.Pending, c.hb.Dropped)
			}
		}
		got, err := s.GetCluster(ctx, multi.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeen.Equal(t0.Add(3*time.Minute)) || got.Pending != 7 || got.Dropped != 4 {
			t.Errorf("cluster of two agents: last seen %v, pending %d, dropped %d; want %v, 7, 4", got.LastSeen, got.Pending, got.Dropped, t0.Add(3*time.Minute))
		}
		got, err = s.GetCluster(ctx, stuck.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeen.Equal(stuck.LastSeen) || got.Pending != 2 {
			t.Errorf("stuck cluster: last seen %v, pending %d; want %v (unchanged), 2", got.LastSeen, got.Pending, stuck.LastSeen)
		}
	})
}

// Full heartbeats do not queue behind the reports: with the committers
// stalled (a replica far behind its reports), they are still applied.
func TestFullHeartbeatsOffReportsQueue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "ag")
		resume := store.StallCommitters(s, time.Hour)
		defer resume(1)
		at := t0.Add(time.Minute)
		if err := s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{LastSeq: 3, Pending: 3}, at); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCluster(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeen.Equal(at) || got.Pending != 3 {
			t.Fatalf("cluster last seen %v, pending %d; want %v, 3", got.LastSeen, got.Pending, at)
		}
	})
}

// A request that finds the queue longer than what is served within the
// hold time is answered ErrBusy at once (the hub: 429 with Retry-After),
// instead of waiting in memory to be refused later; the ones queued are
// applied once the writer runs, and the refused one, sent again, too.
// Each queue's hold time here is an hour: before the bound, the request
// beyond it waited for it.
func TestQueueBoundAnswersAtOnce(t *testing.T) {
	const bound = 8
	tests := []struct {
		name  string
		stall func(s store.Store) (resume func())
		send  func(s store.Store, agent string) error
	}{
		{"heartbeats", func(s store.Store) func() {
			return store.StallHeartbeats(s, time.Hour, bound)
		}, func(s store.Store, agent string) error {
			return s.Heartbeat(context.Background(), agent, fleetapi.Heartbeat{Pending: 1}, t0.Add(time.Minute))
		}},
		{"reports", func(s store.Store) func() {
			resume := store.StallCommitters(s, time.Hour)
			store.SetCommitQueueFloor(s, bound)
			return func() { resume(1) }
		}, func(s store.Store, agent string) error {
			ok, err := s.Ingest(context.Background(), agent, findingsEnv(1, false, objFindings("Pod", "a", "p1", "r1")), t0.Add(time.Minute))
			if err == nil && !ok {
				err = errors.New("not applied")
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s store.Store) {
				ctx := context.Background()
				var clusters []store.Cluster
				for i := range bound + 1 {
					clusters = append(clusters, enrolled(t, s, fmt.Sprintf("edge-%d", i), fmt.Sprintf("ag-%d", i)))
				}
				resume := tt.stall(s)
				queued := func() int {
					if tt.name == "heartbeats" {
						return store.HeartbeatQueue(s)
					}
					return store.CommitQueue(s)
				}
				errs := make([]error, bound)
				var wg sync.WaitGroup
				for i := range bound {
					wg.Go(func() { errs[i] = tt.send(s, fmt.Sprintf("ag-%d", i)) })
				}
				waitFor(t, "the queue to fill", func() bool { return queued() == bound })
				last := fmt.Sprintf("ag-%d", bound)
				if err := tt.send(s, last); !errors.Is(err, store.ErrBusy) {
					t.Fatalf("beyond the bound: %v, want ErrBusy", err)
				}
				resume()
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("queued %d: %v", i, err)
					}
				}
				if err := tt.send(s, last); err != nil {
					t.Fatalf("sent again: %v", err)
				}
				for i, c := range clusters {
					got, err := s.GetCluster(ctx, c.ID)
					if err != nil {
						t.Fatal(err)
					}
					if tt.name == "heartbeats" && got.Pending != 1 {
						t.Errorf("cluster %d: pending %d, want 1", i, got.Pending)
					}
					if n, err := s.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID}); tt.name == "reports" && (err != nil || n != 1) {
						t.Errorf("cluster %d: %d findings (%v), want 1", i, n, err)
					}
				}
			})
		})
	}
}
