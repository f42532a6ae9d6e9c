package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/release"
)

// TestRuntimeManifestScansClean scans deploy/runtime, as released (image
// pinned by the release step), with Palisade's rules at the default gate:
// nothing may be found, and each exemption the sensor needs is taken by
// the manifest's own palisade.io/exempt annotation with its reason.
func TestRuntimeManifestScansClean(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../../deploy/runtime/runtime.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "runtime.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := release.RewriteDeploy(dir, "ghcr.io/palisade-sec/palisade-runtime", "sha256:"+strings.Repeat("5e", 32)); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := palisade(t, "", "scan", "config", file, "-o", "json", "--show-suppressed")
	if code != exitClean {
		t.Errorf("exit %d, want 0: %s\n%s", code, stderr, out)
	}
	var r struct {
		Findings []struct {
			RuleID      string                        `json:"ruleID"`
			Message     string                        `json:"message"`
			Suppressed  bool                          `json:"suppressed"`
			Suppression struct{ Kind, Reason string } `json:"suppression"`
		} `json:"findings"`
		Summary struct{ Objects, NotUnderstood int } `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Summary.Objects != 18 || r.Summary.NotUnderstood != 0 { // with the ledger ConfigMap, its Role and RoleBinding; the 8 image-file shards, their Role and RoleBinding
		t.Errorf("summary %+v", r.Summary)
	}
	exempted := map[string]bool{}
	for _, f := range r.Findings {
		if !f.Suppressed || f.Suppression.Kind != "annotation" || f.Suppression.Reason == "" {
			t.Errorf("finding %s not exempted with a reason: %s", f.RuleID, f.Message)
		}
		exempted[f.RuleID] = true
	}
	// The exemptions the sensor's privileges need, and no more.
	for _, rule := range []string{"pss/host-namespaces", "pss/capabilities-restricted", "hardening/run-as-root", "hardening/sensitive-host-path"} {
		if !exempted[rule] {
			t.Errorf("%s not raised: the manifest no longer needs its exemption, or the rule stopped seeing it", rule)
		}
	}
}
