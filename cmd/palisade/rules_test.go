package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/baseline"
	"github.com/palisade-sec/palisade/internal/finding"
)

// riskyDeployment adds SYS_ADMIN and mounts a hostPath: HIGH at every
// Pod Security level.
const riskyDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: %NS%}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: registry.example.com/agent:1
        securityContext:
          capabilities: {add: [SYS_ADMIN]}
        volumeMounts: [{name: host, mountPath: /host}]
      volumes:
      - name: host
        hostPath: {path: /var/lib}
`

func TestSeverityFollowsRiskAtEveryLevel(t *testing.T) {
	in := strings.ReplaceAll(riskyDeployment, "%NS%", "ops")
	privilegedNS := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ops\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n---\n" + in
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  int
	}{
		{"default level", in, nil, exitFindings},
		{"restricted", in, []string{"--pss-level", "restricted"}, exitFindings},
		{"baseline", in, []string{"--pss-level", "baseline"}, exitFindings},
		{"privileged namespace in the input", privilegedNS, []string{"--rules", "pss-restricted"}, exitClean},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "config", "-", "--fail-on", "high"}, tt.args...)
			if _, stderr, code := palisade(t, tt.stdin, args...); code != tt.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.want, stderr)
			}
		})
	}
}

// A namespace labelled privileged switches the Pod Security checks off,
// but its workloads' findings stay visible, suppressed with the reason.
func TestPrivilegedNamespaceFindingsSuppressed(t *testing.T) {
	in := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ops\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n---\n" +
		strings.ReplaceAll(riskyDeployment, "%NS%", "ops")
	out, stderr, code := palisade(t, in, "scan", "config", "-", "--rules", "pss-baseline", "-o", "json")
	if code != exitClean {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	var r finding.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		if f.Suppression != nil {
			got = append(got, f.RuleID+" "+f.Suppression.Kind+": "+f.Suppression.Reason)
		}
	}
	want := "pss/host-path-volumes namespace-policy: namespace ops enforces the privileged Pod Security level\n" +
		"pss/capabilities-baseline namespace-policy: namespace ops enforces the privileged Pod Security level"
	if strings.Join(got, "\n") != want || r.Summary.Suppressed != 2 {
		t.Errorf("suppressed findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

// The former ID hardening/resources keeps selecting, exempting and
// describing the four rules it was split into.
func TestFormerResourcesID(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x%s}\nspec:\n  containers: [{name: a, image: nginx}]\n"
	ruleIDs := func(out string) string {
		var r finding.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, f := range r.Findings {
			if !f.Suppressed {
				ids = append(ids, f.RuleID)
			}
		}
		return strings.Join(ids, " ")
	}
	out, _, _ := palisade(t, strings.Replace(pod, "%s", "", 1), "scan", "config", "-", "--rules", "hardening/resources", "-o", "json")
	if got, want := ruleIDs(out), "hardening/memory-limits hardening/cpu-limits hardening/cpu-requests hardening/memory-requests"; got != want {
		t.Errorf("--rules hardening/resources: %s, want %s", got, want)
	}
	exempt := strings.Replace(pod, "%s", `, annotations: {palisade.io/exempt: "hardening/resources: sized by the VPA"}`, 1)
	out, _, code := palisade(t, exempt, "scan", "config", "-", "--rules", "hardening", "-o", "json")
	if got := ruleIDs(out); strings.Contains(got, "-limits") || strings.Contains(got, "-requests") || code != exitFindings {
		t.Errorf("exempted by former ID, still reported: %s (exit %d)", got, code)
	}
	out, _, code = palisade(t, "", "rules", "show", "hardening/resources")
	for _, id := range []string{"hardening/cpu-requests", "hardening/cpu-limits", "hardening/memory-requests", "hardening/memory-limits", "aliases: hardening/resources"} {
		if code != 0 || !strings.Contains(out, id) {
			t.Errorf("rules show hardening/resources (exit %d) does not mention %s:\n%s", code, id, out)
		}
	}
}

// A baseline written when the resource rule was hardening/resources keeps
// accepting the findings of the four rules it was split into.
func TestBaselineUnderFormerResourcesID(t *testing.T) {
	repo := t.TempDir()
	manifest := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: app, image: nginx}\n"
	if err := os.WriteFile(filepath.Join(repo, "web.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := palisade(t, "", "scan", "repo", repo, "--rules", "hardening/memory-limits", "-o", "json")
	var r finding.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != exitFindings || len(r.Findings) != 1 {
		t.Fatalf("exit %d, findings %+v (%v)", code, r.Findings, err)
	}
	old := r.Findings[0]
	old.RuleID = "hardening/resources"
	bl := filepath.Join(t.TempDir(), "baseline.json")
	if err := baseline.FromReport(&finding.Report{Findings: []finding.Finding{old}}, repo).WriteFile(bl); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := palisade(t, "", "scan", "repo", repo, "--rules", "hardening/resources", "--baseline", bl, "--fail-on", "low", "-o", "json")
	r = finding.Report{}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != exitClean {
		t.Fatalf("exit %d (%v); stderr: %s", code, err, stderr)
	}
	if len(r.Findings) != 4 || r.Summary.Suppressed != 4 {
		t.Errorf("findings %+v, want the four resource findings accepted by the baseline", r.Findings)
	}
}
