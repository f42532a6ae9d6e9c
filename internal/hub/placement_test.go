package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
)

// TestPlaceAPI asks POST /api/v1/place with a viewer API token, including
// required node affinity operators.
func TestPlaceAPI(t *testing.T) {
	h := hubtest.Start(t)
	hubtest.SeedFleet(t, h)
	tok, err := h.CreateAPIToken(context.Background(), "placer", "viewer", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		req      hub.PlacementRequest
		firstFit string
		fits     int
	}{
		{"affinity In", hub.PlacementRequest{Namespace: "sensors", Images: []hub.PlacementImage{{Ref: hubtest.SensorRef}},
			RequiredAffinity: [][]hub.NodeRequirement{{{Key: "palisade.dev/sensor", Operator: "In", Values: []string{"lidar", "radar"}}}}}, "edge-arm-01", 2},
		{"affinity DoesNotExist or a second term", hub.PlacementRequest{Namespace: "sensors", Images: []hub.PlacementImage{{Ref: "x", Platforms: []string{"linux/arm64"}}},
			RequiredAffinity: [][]hub.NodeRequirement{{{Key: "palisade.dev/sensor", Operator: "DoesNotExist"}}, {{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{"pi-stale-1"}}}}}, "edge-arm-01", 2},
		{"NotIn excludes every node", hub.PlacementRequest{Namespace: "sensors", Images: []hub.PlacementImage{{Ref: "x", Platforms: []string{"linux/arm64"}}},
			RequiredAffinity: [][]hub.NodeRequirement{{{Key: "kubernetes.io/os", Operator: "NotIn", Values: []string{"linux"}}}}}, "", 0},
		{"daemonset on amd64", hub.PlacementRequest{Namespace: "web", DaemonSet: true, CPUMilli: 1000, Images: []hub.PlacementImage{{Ref: "x", Platforms: []string{"linux/amd64"}}}}, "", 0},
	}
	for _, tt := range tests {
		b, _ := json.Marshal(tt.req)
		req, _ := http.NewRequest("POST", h.URL+"/api/v1/place", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := h.Client(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Placements []hub.Placement }
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", tt.name, resp.StatusCode, err)
		}
		fits := 0
		for _, p := range out.Placements {
			if p.Fits {
				fits++
			}
		}
		if fits != tt.fits || (tt.firstFit != "" && out.Placements[0].ClusterName != tt.firstFit) {
			t.Errorf("%s: %d fit, first %s: %+v", tt.name, fits, out.Placements[0].ClusterName, out.Placements[0].Checks)
		}
	}
	// Anonymous callers get nothing.
	resp, err := h.Client(nil).Post(h.URL+"/api/v1/place", "application/json", bytes.NewReader([]byte(`{}`)))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous place: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestClustersAPIPages(t *testing.T) {
	h := hubtest.Start(t)
	hubtest.SeedFleet(t, h)
	tok, err := h.CreateAPIToken(context.Background(), "reader", "viewer", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query  string
		status int
		total  int
		names  int
	}{
		{"", 200, 5, 5},
		{"?limit=2&offset=1", 200, 5, 2},
		{"?state=stale", 200, 1, 1},
		{"?q=edge&state=online", 200, 2, 2},
		{"?state=bogus", 400, 0, 0},
		{"?limit=x", 400, 0, 0},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", h.URL+"/api/v1/clusters"+tt.query, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := h.Client(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Total    int
			Clusters []hub.ClusterView
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.status == 200 && (out.Total != tt.total || len(out.Clusters) != tt.names)) {
			t.Errorf("%s: %d total %d clusters %d", tt.query, resp.StatusCode, out.Total, len(out.Clusters))
		}
	}
}

