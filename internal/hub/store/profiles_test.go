package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// TestRuntimeProfiles: a workload's observations from several nodes are
// learned during its window; once locked, observations outside the
// profile become PAL-RT-009/010 findings, stored once however often they
// are seen; a restarted window forgets and learns again (with the
// workload's own window); the quota counts workloads not profiled; old
// profiles are pruned.
func TestRuntimeProfiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		a := enrolled(t, s, "a", "agent-a")
		s.SetIngestLimits(store.IngestLimits{ProfileWindow: time.Hour, ProfilesPerCluster: 2})
		web := profile.Workload{Namespace: "shop", Kind: "Deployment", Name: "web"}
		db := profile.Workload{Namespace: "shop", Kind: "StatefulSet", Name: "db"}
		toDB := profile.Connection{Direction: profile.Egress, Peer: profile.Peer{Workload: &db}, Port: 5432, Protocol: profile.TCP}
		toNet := profile.Connection{Direction: profile.Egress, Peer: profile.Peer{CIDR: "203.0.113.9/32"}, Port: 443, Protocol: profile.TCP}
		seq := uint64(0)
		send := func(at time.Time, node string, obs ...profile.Observation) {
			t.Helper()
			seq++
			if ok, err := s.Ingest(ctx, "agent-a", &fleetapi.Envelope{Seq: seq, Time: at, Kind: fleetapi.KindRuntime, Runtime: &fleetapi.RuntimeReport{Node: node, Observations: obs}}, at); err != nil || !ok {
				t.Fatalf("report %d: %v %v", seq, ok, err)
			}
		}
		findings := func() []string {
			t.Helper()
			fs, err := s.ListRuntimeFindings(ctx, store.RuntimeQuery{ClusterID: a.ID})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, f := range fs {
				out = append(out, f.F.RuleID+" "+f.F.Object.Kind+"/"+f.F.Object.Name+"@"+f.Node)
			}
			return out
		}
		send(t0, "n1", profile.Observation{Workload: web, Binaries: []string{"/app/web"}, Connections: []profile.Connection{toDB}})
		send(t0.Add(30*time.Minute), "n2", profile.Observation{Workload: web, Binaries: []string{"/bin/true"}, Overflow: 2})
		ps, err := s.ListRuntimeProfiles(ctx, a.ID)
		if err != nil || len(ps) != 1 {
			t.Fatalf("profiles %+v, %v", ps, err)
		}
		p := ps[0]
		if p.State(t0.Add(59*time.Minute)) != "learning" || !p.LearnUntil.Equal(t0.Add(time.Hour)) || fmt.Sprint(p.Binaries) != "[/app/web /bin/true]" || len(p.Connections) != 1 || p.Overflow != 2 {
			t.Fatalf("learning profile %+v", p)
		}
		if f := findings(); len(f) != 0 {
			t.Fatalf("findings while learning: %v", f)
		}
		// Locked: the same behaviour is clean, new behaviour is found,
		// once, from whichever node.
		after := t0.Add(2 * time.Hour)
		dev := profile.Observation{Workload: web, Binaries: []string{"/app/web", "/usr/bin/curl"}, Connections: []profile.Connection{toDB, toNet}}
		send(after, "n1", dev)
		send(after.Add(time.Minute), "n2", dev)
		got := findings()
		if strings.Join(got, ",") != "PAL-RT-009 Deployment/web@n1,PAL-RT-010 Deployment/web@n1" && strings.Join(got, ",") != "PAL-RT-010 Deployment/web@n1,PAL-RT-009 Deployment/web@n1" {
			t.Fatalf("deviation findings %v", got)
		}
		ps, _ = s.ListRuntimeProfiles(ctx, a.ID)
		if p := ps[0]; len(p.Binaries) != 2 || p.DeviationCount != 4 {
			t.Fatalf("a locked profile changed: %+v", p)
		}
		// Restart with the workload's own window: emptied, learning.
		p2, err := s.RelearnRuntimeProfile(ctx, a.ID, web, 10*time.Minute, after.Add(2*time.Minute))
		if err != nil || !p2.LearnUntil.Equal(after.Add(12*time.Minute)) || len(p2.Binaries) != 0 || p2.Window != 10*time.Minute {
			t.Fatalf("relearn: %+v %v", p2, err)
		}
		send(after.Add(3*time.Minute), "n1", dev)
		// A second restart without a window keeps the override.
		if p3, err := s.RelearnRuntimeProfile(ctx, a.ID, web, 0, after.Add(4*time.Minute)); err != nil || p3.Window != 10*time.Minute {
			t.Fatalf("relearn keeps the override: %+v %v", p3, err)
		}
		send(after.Add(5*time.Minute), "n1", dev)
		ps, _ = s.ListRuntimeProfiles(ctx, a.ID)
		if p := ps[0]; fmt.Sprint(p.Binaries) != "[/app/web /usr/bin/curl]" || len(p.Connections) != 2 {
			t.Fatalf("relearned profile %+v", p)
		}
		if f := findings(); len(f) != 2 {
			t.Fatalf("findings after relearning: %v", f)
		}
		// Quota: two profiles; a third workload is counted, not kept.
		send(after, "n1", profile.Observation{Workload: db, Binaries: []string{"/usr/bin/postgres"}})
		send(after, "n1", profile.Observation{Workload: profile.Workload{Namespace: "shop", Kind: "Deployment", Name: "extra"}, Binaries: []string{"/x"}})
		ps, _ = s.ListRuntimeProfiles(ctx, a.ID)
		dropped, err := s.RuntimeProfilesDropped(ctx)
		if len(ps) != 2 || err != nil || dropped[a.ID] != 1 {
			t.Fatalf("quota: %d profiles, dropped %v %v", len(ps), dropped, err)
		}
		if _, err := s.RelearnRuntimeProfile(ctx, a.ID, profile.Workload{Namespace: "x", Kind: "Pod", Name: "y"}, 0, after); !errors.Is(err, store.ErrQuota) {
			t.Fatalf("relearn over the quota: %v", err)
		}
		if _, err := s.RelearnRuntimeProfile(ctx, "no-such-cluster", web, 0, after); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("relearn in an unknown cluster: %v", err)
		}
		var ve *store.ValidationError
		if _, err := s.RelearnRuntimeProfile(ctx, a.ID, profile.Workload{Kind: "Pod"}, 0, after); !errors.As(err, &ve) {
			t.Fatalf("relearn of no workload: %v", err)
		}
		// Retention: db was updated at `after`, web later.
		n, err := s.PruneRuntimeProfiles(ctx, time.Hour, 0, after.Add(time.Hour+4*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v", n, err)
		}
		if ps, _ = s.ListRuntimeProfiles(ctx, ""); len(ps) != 1 || ps[0].Workload != web {
			t.Fatalf("kept %+v", ps)
		}
	})
}
