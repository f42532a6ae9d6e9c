package hub

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/pgtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestFleetFrameworkScores: the hub scores each cluster from the rules its
// agent evaluates and the findings it reports, keeps the scores over time
// (a change is a new point) and serves the fleet's compliance per
// framework with the trend. On SQLite and on PostgreSQL.
func TestFleetFrameworkScores(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testFleetFrameworkScores(t, startHub(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := store.Open(context.Background(), pgtest.Shared(t).NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		testFleetFrameworkScores(t, startHubWith(t, Config{Store: st}))
	})
}

func testFleetFrameworkScores(t *testing.T, th *testHub) {
	ctx := context.Background()
	cert, a, _ := th.enrol(t, "edge-a")
	ca := th.client(cert)
	send := func(seq uint64, env fleetapi.Envelope) {
		t.Helper()
		env.Seq, env.Cluster = seq, a.ClusterID
		if resp, body := call(t, ca, "POST", th.url+fleetapi.PathReports, env, nil); resp.StatusCode != 200 {
			t.Fatalf("report %d: %d %s", seq, resp.StatusCode, body)
		}
	}
	pod := finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "web"}
	send(1, fleetapi.Envelope{Kind: fleetapi.KindInventory, Inventory: &fleetapi.Inventory{KubernetesVersion: "v1.37.2",
		Rules: []string{"pss/privileged", "pss/host-ports", "pss/host-namespaces"}}})
	send(2, fleetapi.Envelope{Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Full: true, Objects: []fleetapi.ObjectFindings{{
		Object: pod, Findings: []finding.Finding{{RuleID: "pss/privileged", Severity: finding.SeverityCritical, Title: "Privileged container", Object: pod}}}}}})

	tok, err := th.CreateAPIToken(ctx, "ci", store.RoleViewer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	get := func() map[string]FleetFramework {
		t.Helper()
		resp, body := call(t, th.client(nil), "GET", th.url+"/api/v1/frameworks", nil, map[string]string{"Authorization": "Bearer " + tok})
		if resp.StatusCode != 200 {
			t.Fatalf("frameworks: %d %s", resp.StatusCode, body)
		}
		var doc struct {
			Frameworks []FleetFramework `json:"frameworks"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		out := map[string]FleetFramework{}
		for _, f := range doc.Frameworks {
			out[f.Framework] = f
		}
		return out
	}
	pss := get()["pss-baseline"]
	// Three controls assessed (host-process and the others' checks were
	// not evaluated by the agent): privileged-containers failed,
	// host-ports and host-namespaces passed.
	if len(pss.Clusters) != 1 || pss.Clusters[0].Passed != 2 || pss.Clusters[0].Failed != 1 {
		t.Fatalf("pss-baseline clusters: %+v", pss.Clusters)
	}
	if pss.Score == nil || *pss.Score != 66.7 {
		t.Fatalf("fleet score %v, want 66.7", pss.Score)
	}
	// The hub's own loop may have recorded a point between the two
	// reports; the last point is the current score.
	n := len(pss.Trend)
	if n == 0 || *pss.Trend[n-1].Score != 66.7 {
		t.Fatalf("trend %+v, want it to end at 66.7", pss.Trend)
	}
	// Asking again without a change records nothing new.
	if again := get()["pss-baseline"]; len(again.Trend) != n {
		t.Fatalf("unchanged score recorded again: %d points, then %d", n, len(again.Trend))
	}
	// The fix arrives: a new point, score 100.
	send(3, fleetapi.Envelope{Kind: fleetapi.KindFindings, Findings: &fleetapi.FindingsDelta{Full: true}})
	fixed := get()["pss-baseline"]
	if fixed.Score == nil || *fixed.Score != 100 || len(fixed.Trend) != n+1 || *fixed.Trend[n-1].Score != 66.7 || *fixed.Trend[n].Score != 100 {
		t.Fatalf("after the fix: score %v trend %+v", fixed.Score, fixed.Trend)
	}
	if resp, _ := call(t, th.client(nil), "GET", th.url+"/api/v1/frameworks?days=0", nil, map[string]string{"Authorization": "Bearer " + tok}); resp.StatusCode != 400 {
		t.Errorf("days=0: %d, want 400", resp.StatusCode)
	}
}
