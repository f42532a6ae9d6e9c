package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestBundlesSurviveRestartWithHubDown: a policy bundle with a custom rule
// is published on the real hub, fetched and applied; the agent and the hub
// stop; the agent starts again while the hub is down and applies the rule
// from its verified cache alone (its bundle fetch fails), so the findings
// and inventory it queues meanwhile carry the rule; they reach the hub
// when it returns.
func TestBundlesSurviveRestartWithHubDown(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	p := newHubProc(t)
	state := t.TempDir()
	a, stop := runAgent(t, ctx, p, "bundle-edge", client, ns, state)
	policy, err := os.ReadFile(filepath.Join("testdata", "team-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.h.PublishBundle(ctx, fleetapi.BundlePolicy, "teams", "", policy); err != nil {
		t.Fatal(err)
	}
	if err := a.FetchBundles(ctx); err != nil {
		t.Fatal(err)
	}
	clusterID := a.ClusterID()
	rules := func() []string { return hubInventory(t, ctx, p, clusterID).Rules }
	waitFor(t, "the custom rule in the inventory", time.Minute, func() bool { return slices.Contains(rules(), "custom/team-label") })

	stop()
	p.stop()
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, insecureDeployment(ns, "no-team"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ = runAgent(t, ctx, p, "", client, ns, state)
	if err := a.FetchBundles(ctx); err == nil {
		t.Fatal("fetched bundles from a stopped hub")
	}
	waitFor(t, "reports queued while the hub is down", 30*time.Second, func() bool { return a.OutboxStats().Pending > 0 })
	p.start()
	waitFor(t, "the custom rule's finding from the cached bundle", time.Minute, func() bool {
		fs, err := p.st.ListFindings(ctx, store.FindingQuery{ClusterID: clusterID, RuleID: "custom/team-label", Limit: 10})
		return err == nil && len(fs) == 1 && fs[0].Object.Name == "no-team"
	})
	if !slices.Contains(rules(), "custom/team-label") {
		t.Errorf("inventory rules after the restart: %v", rules())
	}
}
