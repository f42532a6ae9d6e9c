package hub_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// TestDashboardShowsAdmissionDrops: the cluster page says how many of its
// admission events were dropped over its quota, and says nothing when
// none were.
func TestDashboardShowsAdmissionDrops(t *testing.T) {
	h := hubtest.Start(t)
	fleet := hubtest.SeedFleet(t, h)
	amd, arm := fleet.IDs["edge-amd-02"], fleet.IDs["edge-arm-01"]
	if n, err := h.Store.PruneAdmissionEvents(context.Background(), amd, store.Retention{PerCluster: 1}, h.Clock.Now()); err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want 1", n, err)
	}
	b := newBrowser(t, h)
	if resp := b.login(hubtest.ViewerUser, hubtest.ViewerPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{{amd, true}, {arm, false}} {
		resp, page := b.do("GET", "/clusters/"+tc.id, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", tc.id, resp.StatusCode)
		}
		if got := strings.Contains(page, "1 dropped over quota"); got != tc.want {
			t.Errorf("cluster %s page shows the drop: %v, want %v", tc.id, got, tc.want)
		}
	}
}
