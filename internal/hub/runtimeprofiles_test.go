package hub_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// TestRuntimeProfilesAPI: an agent's observations become a learning
// profile, exported per cluster in the format netpol reads; once the
// window has passed a deviation is a PAL-RT-009 finding on the API and the
// Runtime page; an admin restarts the window with the workload's own
// length, a viewer may not; bad requests are 400s.
func TestRuntimeProfilesAPI(t *testing.T) {
	h := hubtest.Start(t)
	hubtest.SeedFleet(t, h) // the users
	a := h.Enrol(t, "edge-p")
	web := profile.Workload{Namespace: "shop", Kind: "Deployment", Name: "web"}
	a.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n1", Observations: []profile.Observation{{Workload: web, Binaries: []string{"/app/web"},
		Connections: []profile.Connection{{Direction: profile.Egress, Peer: profile.Peer{CIDR: "10.96.0.10/32"}, Port: 53, Protocol: profile.UDP}}}}})

	b := newBrowser(t, h)
	if resp := b.login(hubtest.AdminUser, hubtest.AdminPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	b.do("GET", "/runtime", nil, nil) // the page's CSRF token
	export := func() *profile.Export {
		t.Helper()
		resp, body := b.do("GET", "/api/v1/runtime/profiles?cluster="+a.ClusterID, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export: %d %s", resp.StatusCode, body)
		}
		x, err := profile.ReadExport(strings.NewReader(body), "export")
		if err != nil {
			t.Fatalf("the export does not read back: %v", err)
		}
		return x
	}
	x := export()
	if x.Cluster != a.ClusterID || len(x.Profiles) != 1 || x.Profiles[0].State != "learning" || x.Profiles[0].Workload != web || len(x.Profiles[0].Connections) != 1 {
		t.Fatalf("export %+v", x)
	}
	for _, q := range []struct {
		query string
		code  int
	}{{"", http.StatusBadRequest}, {"?cluster=nope", http.StatusNotFound}} {
		if resp, body := b.do("GET", "/api/v1/runtime/profiles"+q.query, nil, nil); resp.StatusCode != q.code {
			t.Errorf("profiles%s: %d %s, want %d", q.query, resp.StatusCode, body, q.code)
		}
	}

	post := func(c *http.Client, csrf string, req any) (int, string) {
		t.Helper()
		raw, _ := json.Marshal(req)
		r, _ := http.NewRequest("POST", h.URL+"/api/v1/runtime/profiles/learn", bytes.NewReader(raw))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-CSRF-Token", csrf)
		resp, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	// The default window is a day (agents' certificates would expire in
	// the test's clock): restart with a one-minute window, learn, let it pass.
	if code, body := post(b.c, b.csrf, map[string]string{"cluster": a.ClusterID, "namespace": "shop", "kind": "Deployment", "name": "web", "window": "1m"}); code != http.StatusOK {
		t.Fatalf("restart: %d %s", code, body)
	}
	a.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n1", Observations: []profile.Observation{{Workload: web, Binaries: []string{"/app/web"}}}})
	h.Clock.Set(h.Clock.Now().Add(2 * time.Minute))
	a.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n2", Observations: []profile.Observation{{Workload: web, Binaries: []string{"/app/web", "/usr/bin/curl"}}}})
	if x := export(); x.Profiles[0].State != "locked" || x.Profiles[0].DeviationCount != 1 {
		t.Fatalf("after the window: %+v", x.Profiles[0])
	}
	resp, body := b.do("GET", "/api/v1/runtime/findings?rule=PAL-RT-009", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/usr/bin/curl") || !strings.Contains(body, `"Node":"n2"`) {
		t.Fatalf("deviation finding: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do("GET", "/runtime", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="runtime-profiles"`) || !strings.Contains(body, "shop/web") || !strings.Contains(body, "mode-locked") || !strings.Contains(body, "PAL-RT-009") {
		t.Fatalf("runtime page: %d", resp.StatusCode)
	}

	for _, tc := range []struct {
		name string
		req  map[string]string
		code int
		want string
	}{
		{"restart with its own window", map[string]string{"cluster": a.ClusterID, "namespace": "shop", "kind": "Deployment", "name": "web", "window": "2h"}, http.StatusOK, `"state":"learning"`},
		{"bad window", map[string]string{"cluster": a.ClusterID, "namespace": "shop", "kind": "Deployment", "name": "web", "window": "forever"}, http.StatusBadRequest, "window"},
		{"no workload", map[string]string{"cluster": a.ClusterID}, http.StatusBadRequest, "workload"},
		{"unknown cluster", map[string]string{"cluster": "nope", "namespace": "shop", "kind": "Deployment", "name": "web"}, http.StatusNotFound, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(b.c, b.csrf, tc.req)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s, want %d with %q", code, body, tc.code, tc.want)
			}
		})
	}
	x = export()
	if p := x.Profiles[0]; p.State != "learning" || len(p.Binaries) != 0 || p.Window != 2*time.Hour || !p.LearnUntil.Equal(h.Clock.Now().Add(2*time.Hour)) {
		t.Fatalf("restarted profile %+v", p)
	}
	v := newBrowser(t, h)
	if resp := v.login(hubtest.ViewerUser, hubtest.ViewerPassword, "/runtime"); resp.StatusCode != http.StatusSeeOther {
		t.Fatal("viewer login")
	}
	v.do("GET", "/runtime", nil, nil)
	if code, _ := post(v.c, v.csrf, map[string]string{"cluster": a.ClusterID, "namespace": "shop", "kind": "Deployment", "name": "web"}); code != http.StatusForbidden {
		t.Errorf("a viewer restarted learning: %d", code)
	}
}
