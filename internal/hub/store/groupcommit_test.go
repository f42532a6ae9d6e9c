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

// TestGroupCommitIsolatesItems: reports and heartbeats of several agents
// committed as one group each keep their own outcome. An unknown agent's
// report, a report numbered too far ahead and a report naming another
// cluster are refused alone (their changes rolled back to their
// savepoint), while the others in the same transaction are applied
// exactly once, a replay in the group included.
func TestGroupCommitIsolatesItems(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "edge-a", "ag-a")
		b := enrolled(t, s, "edge-b", "ag-b")
		c := enrolled(t, s, "edge-c", "ag-c")
		farAhead := findingsEnv(store.MaxSeqAdvance+5, false, objFindings("Pod", "x", "p", "r9"))
		// b's refused report first writes a finding, then fails: the
		// savepoint must take its finding away again.
		bBad := []*fleetapi.Envelope{findingsEnv(1, false, objFindings("Pod", "b", "p1", "r1")), farAhead}
		wrong := findingsEnv(1, false, objFindings("Pod", "c", "p1", "r1"))
		wrong.Cluster = a.ID
		items := []store.GroupItem{
			{AgentID: "ag-a", Envs: []*fleetapi.Envelope{findingsEnv(1, false, objFindings("Pod", "a", "p1", "r1", "r2"))}},
			{AgentID: "ag-nobody", Envs: []*fleetapi.Envelope{findingsEnv(1, false, objFindings("Pod", "n", "p1", "r1"))}},
			{AgentID: "ag-b", Envs: bBad},
			{AgentID: "ag-c", Envs: []*fleetapi.Envelope{wrong}},
			{AgentID: "ag-c", HB: &fleetapi.Heartbeat{Time: t0, Pending: 3}},
			{AgentID: "ag-a", Envs: []*fleetapi.Envelope{findingsEnv(1, false, objFindings("Pod", "a", "p9", "r1")), findingsEnv(2, false, objFindings("Pod", "a", "p2", "r3"))}},
		}
		applied, errs := store.CommitGroup(s, t0, items)
		for i, tc := range []struct {
			applied []bool
			err     error
		}{
			{[]bool{true}, nil},
			{nil, store.ErrNotFound},
			{nil, store.ErrSeqAdvance},
			{nil, store.ErrWrongCluster},
			{nil, nil},
			{[]bool{false, true}, nil}, // seq 1 again: a replay, even within the group
		} {
			if fmt.Sprint(applied[i]) != fmt.Sprint(tc.applied) || !errors.Is(errs[i], tc.err) || (tc.err == nil) != (errs[i] == nil) {
				t.Errorf("item %d: applied %v, error %v; want %v, %v", i, applied[i], errs[i], tc.applied, tc.err)
			}
		}
		for _, want := range []struct {
			cluster string
			n       int
			agent   string
			seq     uint64
		}{{a.ID, 3, "ag-a", 2}, {b.ID, 0, "ag-b", 0}, {c.ID, 0, "ag-c", 0}} {
			n, err := s.CountFindings(ctx, store.FindingQuery{ClusterID: want.cluster})
			ag, err2 := s.GetAgent(ctx, want.agent)
			if err != nil || err2 != nil || n != want.n || ag.LastSeq != want.seq {
				t.Errorf("cluster %s: %d findings, last seq %d (%v %v); want %d, %d", want.cluster, n, ag.LastSeq, err, err2, want.n, want.seq)
			}
		}
		cl, err := s.GetCluster(ctx, c.ID)
		if err != nil || cl.Pending != 3 {
			t.Errorf("heartbeat in the group: pending %d (%v), want 3", cl.Pending, err)
		}
	})
}

// TestGroupCommitConcurrentAgents: many agents reporting at once through
// the committers (groups form from whatever is queued) end with every
// report applied once and every finding stored once.
func TestGroupCommitConcurrentAgents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		const agents, reports = 12, 15
		clusters := make([]store.Cluster, agents)
		for i := range agents {
			clusters[i] = enrolled(t, s, fmt.Sprintf("edge-%d", i), fmt.Sprintf("ag-%d", i))
		}
		var wg sync.WaitGroup
		errs := make(chan error, agents*reports*2)
		for i := range agents {
			wg.Go(func() {
				agent := fmt.Sprintf("ag-%d", i)
				for seq := uint64(1); seq <= reports; seq++ {
					// Each report adds pod p<seq> with two findings; every
					// third is sent twice (an agent's retry).
					env := findingsEnv(seq, false, objFindings("Pod", "ns", fmt.Sprintf("p%d", seq), "r1", "r2"))
					for range 1 + int(seq%3/2) {
						if _, err := s.Ingest(ctx, agent, env, t0); err != nil {
							errs <- err
						}
					}
					if err := s.Heartbeat(ctx, agent, fleetapi.Heartbeat{Time: t0, LastSeq: seq}, t0); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i, c := range clusters {
			n, err := s.CountFindings(ctx, store.FindingQuery{ClusterID: c.ID})
			ag, err2 := s.GetAgent(ctx, fmt.Sprintf("ag-%d", i))
			if err != nil || err2 != nil || n != 2*reports || ag.LastSeq != reports {
				t.Errorf("cluster %d: %d findings, last seq %d (%v %v); want %d, %d", i, n, ag.LastSeq, err, err2, 2*reports, reports)
			}
		}
	})
}

// An item no committer starts within the queue's bound is abandoned:
// ErrBusy, and nothing of it applied, even once committers run again; the
// agent's resend is then applied once.
func TestCommitQueueWaitIsBounded(t *testing.T) {
	tests := []struct {
		name string
		hb   bool
	}{{"report", false}, {"heartbeat", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s store.Store) {
				ctx := context.Background()
				c := enrolled(t, s, "edge", "ag")
				var err error
				if tt.hb {
					resume := store.StallHeartbeats(s, 50*time.Millisecond, 1024)
					err = s.Heartbeat(ctx, "ag", fleetapi.Heartbeat{LastSeq: 1, Pending: 1}, t0.Add(time.Minute))
					resume()
				} else {
					resume := store.StallCommitters(s, 50*time.Millisecond)
					_, err = s.Ingest(ctx, "ag", findingsEnv(1, true, objFindings("Pod", "a", "p1", "r1")), t0.Add(time.Minute))
					resume(1)
				}
				if !errors.Is(err, store.ErrBusy) {
					t.Fatalf("stalled writer: err = %v, want ErrBusy", err)
				}
				// A later item passes the abandoned one in the queue.
				if ok, err := s.Ingest(ctx, "ag", findingsEnv(2, true, objFindings("Pod", "a", "p2", "r2")), t0.Add(2*time.Minute)); err != nil || !ok {
					t.Fatalf("after resuming: %v %v", ok, err)
				}
				got, err := s.GetCluster(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Pending != 0 {
					t.Fatalf("the abandoned heartbeat was applied: pending %d", got.Pending)
				}
				ok, err := s.Ingest(ctx, "ag", findingsEnv(1, true, objFindings("Pod", "a", "p1", "r1")), t0.Add(3*time.Minute))
				if err != nil || ok {
					t.Fatalf("report 1 after report 2: applied %v, %v; want a replay", ok, err)
				}
				fs, err := s.ListFindings(ctx, store.FindingQuery{ClusterID: c.ID})
				if err != nil {
					t.Fatal(err)
				}
				if len(fs) != 1 || fs[0].RuleID != "r2" {
					t.Fatalf("findings %+v, want only report 2's", fs)
				}
			})
		})
	}
}

