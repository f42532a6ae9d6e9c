package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/palisade-sec/palisade/internal/release"
)

// TestHelmChartScansClean scans Palisade's own Helm chart with Palisade's
// rules at the default gate (--fail-on low), as released (image digests
// pinned by the release step), for the default values, the edge values
// file and every component on. Nothing may be found; what is exempted
// must be exempted by the chart's values (a component's `exemptions`,
// each with its reason), never by anything else.
func TestHelmChartScansClean(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "palisade")
	if err := os.CopyFS(chart, os.DirFS("../../deploy/helm/palisade")); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"ghcr.io/palisade-sec/palisade", "ghcr.io/palisade-sec/palisade-agent", "ghcr.io/palisade-sec/palisade-runtime"} {
		if _, err := release.RewriteDeploy(chart, repo, "sha256:"+strings.Repeat("5e", 32)); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := loader.LoadDir(chart)
	if err != nil {
		t.Fatal(err)
	}
	// rule ID -> the reasons given for it, from every component's
	// exemptions in values.yaml (components may exempt one rule for
	// different reasons).
	documented := map[string]map[string]bool{}
	for _, c := range []string{"hub", "agent", "admission", "runtime"} {
		ex, _ := ch.Values[c].(map[string]any)["exemptions"].(map[string]any)
		for rule, reason := range ex {
			if s, _ := reason.(string); s != "" {
				if documented[rule] == nil {
					documented[rule] = map[string]bool{}
				}
				documented[rule][s] = true
			}
		}
	}
	hub := "agent.hub.url=https://hub.example.com:8443,agent.hub.caFingerprint=sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name string
		args []string
	}{
		{"default values", nil},
		{"edge values", []string{"-f", filepath.Join(chart, "values-edge.yaml"), "--set", hub}},
		{"all components", []string{"--set", "agent.enabled=true,admission.enabled=true,runtime.enabled=true," + hub}},
		{"hub with PostgreSQL", []string{"--set", "hub.replicas=3,hub.database.existingSecret=db"}},
		{"runtime with overlay evidence", []string{"--set", "agent.enabled=true,runtime.enabled=true,runtime.overlayLayers.hostPaths={/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs}," + hub}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"scan", "config", chart, "--release-name", "palisade", "-n", "palisade-system", "-o", "json", "--show-suppressed"}, tc.args...)
			out, stderr, code := palisade(t, "", args...)
			if code != exitClean {
				t.Errorf("exit %d, want 0: %s\n%s", code, stderr, out)
			}
			var r struct {
				Findings []struct {
					RuleID      string `json:"ruleID"`
					Message     string `json:"message"`
					Suppressed  bool   `json:"suppressed"`
					Suppression struct {
						Kind, Reason string
					} `json:"suppression"`
				} `json:"findings"`
				Summary struct {
					Objects, Errors, NotUnderstood int
				} `json:"summary"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if r.Summary.Objects < 5 || r.Summary.Errors != 0 || r.Summary.NotUnderstood != 0 {
				t.Errorf("summary %+v", r.Summary)
			}
			for _, f := range r.Findings {
				switch {
				case !f.Suppressed:
					t.Errorf("finding %s: %s", f.RuleID, f.Message)
				case f.Suppression.Kind != "annotation" || !documented[f.RuleID][f.Suppression.Reason]:
					t.Errorf("%s exempted by %s (%q), not by the chart's values", f.RuleID, f.Suppression.Kind, f.Suppression.Reason)
				}
			}
		})
	}
}
