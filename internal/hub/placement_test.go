package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

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