// The writer never waits for the request path's connections: with every
// connection of the shared pool taken (in a 10,000-cluster run, hundreds
// of agent requests reading their certificates waited for them), reports
// are still committed. Before the committers had their own pool, a
// committer ending a group waited among those readers for its next
// connection and the replica applied nothing for minutes.
func TestCommitWithReadPoolExhausted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		enrolled(t, s, "edge", "ag")
		release := store.HoldReadPool(t, s)
		defer release()
		finishesWithoutPool(t, release, "a report", func() error {
			ok, err := s.Ingest(ctx, "ag", findingsEnv(1, true), t0)
			if err == nil && !ok {
				err = errors.New("not applied")
			}
			return err
		})
	})
}

// finishesWithoutPool runs fn, which must not need the shared pool whose
// connections are held until release; a minute is a guard against the
// hang, not a timing assertion.
func finishesWithoutPool(t *testing.T, release func(), what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		release()
		t.Fatalf("%s waited for the shared pool's connections", what)
	}
}

// An agent request's certificate lookup does not wait for the shared
// pool either (PostgreSQL; on SQLite readers share one small pool): in
// the same run, 1,300 requests waiting for the shared pool's connections
// held up the dashboard's reads and the heartbeat flush.
func TestCertificateLookupWithReadPoolExhausted(t *testing.T) {
	s := backends[len(backends)-1].open(t)
	defer s.Close()
	if s.Backend() != "postgres" {
		t.Fatalf("backend %s, want postgres", s.Backend())
	}
	ctx := context.Background()
	c := enrolled(t, s, "edge", "ag")
	if err := s.RecordCertificate(ctx, store.Certificate{Serial: "0a1b", ClusterID: c.ID, AgentID: "ag", NotBefore: t0, NotAfter: t0.Add(time.Hour)}, t0, 0); err != nil {
		t.Fatal(err)
	}
	release := store.HoldReadPool(t, s)
	defer release()
	finishesWithoutPool(t, release, "a certificate lookup", func() error {
		_, err := s.GetCertificate(ctx, "0a1b")
		return err
	})
}

// Concurrent certificate lookups share queries (PostgreSQL), each still
// answered with its own certificate, its revocation, or not found: in a
// 10,000-cluster run one query per agent request left 5,270 requests
// waiting for the lookups' connections.
func TestCertificateLookupsBatched(t *testing.T) {
	s := backends[len(backends)-1].open(t)
	defer s.Close()
	ctx := context.Background()
	c := enrolled(t, s, "edge", "ag")
	const n = 400
	for i := range n {
		if err := s.RecordCertificate(ctx, store.Certificate{Serial: fmt.Sprintf("%04x", i), ClusterID: c.ID, AgentID: "ag", NotBefore: t0, NotAfter: t0.Add(time.Hour)}, t0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RevokeCertificates(ctx, store.CertificateFilter{Serial: "0007"}, t0); err != nil {
		t.Fatal(err)
	}
	before := store.CertificateQueries(s)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n { // the second half are unknown serials
		wg.Go(func() {
			serial := fmt.Sprintf("%04x", i)
			got, err := s.GetCertificate(ctx, serial)
			switch {
			case i >= n && !errors.Is(err, store.ErrNotFound):
				errs <- fmt.Errorf("%s: %v, want not found", serial, err)
			case i < n && (err != nil || got.Serial != serial || got.AgentID != "ag" || got.RevokedAt.IsZero() != (serial != "0007")):
				errs <- fmt.Errorf("%s: %+v %v", serial, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if q := store.CertificateQueries(s) - before; q <= 0 || q >= 2*n {
		t.Fatalf("%d lookups in %d queries, want them batched", 2*n, q)
	}
}
