package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

const privilegedPod = `apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: shop}
spec:
  containers:
  - {name: app, image: nginx:1.25, securityContext: {privileged: true}}
`

func compliance(t *testing.T, out string) []finding.Compliance {
	t.Helper()
	var doc struct {
		Compliance []finding.Compliance `json:"compliance"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return doc.Compliance
}

func control(c finding.Compliance, id string) finding.ControlResult {
	for _, ctl := range c.Controls {
		if ctl.ID == id {
			return ctl
		}
	}
	return finding.ControlResult{}
}

func TestScanConfigFramework(t *testing.T) {
	out, stderr, code := palisade(t, privilegedPod, "scan", "config", "-", "--framework", "PSS-Baseline,cis", "-o", "json")
	if code != exitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	comps := compliance(t, out)
	if len(comps) != 2 || comps[0].Framework != "pss-baseline" || comps[1].Framework != "cis" {
		t.Fatalf("compliance: %+v", comps)
	}
	pss := comps[0]
	if got := control(pss, "baseline/privileged-containers").Status; got != finding.ControlFailed {
		t.Errorf("privileged-containers %s, want failed", got)
	}
	if pss.Score == nil || pss.Failed != 1 || pss.Passed != len(pss.Controls)-1 {
		t.Errorf("pss-baseline score %v passed %d failed %d", pss.Score, pss.Passed, pss.Failed)
	}
	cis := comps[1]
	if got := control(cis, "1.2.1").Status; got != finding.ControlNotApplicable {
		t.Errorf("CIS 1.2.1 in a config scan: %s, want not-applicable", got)
	}
	if got := control(cis, "5.1.3"); got.Status != finding.ControlNotApplicable || !strings.Contains(got.Reason, "no input") {
		t.Errorf("CIS 5.1.3 with no RBAC object: %+v, want not applicable for lack of input", got)
	}
	if got := control(cis, "5.2.2").Status; got != finding.ControlFailed {
		t.Errorf("CIS 5.2.2: %s, want failed", got)
	}
}

func TestFrameworkErrors(t *testing.T) {
	for _, args := range [][]string{
		{"scan", "config", "-", "--framework", "pci"},
		{"scan", "config", "-", "--rules", "ksv-9999"},
		{"rules", "list", "--rules", "mitre:T9999"},
	} {
		if _, _, code := palisade(t, privilegedPod, args...); code != exitError {
			t.Errorf("%v: exit %d, want %d", args, code, exitError)
		}
	}
	// A Dockerfile-only scan assesses no Pod Security control: no score,
	// exit 2, never a clean compliance report.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM alpine:3.20@sha256:"+strings.Repeat("a", 64)+"\nUSER 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := palisade(t, "", "scan", "config", dir, "--framework", "pss-baseline", "-o", "json")
	if code != exitError || !strings.Contains(stderr, "no compliance score") {
		t.Errorf("no workload to assess: exit %d, want %d (%s)", code, exitError, stderr)
	}
	if comps := compliance(t, out); len(comps) != 1 || comps[0].Score != nil || comps[0].Passed != 0 {
		t.Errorf("compliance of nothing: %+v", comps)
	}
}

func TestNodeAuditFramework(t *testing.T) {
	root := filepath.Join("..", "..", "internal", "nodeaudit", "testdata", "hosts", "kubeadm", "bad")
	out, stderr, code := palisade(t, "", "node", "audit", "--root", root, "--framework", "cis", "-o", "json")
	if code != exitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	comps := compliance(t, out)
	if len(comps) != 1 || comps[0].Score == nil || comps[0].Failed == 0 {
		t.Fatalf("compliance: %+v", comps)
	}
	if got := control(comps[0], "5.2.2").Status; got != finding.ControlNotApplicable {
		t.Errorf("CIS 5.2.2 in a node audit: %s, want not-applicable", got)
	}
	out, _, _ = palisade(t, "", "node", "audit", "--root", root, "--rules", "cis-2.*", "-o", "json")
	var doc struct {
		Findings []finding.Finding `json:"findings"`
	}
	json.Unmarshal([]byte(out), &doc)
	for _, f := range doc.Findings {
		if !strings.HasPrefix(f.RuleID, "node/etcd-") {
			t.Errorf("--rules cis-2.* ran %s", f.RuleID)
		}
	}
}
