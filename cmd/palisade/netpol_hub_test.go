package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/hubtest"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// TestNetpolFromHub: netpol generate and diff read the learned profiles
// from a real hub's API (GET /api/v1/runtime/profiles) with a viewer API
// token, and every way of not getting them exits 2 naming the hub and the
// cluster.
func TestNetpolFromHub(t *testing.T) {
	h := hubtest.Start(t)
	a := h.Enrol(t, "edge-shop")
	var x profile.Export
	if err := json.Unmarshal([]byte(observedShop), &x); err != nil {
		t.Fatal(err)
	}
	var obs []profile.Observation
	for _, p := range x.Profiles {
		obs = append(obs, profile.Observation{Workload: p.Workload, Binaries: p.Binaries, Connections: p.Connections})
	}
	a.Report(t, fleetapi.KindRuntime, &fleetapi.RuntimeReport{Node: "n1", Observations: obs})

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tok, err := h.CreateAPIToken(context.Background(), "netpol", store.RoleViewer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token := write("token", tok+"\n")
	ca := write("ca.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.CACertificate().Raw})))
	shop := filepath.Join("..", "..", "examples", "netpol", "shop")
	hubArgs := func(cluster string) []string {
		return []string{"--hub", h.URL, "--hub-cluster", cluster, "--hub-token-file", token, "--hub-ca-file", ca}
	}

	gen, stderr, code := palisade(t, "", append(append([]string{"netpol", "generate"}, hubArgs("edge-shop")...), shop)...)
	if code != exitClean || !strings.Contains(gen, "name: allow-web") || !strings.Contains(gen, "cidr: 10.0.0.7/32") || !strings.Contains(stderr, "proof:") {
		t.Fatalf("generate from the hub: exit %d, stderr %s\n%s", code, stderr, gen)
	}
	// The same as from the saved export.
	saved := write("profiles.json", observedShop)
	fromFile, _, code := palisade(t, "", "netpol", "generate", "--from-observed", saved, shop)
	if code != exitClean || fromFile != gen {
		t.Fatalf("generate from the file (exit %d) differs from the hub's:\n%s\n---\n%s", code, fromFile, gen)
	}
	// By the cluster's ID too, and diff reads the hub as well.
	out, stderr, code := palisade(t, "", append(append([]string{"netpol", "diff", "-o", "json"}, hubArgs(a.ClusterID)...), shop)...)
	if code == exitError || !strings.Contains(out, `"ruleID": "netpol/allowed-never-used"`) {
		t.Fatalf("diff from the hub: exit %d, stderr %s\n%s", code, stderr, out)
	}

	t.Setenv("PALISADE_HUB_TOKEN", tok)
	bad := write("bad-token", "pat_nope\n")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown cluster", hubArgs("edge-nope"), []string{h.URL, `cluster "edge-nope"`, "404"}},
		{"refused token", []string{"--hub", h.URL, "--hub-cluster", "edge-shop", "--hub-token-file", bad, "--hub-ca-file", ca}, []string{h.URL, `cluster "edge-shop"`, "401"}},
		{"untrusted certificate", []string{"--hub", h.URL, "--hub-cluster", "edge-shop", "--hub-token-file", token}, []string{h.URL, `cluster "edge-shop"`, "certificate"}},
		{"no hub there", []string{"--hub", "https://127.0.0.1:1", "--hub-cluster", "edge-shop", "--hub-ca-file", ca}, []string{"127.0.0.1:1", `cluster "edge-shop"`}},
		{"no cluster", []string{"--hub", h.URL, "--hub-ca-file", ca}, []string{"--hub-cluster is required"}},
		{"plain http", []string{"--hub", "http://127.0.0.1:1", "--hub-cluster", "edge-shop"}, []string{"only https"}},
		{"file and hub", append([]string{"--from-observed", saved}, hubArgs("edge-shop")...), []string{"not both"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := palisade(t, "", append(append([]string{"netpol", "generate"}, tc.args...), shop)...)
			if code != exitError {
				t.Fatalf("exit %d, want %d; stderr %s", code, exitError, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
		})
	}
}
