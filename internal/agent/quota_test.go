package agent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestFindingsQuotaWithRealAgent: a real agent whose cluster grows past
// the hub's findings quota has its reports refused (413); it drops the
// refused report, keeps reporting (heartbeats, other reports) and sends
// its next findings as a full snapshot; the hub records the refusal on
// the cluster (state reports-refused). Once the cluster's findings fit
// again, the snapshot is applied, the hub holds exactly the cluster's
// findings and the refusal is cleared.
func TestFindingsQuotaWithRealAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.OpenSQLite(ctx, t.TempDir()+"/hub.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, url, tok := serveHub(ctx, t, hub.Config{Store: st}, "edge-quota")
	const ns = "quota"
	client := fake.NewClientset(insecureDeployment(ns, "app-0"))
	a := runFaultAgent(ctx, t, agent.Config{HubURL: url, Token: tok, CAFingerprint: h.CAFingerprint(), Client: client, Namespace: ns})
	cluster := func() store.Cluster {
		c, err := st.GetCluster(ctx, a.ClusterID())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	waitFor(t, "the first snapshot", time.Minute, func() bool { return a.ClusterID() != "" && cluster().FindingRows > 0 })
	per := cluster().FindingRows
	// Room for three such Deployments.
	st.SetIngestLimits(store.IngestLimits{FindingsPerCluster: 3 * per})
	for i := 1; i < 6; i++ {
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, insecureDeployment(ns, fmt.Sprintf("app-%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a report refused over the quota", time.Minute, func() bool { return cluster().QuotaRefused >= 2 })
	// How many of the new Deployments reached the hub before the quota
	// refused a report depends on how the agent's debounce grouped the
	// creations (all in one report on a fast machine, one by one on a
	// loaded one). Whatever the grouping: every applied report fitted,
	// and a refused one left nothing behind (whole Deployments only).
	c := cluster()
	if c.FindingRows < per || c.FindingRows > 3*per || c.FindingRows%per != 0 || c.QuotaRefusedAt.IsZero() {
		t.Errorf("over quota: the hub holds %d findings rows (want whole Deployments of %d rows within the quota of %d), refused at %v",
			c.FindingRows, per, 3*per, c.QuotaRefusedAt)
	}
	if st := a.OutboxStats(); st.Dropped != 0 {
		t.Errorf("the outbox dropped reports: %+v", st)
	}
	if v := refusedView(t, h, c); v != fleetapi.StateRefused {
		t.Errorf("cluster over quota shown %s, want %s", v, fleetapi.StateRefused)
	}
	// The operator's cluster shrinks: the agent's full snapshot fits.
	for i := 3; i < 6; i++ {
		if err := client.AppsV1().Deployments(ns).Delete(ctx, fmt.Sprintf("app-%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the snapshot within the quota applied", time.Minute, func() bool {
		c := cluster()
		return c.QuotaRefusedAt.IsZero() && c.FindingRows == 3*per
	})
	if v := refusedView(t, h, cluster()); v != fleetapi.StateOnline {
		t.Errorf("cluster back within its quota shown %s, want online", v)
	}
}

// refusedView is the cluster's state as the hub's API shows it.
func refusedView(t *testing.T, h *hub.Hub, c store.Cluster) fleetapi.ClusterState {
	t.Helper()
	return h.ClusterView(c).State
}
