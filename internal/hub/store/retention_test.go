package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// admitted stores n admission events of the agent, one a minute from t0.
func admitted(t *testing.T, s store.Store, agent string, seq uint64, n int) {
	t.Helper()
	evs := make([]fleetapi.AdmissionEvent, n)
	for i := range evs {
		evs[i] = fleetapi.AdmissionEvent{Time: t0.Add(time.Duration(i) * time.Minute), UID: fmt.Sprintf("u%d", i), Operation: "CREATE", Decision: "denied"}
	}
	if ok, err := s.Ingest(context.Background(), agent, &fleetapi.Envelope{Seq: seq, Time: t0, Kind: fleetapi.KindAdmission, Admission: evs}, t0); err != nil || !ok {
		t.Fatalf("admission events of %s: %v %v", agent, ok, err)
	}
}

// Agents append admission events without end (issue #16: a 2 KB request
// inserted 699,035 rows): a per-cluster quota drops the oldest and counts
// them on the cluster, retention deletes old ones, each call bounded.
func TestPruneAdmissionEvents(t *testing.T) {
	tests := []struct {
		name        string
		cluster     string // "" all, "a" only cluster a
		r           store.Retention
		deleted     int64
		keptA       int
		keptB       int
		droppedA    uint64
		oldestKeptA time.Time
	}{
		{"quota drops the oldest and counts them", "", store.Retention{PerCluster: 4}, 6 + 0, 4, 3, 6, t0.Add(6 * time.Minute)},
		{"quota on one cluster only", "a", store.Retention{PerCluster: 2}, 8, 2, 3, 8, t0.Add(8 * time.Minute)},
		// Which cluster goes first is not specified: only the total.
		{"bounded per call", "", store.Retention{PerCluster: 1, MaxDeletes: 5}, 5, -1, -1, 0, time.Time{}},
		{"age deletes without counting", "", store.Retention{MaxAge: 95 * time.Minute}, 5 + 3, 5, 0, 0, t0.Add(5 * time.Minute)},
		{"no limits keep everything", "", store.Retention{}, 0, 10, 3, 0, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s store.Store) {
				ctx := context.Background()
				a := enrolled(t, s, "a", "agent-a")
				b := enrolled(t, s, "b", "agent-b")
				admitted(t, s, "agent-a", 1, 10)
				admitted(t, s, "agent-b", 1, 3)
				cluster := ""
				if tt.cluster == "a" {
					cluster = a.ID
				}
				// "now" is 100 minutes after t0: MaxAge 95m keeps events at
				// t0+5m and later.
				n, err := s.PruneAdmissionEvents(ctx, cluster, tt.r, t0.Add(100*time.Minute))
				if err != nil || n != tt.deleted {
					t.Fatalf("pruned %d (%v), want %d", n, err, tt.deleted)
				}
				if all, err := s.ListAdmissionEvents(ctx, store.AdmissionQuery{Limit: 100}); err != nil || int64(len(all)) != 13-tt.deleted {
					t.Fatalf("%d events kept in all (%v), want %d", len(all), err, 13-tt.deleted)
				}
				if tt.keptA < 0 {
					return
				}
				for _, c := range []struct {
					id   string
					want int
				}{{a.ID, tt.keptA}, {b.ID, tt.keptB}} {
					evs, err := s.ListAdmissionEvents(ctx, store.AdmissionQuery{ClusterID: c.id, Limit: 100})
					if err != nil || len(evs) != c.want {
						t.Fatalf("cluster %s keeps %d events (%v), want %d", c.id, len(evs), err, c.want)
					}
					if c.id == a.ID && len(evs) > 0 {
						oldest := evs[0].Time
						for _, e := range evs {
							if e.Time.Before(oldest) {
								oldest = e.Time
							}
						}
						if !oldest.Equal(tt.oldestKeptA) {
							t.Errorf("oldest kept of a is %v, want %v", oldest, tt.oldestKeptA)
						}
					}
				}
				got, _ := s.GetCluster(ctx, a.ID)
				if got.AdmissionDropped != tt.droppedA {
					t.Errorf("cluster a dropped %d, want %d", got.AdmissionDropped, tt.droppedA)
				}
			})
		})
	}
}
