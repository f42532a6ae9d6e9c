package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// bruteForce recomputes what the counters hold from the findings rows.
func bruteForce(t *testing.T, s store.Store) (map[string]map[string]int, map[string][2]int) {
	t.Helper()
	fs, err := s.ListFindings(context.Background(), store.FindingQuery{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sev := map[string]map[string]int{}
	clusters := map[string]map[string]bool{}
	objects := map[string]map[string]bool{}
	for _, f := range fs {
		if sev[f.ClusterID] == nil {
			sev[f.ClusterID] = map[string]int{}
		}
		sev[f.ClusterID][f.Severity.String()]++
		if clusters[f.RuleID] == nil {
			clusters[f.RuleID], objects[f.RuleID] = map[string]bool{}, map[string]bool{}
		}
		clusters[f.RuleID][f.ClusterID] = true
		objects[f.RuleID][f.ClusterID+"/"+store.ObjectKey(f.Object)] = true
	}
	rules := map[string][2]int{}
	for r := range clusters {
		rules[r] = [2]int{len(clusters[r]), len(objects[r])}
	}
	return sev, rules
}

func checkCounters(t *testing.T, s store.Store, step string) {
	t.Helper()
	ctx := context.Background()
	wantSev, wantRules := bruteForce(t, s)
	cs, err := s.ListClusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := map[string]int{}
	for _, c := range cs {
		for sev, n := range c.Findings {
			if want := wantSev[c.ID][sev]; n != want {
				t.Fatalf("%s: cluster %s %s = %d, want %d", step, c.Name, sev, n, want)
			}
			total[sev] += n
		}
	}
	all := 0
	for _, n := range total {
		all += n
	}
	if n, err := s.CountFindings(ctx, store.FindingQuery{}); err != nil || n != all {
		t.Fatalf("%s: CountFindings = %d (%v), want %d", step, n, err, all)
	}
	high := total["HIGH"] + total["CRITICAL"]
	if n, err := s.CountFindings(ctx, store.FindingQuery{MinSeverity: finding.SeverityHigh}); err != nil || n != high {
		t.Fatalf("%s: CountFindings(HIGH) = %d (%v), want %d", step, n, err, high)
	}
	sum, err := s.FleetSummary(ctx, store.Cutoffs(t0, time.Minute, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for sev, n := range total {
		if sum.Findings[sev] != n {
			t.Fatalf("%s: summary %s = %d, want %d", step, sev, sum.Findings[sev], n)
		}
	}
	comp, err := s.Compliance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, r := range comp {
		if r.FailingClusters > 0 {
			got[r.RuleID] = [2]int{r.FailingClusters, r.FailingObjects}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(wantRules) {
		t.Fatalf("%s: compliance %v, want %v", step, got, wantRules)
	}
}

// TestCountersFollowIngest applies random deltas (new, changed, cleaned,
// deleted and suppressed findings, full snapshots, replays) and checks
// after each that the counters equal a recount of the findings rows.
func TestCountersFollowIngest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		agents := []string{"agent-a", "agent-b"}
		for _, a := range agents {
			enrolled(t, s, "cluster-"+a, a)
		}
		rng := rand.New(rand.NewPCG(8, 8))
		rules := []string{"r1", "r2", "r3"}
		sevs := []finding.Severity{finding.SeverityLow, finding.SeverityHigh, finding.SeverityCritical}
		obj := func(i int) fleetapi.ObjectFindings {
			name := fmt.Sprintf("p%d", rng.IntN(12))
			o := fleetapi.ObjectFindings{Object: finding.ObjectRef{Kind: "Pod", Namespace: "ns", Name: name}, Findings: []finding.Finding{}}
			for range rng.IntN(4) {
				f := fnd("Pod", "ns", name, rules[rng.IntN(len(rules))], sevs[rng.IntN(len(sevs))])
				f.Message = fmt.Sprintf("m%d", rng.IntN(3))
				f.Suppressed = rng.IntN(5) == 0
				o.Findings = append(o.Findings, f)
			}
			return o
		}
		seq := map[string]uint64{}
		for step := range 60 {
			a := agents[rng.IntN(len(agents))]
			seq[a]++
			d := &fleetapi.FindingsDelta{Full: rng.IntN(10) == 0}
			for i := range rng.IntN(5) {
				d.Objects = append(d.Objects, obj(i))
			}
			if rng.IntN(4) == 0 {
				d.Deleted = append(d.Deleted, finding.ObjectRef{Kind: "Pod", Namespace: "ns", Name: fmt.Sprintf("p%d", rng.IntN(12))})
			}
			env := &fleetapi.Envelope{Seq: seq[a], Kind: fleetapi.KindFindings, Findings: d}
			if _, err := s.Ingest(ctx, a, env, t0); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(6) == 0 { // a replay changes nothing
				if applied, err := s.Ingest(ctx, a, env, t0); err != nil || applied {
					t.Fatalf("replay applied=%v err=%v", applied, err)
				}
			}
			checkCounters(t, s, fmt.Sprintf("step %d", step))
		}
	})
}

func TestQueryClustersAndImages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		var names []string
		for i := range 7 {
			n := fmt.Sprintf("edge-%02d", i)
			names = append(names, n)
			enrolled(t, s, n, "agent-"+n)
		}
		enrolled(t, s, "Core_1", "agent-core")
		// edge-00 online, edge-01 stale, edge-02 offline, the rest never seen.
		for i, age := range []time.Duration{10 * time.Second, 5 * time.Minute, 2 * time.Hour} {
			if err := s.Heartbeat(ctx, "agent-"+names[i], fleetapi.Heartbeat{}, t0.Add(-age)); err != nil {
				t.Fatal(err)
			}
		}
		cut := store.Cutoffs(t0, time.Minute, time.Hour)
		tests := []struct {
			name  string
			q     store.ClusterQuery
			want  []string
			total int
		}{
			{"first page", store.ClusterQuery{Limit: 3}, []string{"Core_1", "edge-00", "edge-01"}, 8},
			{"second page", store.ClusterQuery{Limit: 3, Offset: 3}, []string{"edge-02", "edge-03", "edge-04"}, 8},
			{"search is case-insensitive", store.ClusterQuery{Search: "CORE"}, []string{"Core_1"}, 1},
			{"underscore is literal", store.ClusterQuery{Search: "_"}, []string{"Core_1"}, 1},
			{"online", store.ClusterQuery{State: fleetapi.StateOnline, Cutoffs: cut}, []string{"edge-00"}, 1},
			{"stale", store.ClusterQuery{State: fleetapi.StateStale, Cutoffs: cut}, []string{"edge-01"}, 1},
			{"offline", store.ClusterQuery{State: fleetapi.StateOffline, Cutoffs: cut}, []string{"edge-02"}, 1},
			{"never seen", store.ClusterQuery{State: fleetapi.StateNeverSeen, Cutoffs: cut, Limit: 2}, []string{"Core_1", "edge-03"}, 5},
		}
		for _, tt := range tests {
			cs, total, err := s.QueryClusters(ctx, tt.q)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, c.Name)
				if st := c.State(t0, time.Minute, time.Hour); tt.q.State != "" && st != tt.q.State {
					t.Errorf("%s: %s is %s", tt.name, c.Name, st)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || total != tt.total {
				t.Errorf("%s: %v (total %d), want %v (%d)", tt.name, got, total, tt.want, tt.total)
			}
		}
		sum, err := s.FleetSummary(ctx, cut)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Clusters != 8 || sum.States[fleetapi.StateOnline] != 1 || sum.States[fleetapi.StateStale] != 1 ||
			sum.States[fleetapi.StateOffline] != 1 || sum.States[fleetapi.StateNeverSeen] != 5 {
			t.Fatalf("summary %+v", sum)
		}

		uses := []fleetapi.ImageUse{{Ref: "nginx:1", Digest: "sha256:aa", Workloads: 1}, {Ref: "redis:7", Digest: "sha256:bb", Workloads: 2}, {Ref: "busybox", Workloads: 1}}
		if _, err := s.Ingest(ctx, "agent-edge-00", &fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: uses}}, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Ingest(ctx, "agent-edge-01", &fleetapi.Envelope{Seq: 1, Kind: fleetapi.KindImages, Images: &fleetapi.ImageSet{Images: uses[:1]}}, t0); err != nil {
			t.Fatal(err)
		}
		vuln := finding.Finding{Severity: finding.SeverityHigh, Vulnerability: &finding.Vulnerability{ID: "CVE-1", Package: finding.VulnerablePackage{Name: "zlib"}, Installed: "1"}}
		if _, err := s.Ingest(ctx, "agent-edge-00", &fleetapi.Envelope{Seq: 2, Kind: fleetapi.KindImageScan, ImageScan: &fleetapi.ImageScan{Digest: "sha256:aa", Vulnerabilities: []finding.Finding{vuln}}}, t0); err != nil {
			t.Fatal(err)
		}
		itests := []struct {
			name  string
			q     store.ImageQuery
			want  []string
			total int
		}{
			{"all", store.ImageQuery{}, []string{"busybox", "nginx:1", "nginx:1", "redis:7"}, 4},
			{"page", store.ImageQuery{Limit: 2, Offset: 1}, []string{"nginx:1", "nginx:1"}, 4},
			{"by digest", store.ImageQuery{Digest: "sha256:aa"}, []string{"nginx:1", "nginx:1"}, 2},
			{"search", store.ImageQuery{Search: "REDIS"}, []string{"redis:7"}, 1},
		}
		for _, tt := range itests {
			ims, total, err := s.QueryImages(ctx, tt.q)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []string
			for _, im := range ims {
				got = append(got, im.Ref)
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || total != tt.total {
				t.Errorf("%s: %v (total %d), want %v (%d)", tt.name, got, total, tt.want, tt.total)
			}
		}
		scanned, _, _ := s.QueryClusters(ctx, store.ClusterQuery{Search: "edge-00"})
		ims, _, _ := s.QueryImages(ctx, store.ImageQuery{Digest: "sha256:aa"})
		for _, im := range ims {
			want := 0
			if im.ClusterID == scanned[0].ID {
				want = 1 // only edge-00's agent scanned it
			}
			if im.Vulnerabilities["HIGH"] != want {
				t.Errorf("image %s in %s: %v", im.Ref, im.ClusterID, im.Vulnerabilities)
			}
		}
	})
}
