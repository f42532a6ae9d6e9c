package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureHost copies a node audit fixture tree and makes it secure (0600
// files, 0700 dirs) so only flag findings remain.
func fixtureHost(t *testing.T, tree string) string {
	t.Helper()
	src := filepath.Join("..", "..", "internal", "nodeaudit", "testdata", "hosts", tree)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestNodeAuditCommand(t *testing.T) {
	bad := fixtureHost(t, "kubeadm/bad")
	out, stderr, code := palisade(t, "", "node", "audit", "--root", bad, "-o", "json")
	if code != exitFindings {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	var doc struct {
		Findings []struct {
			RuleID string `json:"ruleID"`
			File   string `json:"file"`
		} `json:"findings"`
		Problems []struct{ Message string } `json:"problems"`
		Rules    []struct {
			ID         string
			References []struct{ Title string }
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, f := range doc.Findings {
		ids[f.RuleID] = f.File
	}
	if ids["node/apiserver-authorization-always-allow"] != "/etc/kubernetes/manifests/kube-apiserver.yaml" {
		t.Errorf("findings: %v", ids)
	}
	if len(doc.Problems) == 0 || !strings.Contains(doc.Problems[0].Message, "distribution kubeadm") {
		t.Errorf("first note: %+v", doc.Problems)
	}
	cis := false
	for _, r := range doc.Rules {
		for _, ref := range r.References {
			cis = cis || strings.HasPrefix(ref.Title, "CIS Kubernetes Benchmark v1.12 1.2.6")
		}
	}
	if !cis {
		t.Error("no CIS reference in the rules section")
	}

	good := fixtureHost(t, "microk8s/good")
	out, stderr, code = palisade(t, "", "node", "audit", "--root", good, "--fail-on", "medium")
	if code != exitClean {
		t.Fatalf("microk8s good: exit %d: %s%s", code, out, stderr)
	}
	if !strings.Contains(out, "not applicable: MicroK8s stores cluster state in dqlite") {
		t.Errorf("table lacks the not-applicable note:\n%s", out)
	}
	for _, format := range []string{"yaml", "sarif", "junit", "table"} {
		if _, stderr, code := palisade(t, "", "node", "audit", "--root", bad, "-o", format); code != exitFindings {
			t.Errorf("-o %s: exit %d: %s", format, code, stderr)
		}
	}
	if _, _, code := palisade(t, "", "node", "audit", "--root", good, "--distribution", "openshift"); code != exitError {
		t.Errorf("bad --distribution: exit %d", code)
	}
	if _, _, code := palisade(t, "", "node", "audit", "--root", filepath.Join(good, "nope")); code != exitError {
		t.Errorf("missing --root: exit %d", code)
	}
}

// TestNodeAuditNothingToAudit: an empty or missing --root exits 2 with a
// message saying what was looked for, in every format.
func TestNodeAuditNothingToAudit(t *testing.T) {
	empty := t.TempDir()
	for _, format := range []string{"table", "json"} {
		out, stderr, code := palisade(t, "", "node", "audit", "--root", empty, "-o", format)
		if code != exitError || !strings.Contains(out+stderr, "nothing to audit: no Kubernetes component found under --root "+empty) {
			t.Errorf("-o %s: exit %d, want 2 and the reason:\n%s%s", format, code, out, stderr)
		}
	}
	_, stderr, code := palisade(t, "", "node", "audit", "--root", filepath.Join(empty, "unmounted"))
	if code != exitError || !strings.Contains(stderr, "does not exist: nothing to audit") {
		t.Errorf("missing root: exit %d: %s", code, stderr)
	}
}

// TestNodeAuditAdmissionConfigMissing: an AdmissionConfiguration that the
// API server's flag names but the host lacks is an error (exit 2), never
// a clean audit.
func TestNodeAuditAdmissionConfigMissing(t *testing.T) {
	root := fixtureHost(t, "kubeadm/good")
	if err := os.Remove(filepath.Join(root, "etc/kubernetes/event-rate-limit.yaml")); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := palisade(t, "", "node", "audit", "--root", root, "--fail-on", "none", "-o", "json")
	if code != exitError {
		t.Fatalf("exit %d, want %d: %s", code, exitError, stderr)
	}
	if !strings.Contains(out, "/etc/kubernetes/event-rate-limit.yaml does not exist") {
		t.Errorf("report does not name the missing file:\n%s", out)
	}
}