// TestPlaceEncryptionAndPodSecurity: only an etcd-level verification
// passes the encryption check; a configured provider, or "verified"
// claimed from a configuration, or an etcd verification older than
// DefaultEncryptionMaxAge (or without a time), stays unknown (and fails
// with Strict);
// plaintext fails. The pod-security check reads the reported labels.
func TestPlaceEncryptionAndPodSecurity(t *testing.T) {
	h := hubtest.Start(t)
	now := h.Clock.Now()
	enc := func(status, level, provider, detail string) *fleetapi.EncryptionAtRest {
		return &fleetapi.EncryptionAtRest{Status: status, Verification: level, Provider: provider, Detail: detail, CheckedAt: now.Add(-2 * time.Hour)}
	}
	tests := []struct {
		cluster string
		enc     *fleetapi.EncryptionAtRest
		pss     map[string]string
		result  string // encryption check
		reason  string
		psa     string // pod-security check for namespace "app"
	}{
		{"etcd-verified", enc(fleetapi.EncryptionVerified, fleetapi.VerificationEtcd, "secretbox", ""), map[string]string{"app": "restricted"},
			hub.CheckPass, "verified encrypted at rest with secretbox, read from etcd (verification: etcd, checked 2h", hub.CheckPass},
		{"config-only", enc(fleetapi.EncryptionConfigured, fleetapi.VerificationConfig, "aescbc", ""), map[string]string{"app": "baseline"},
			hub.CheckUnknown, "configured with aescbc, but the stored Secrets were not read from etcd", hub.CheckPass},
		{"claims-verified", enc(fleetapi.EncryptionVerified, fleetapi.VerificationConfig, "aescbc", ""), map[string]string{"app": ""},
			hub.CheckUnknown, "reported verified without reading etcd (verification: config", hub.CheckFail},
		{"no-level", enc(fleetapi.EncryptionVerified, "", "aescbc", ""), map[string]string{"app": "privileged"},
			hub.CheckUnknown, "reported verified without reading etcd", hub.CheckFail},
		{"plaintext", enc(fleetapi.EncryptionNotEncrypted, fleetapi.VerificationEtcd, "", "3 of 9 Secrets stored as plaintext in etcd"), map[string]string{"other": "restricted"},
			hub.CheckFail, "not encrypted at rest (verification: etcd, checked 2h", hub.CheckFail},
		{"no-flag", enc(fleetapi.EncryptionNotEncrypted, fleetapi.VerificationFlags, "", "the API server runs without --encryption-provider-config"), map[string]string{"app": "restricted"},
			hub.CheckFail, "without --encryption-provider-config", hub.CheckPass},
		{"not-reported", nil, nil, hub.CheckUnknown, "not reported by the agent", hub.CheckUnknown},
		{"etcd-verified-long-ago", &fleetapi.EncryptionAtRest{Status: fleetapi.EncryptionVerified, Verification: fleetapi.VerificationEtcd, Provider: "secretbox", CheckedAt: now.Add(-hub.DefaultEncryptionMaxAge - time.Hour)},
			map[string]string{"app": "restricted"}, hub.CheckUnknown, "but longer ago than 168h0m0s", hub.CheckPass},
		{"etcd-verified-no-time", &fleetapi.EncryptionAtRest{Status: fleetapi.EncryptionVerified, Verification: fleetapi.VerificationEtcd, Provider: "secretbox"},
			map[string]string{"app": "restricted"}, hub.CheckUnknown, "but longer ago than", hub.CheckPass},
	}
	for _, tt := range tests {
		a := h.Enrol(t, tt.cluster)
		a.Report(t, fleetapi.KindInventory, fleetapi.Inventory{KubernetesVersion: "v1.37.2", Distribution: "kubeadm", PodSecurity: tt.pss, EncryptionAtRest: tt.enc,
			Nodes: []fleetapi.Node{{Name: "n1", OS: "linux", Architecture: "amd64", Conditions: map[string]string{"Ready": "True"}}}})
		a.Heartbeat(t)
	}
	for _, strict := range []bool{false, true} {
		ps, err := h.Place(context.Background(), hub.PlacementRequest{Namespace: "app", Images: []hub.PlacementImage{{Ref: "x", Platforms: []string{"linux/amd64"}}}, Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]hub.PlacementCheck{}
		for _, p := range ps {
			got[p.ClusterName] = map[string]hub.PlacementCheck{}
			for _, c := range p.Checks {
				got[p.ClusterName][c.Name] = c
			}
		}
		for _, tt := range tests {
			want := tt.result
			if strict && want == hub.CheckUnknown {
				want = hub.CheckFail
			}
			c := got[tt.cluster][hub.CheckEncryption]
			if c.Result != want || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("strict=%v %s: encryption %s %q, want %s with %q", strict, tt.cluster, c.Result, c.Reason, want, tt.reason)
			}
			psa := tt.psa
			if strict && psa == hub.CheckUnknown {
				psa = hub.CheckFail
			}
			if c := got[tt.cluster][hub.CheckPodSecurity]; c.Result != psa {
				t.Errorf("strict=%v %s: pod-security %s %q, want %s", strict, tt.cluster, c.Result, c.Reason, psa)
			}
		}
		if !strict && (ps[0].ClusterName != "etcd-verified" || !ps[0].Fits) {
			t.Errorf("first placement %s (fits %v), want etcd-verified", ps[0].ClusterName, ps[0].Fits)
		}
	}
}

// TestPlaceNeverOffersRevokedCluster: a revoked cluster, however recently
// its agent reported, is shown revoked and never fits a placement.
func TestPlaceNeverOffersRevokedCluster(t *testing.T) {
	h := hubtest.Start(t)
	fleet := hubtest.SeedFleet(t, h)
	req := hub.PlacementRequest{Namespace: "sensors", Images: []hub.PlacementImage{{Ref: hubtest.SensorRef}}}
	fitting := func() map[string]bool {
		ps, err := h.Place(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, p := range ps {
			if p.Fits {
				out[p.ClusterName] = true
			}
		}
		return out
	}
	if !fitting()["edge-arm-01"] {
		t.Fatal("edge-arm-01 does not fit before the revocation: the test sees nothing")
	}
	if _, err := h.RevokeCluster(context.Background(), fleet.IDs["edge-arm-01"]); err != nil {
		t.Fatal(err)
	}
	if fitting()["edge-arm-01"] {
		t.Error("place offers revoked cluster edge-arm-01")
	}
	c, err := h.Store.GetCluster(context.Background(), fleet.IDs["edge-arm-01"])
	if err != nil {
		t.Fatal(err)
	}
	if st := c.State(h.Clock.Now(), 90*time.Second, 10*time.Minute); st != fleetapi.StateRevoked {
		t.Errorf("revoked cluster shown %s", st)
	}
}
