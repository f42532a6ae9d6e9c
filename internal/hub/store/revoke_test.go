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

// TestRevokeClusterRacingRenewals records renewals from several
// goroutines while the cluster is revoked, many times, on each backend:
// every certificate recorded must be refused afterwards (revoked itself,
// or its cluster revoked), and the cluster shown revoked.
func TestRevokeClusterRacingRenewals(t *testing.T) {
	const iterations, renewers = 200, 4
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for i := range iterations {
			agent := fmt.Sprintf("agent-%d", i)
			c := enrolled(t, s, fmt.Sprintf("race-%d", i), agent)
			first := fmt.Sprintf("%d-first", i)
			if err := s.RecordCertificate(ctx, store.Certificate{Serial: first, ClusterID: c.ID, AgentID: agent, NotBefore: t0, NotAfter: t0.Add(time.Hour)}, t0, 0); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, renewers)
			start := make(chan struct{})
			for g := range renewers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					err := s.RecordCertificate(ctx, store.Certificate{Serial: fmt.Sprintf("%d-%d", i, g), ClusterID: c.ID, AgentID: agent,
						NotBefore: t0, NotAfter: t0.Add(time.Hour), RenewedFrom: first}, t0, 0)
					if err != nil && !errors.Is(err, store.ErrRevoked) {
						errs <- err
					}
				}()
			}
			close(start)
			if _, err := s.RevokeCluster(ctx, c.ID, t0); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for g := range renewers {
				serial := fmt.Sprintf("%d-%d", i, g)
				cert, err := s.GetCertificate(ctx, serial)
				if errors.Is(err, store.ErrNotFound) {
					continue // refused: never recorded
				}
				if err != nil {
					t.Fatal(err)
				}
				if cert.RevokedAt.IsZero() && cert.ClusterRevokedAt.IsZero() {
					t.Fatalf("iteration %d: certificate %s survived the revocation of its cluster", i, serial)
				}
			}
			got, err := s.GetCluster(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st := got.State(t0, time.Minute, time.Hour); st != fleetapi.StateRevoked {
				t.Fatalf("iteration %d: revoked cluster shown %s", i, st)
			}
		}
	})
}

func TestRenewalRateLimitAndReEnrolment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := enrolled(t, s, "edge", "agent-a")
		rec := func(serial string, at time.Time, minInterval time.Duration) error {
			return s.RecordCertificate(ctx, store.Certificate{Serial: serial, ClusterID: c.ID, AgentID: "agent-a", NotBefore: at, NotAfter: at.Add(time.Hour)}, at, minInterval)
		}
		if err := rec("r1", t0, time.Minute); err != nil {
			t.Fatal(err)
		}
		var soon *store.RenewalTooSoon
		if err := rec("r2", t0.Add(20*time.Second), time.Minute); !errors.As(err, &soon) || soon.RetryAfter != 40*time.Second {
			t.Fatalf("renewal after 20s: %v, want too soon, retry after 40s", err)
		}
		if err := rec("r3", t0.Add(time.Minute), time.Minute); err != nil {
			t.Fatalf("renewal after a minute: %v", err)
		}
		if _, err := s.RevokeCluster(ctx, c.ID, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := rec("r4", t0.Add(time.Hour), 0); !errors.Is(err, store.ErrRevoked) {
			t.Fatalf("certificate for a revoked cluster: %v, want ErrRevoked", err)
		}
		if n, total, err := s.QueryClusters(ctx, store.ClusterQuery{State: fleetapi.StateOnline, Cutoffs: store.Cutoffs(t0, time.Minute, time.Hour)}); err != nil || total != 0 {
			t.Fatalf("online clusters after revocation: %v %d %v", n, total, err)
		}
		// A token made before the revocation does not lift it; one made
		// after does.
		for _, tc := range []struct {
			id      string
			created time.Time
			revoked bool
		}{{"tok-old", t0, true}, {"tok-new", t0.Add(3 * time.Minute), false}} {
			if err := s.CreateBootstrapToken(ctx, store.BootstrapToken{ID: tc.id, ClusterID: c.ID, Hash: hash(tc.id), CreatedAt: tc.created, ExpiresAt: t0.Add(24 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.EnrollAgent(ctx, tc.id, hash(tc.id), store.Agent{ID: "agent-" + tc.id}, t0.Add(4*time.Minute)); err != nil {
				t.Fatal(err)
			}
			got, _ := s.GetCluster(ctx, c.ID)
			if revoked := !got.RevokedAt.IsZero(); revoked != tc.revoked {
				t.Fatalf("after enrolling with %s: revoked %v, want %v", tc.id, revoked, tc.revoked)
			}
		}
		if c, _ := s.GetCertificate(ctx, "r3"); c.RevokedAt.IsZero() {
			t.Fatal("re-enrolment un-revoked an old certificate")
		}
	})
}
