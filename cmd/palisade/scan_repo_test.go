package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// writeRepo lays out a small repository: a chart, a kustomize base and
// overlay, a plain manifest and a Dockerfile.
func writeRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"charts/app/Chart.yaml":  "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"charts/app/values.yaml": "privileged: false\n",
		"charts/app/templates/pod.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-app
spec:
  containers:
  - name: app
    image: registry.example.com/app:1.0
    securityContext:
      privileged: {{ .Values.privileged }}
`,
		"k8s/base/kustomization.yaml":          "resources:\n- pod.yaml\n",
		"k8s/base/pod.yaml":                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: api\nspec:\n  containers:\n  - name: api\n    image: registry.example.com/api:1.0\n",
		"k8s/overlays/prod/kustomization.yaml": "namespace: prod\nresources:\n- ../../base\n",
		"manifests/job.yaml":                   "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: once\n        image: busybox\n",
		"Dockerfile":                           "FROM debian\nRUN apt-get update\n",
		".git/config.yaml":                     "not: scanned\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanRepo(t *testing.T) {
	repo := writeRepo(t)
	out, stderr, code := palisade(t, "", "scan", "repo", repo, "-o", "json", "--fail-on", "critical")
	if code != 0 {
		t.Fatalf("exit %d (no critical finding yet): %s", code, stderr)
	}
	var r finding.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, f := range r.Findings {
		rel, _ := filepath.Rel(repo, f.File)
		files[filepath.ToSlash(rel)] = true
	}
	for _, want := range []string{"charts/app/templates/pod.yaml", "k8s/base/pod.yaml", "manifests/job.yaml", "Dockerfile"} {
		if !files[want] {
			t.Errorf("no finding in %s; files with findings: %v", want, files)
		}
	}

	// Adopt with a baseline, then introduce a privileged container: only
	// the new finding counts, even though lines moved.
	bl := filepath.Join(t.TempDir(), "baseline.json")
	if _, stderr, code := palisade(t, "", "scan", "repo", repo, "--write-baseline", bl); code != 0 {
		t.Fatalf("write baseline: exit %d: %s", code, stderr)
	}
	if _, _, code := palisade(t, "", "scan", "repo", repo, "--baseline", bl, "--fail-on", "low"); code != 0 {
		t.Errorf("unchanged repo with its baseline: exit %d, want 0", code)
	}
	job := filepath.Join(repo, "manifests/job.yaml")
	data, _ := os.ReadFile(job)
	if err := os.WriteFile(job, append([]byte("# moved down\n\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = palisade(t, "", "scan", "repo", repo, "--baseline", bl, "--set", "privileged=true", "-o", "json", "--fail-on", "high")
	if code != 1 {
		t.Fatalf("new privileged container: exit %d, want 1", code)
	}
	r = finding.Report{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var fresh []string
	for _, f := range r.Findings {
		if !f.Suppressed {
			fresh = append(fresh, f.RuleID)
		} else if f.Suppression == nil || f.Suppression.Kind != "baseline" {
			t.Errorf("suppressed finding without a baseline suppression: %+v", f)
		}
	}
	if strings.Join(fresh, ",") != "pss/privileged" {
		t.Errorf("new findings %v, want only pss/privileged", fresh)
	}
}

func TestScanRepoBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no dir", []string{"scan", "repo"}, 2, "exactly one DIR"},
		{"not a dir", []string{"scan", "repo", "scan_repo_test.go"}, 2, "not a directory"},
		{"both baselines", []string{"scan", "repo", ".", "--baseline", "a", "--write-baseline", "b"}, 2, "exclude each other"},
		{"bad ci", []string{"scan", "repo", ".", "--ci", "jenkins"}, 2, "--ci must be"},
		{"missing baseline", []string{"scan", "config", "../../examples/manifests", "--baseline", "/nonexistent.json"}, 2, "/nonexistent.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := palisade(t, "", tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d stderr %q, want %d and %q", code, stderr, tc.code, tc.err)
			}
		})
	}
}

func TestCIGroups(t *testing.T) {
	repo := writeRepo(t)
	tests := []struct {
		mode        string
		env         map[string]string
		start, stop string
	}{
		{mode: "github", start: "::group::", stop: "::endgroup::"},
		{mode: "gitlab", start: "section_start:", stop: "section_end:"},
		{mode: "plain", start: "==> ", stop: ""},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			out, _, code := palisade(t, "", "scan", "repo", repo, "--ci", tc.mode, "--fail-on", "none")
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			if !strings.Contains(out, tc.start) || !strings.Contains(out, tc.stop) {
				t.Errorf("no groups in:\n%s", out)
			}
			if !strings.Contains(out, "palisade: ") {
				t.Errorf("no summary line in:\n%s", out)
			}
			if strings.Contains(out, "\x1b[3") || strings.Contains(out, "\x1b[1") {
				t.Errorf("colour codes in CI output:\n%q", out)
			}
		})
	}
}
