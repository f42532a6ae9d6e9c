package scan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
)

// scanFiles writes files into a temporary directory and scans it with the
// selected built-in rules.
func scanFiles(t *testing.T, files map[string]string, selectors ...string) (*finding.Report, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	all, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	set, err := all.Select(selectors)
	if err != nil {
		t.Fatal(err)
	}
	r, err := scan.Config(context.Background(), scan.ConfigInput{Paths: []string{dir}}, scan.Options{Rules: set})
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

// findingsOf renders findings as "rule object file:line", sorted.
func findingsOf(r *finding.Report, dir string) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, fmt.Sprintf("%s %s %s:%d", f.RuleID, f.Object, strings.TrimPrefix(f.File, dir+string(filepath.Separator)), f.Line))
	}
	slices.Sort(out)
	return out
}

func errorsOf(r *finding.Report) []string {
	var out []string
	for _, p := range r.Problems {
		if p.Level == finding.LevelError {
			out = append(out, p.Message)
		}
	}
	return out
}

const privilegedPodSpec = `
      containers:
      - name: app
        image: registry.example/app:1.0
        securityContext:
          privileged: true
`

func TestConfigAPIVersions(t *testing.T) {
	tests := []struct {
		name          string
		manifest      string
		want          []string // findings of pss/privileged and hardening/deprecated-api-version
		errors        []string // parts of the error problems expected
		scanned       int
		notUnderstood int
	}{
		{
			name: "extensions/v1beta1 DaemonSet",
			manifest: `apiVersion: extensions/v1beta1
kind: DaemonSet
metadata: {name: fluentd, namespace: logging}
spec:
  template:
    metadata: {labels: {app: fluentd}}
    spec:` + privilegedPodSpec,
			want: []string{
				"hardening/deprecated-api-version DaemonSet/logging/fluentd m.yaml:1",
				"pss/privileged DaemonSet/logging/fluentd m.yaml:9", // the container,
			},
			scanned: 1,
		},
		{
			name: "v1 Deployment",
			manifest: `apiVersion: v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:` + privilegedPodSpec,
			want: []string{
				"hardening/deprecated-api-version Deployment/shop/web m.yaml:1",
				"pss/privileged Deployment/shop/web m.yaml:8",
			},
			scanned: 1,
		},
		{
			name: "apps/v9 Deployment is not understood",
			manifest: `apiVersion: apps/v9
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:` + privilegedPodSpec + `---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
`,
			errors:        []string{`Deployment "web": apiVersion "apps/v9": Kubernetes serves Deployment as apps/v1; not understood, not evaluated`},
			scanned:       1,
			notUnderstood: 1,
		},
		{
			name: "v2 Pod alone: not understood and nothing scanned",
			manifest: `apiVersion: v2
kind: Pod
metadata: {name: p, namespace: shop}
spec:` + strings.ReplaceAll(privilegedPodSpec, "\n    ", "\n"),
			errors:        []string{`Pod "p": apiVersion "v2"`, "nothing to scan"},
			notUnderstood: 1,
		},
		{
			name:     "custom resources are scanned",
			manifest: "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n",
			scanned:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, dir := scanFiles(t, map[string]string{"m.yaml": tt.manifest}, "pss/privileged", "hardening/deprecated-api-version")
			if got := findingsOf(r, dir); !slices.Equal(got, tt.want) {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			errs := errorsOf(r)
			if len(errs) != len(tt.errors) {
				t.Fatalf("errors %q, want %d", errs, len(tt.errors))
			}
			for i, want := range tt.errors {
				if !strings.Contains(errs[i], want) {
					t.Errorf("error %q, want it to contain %q", errs[i], want)
				}
			}
			if r.Summary.Objects != tt.scanned || r.Summary.NotUnderstood == nil || *r.Summary.NotUnderstood != tt.notUnderstood {
				t.Errorf("summary: %d objects, %v not understood; want %d, %d", r.Summary.Objects, r.Summary.NotUnderstood, tt.scanned, tt.notUnderstood)
			}
			if r.Summary.Errors != len(tt.errors) {
				t.Errorf("summary: %d errors, want %d", r.Summary.Errors, len(tt.errors))
			}
		})
	}
}

func TestConfigNothingToScan(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"empty directory", map[string]string{}},
		{"only a values file", map[string]string{"values.yaml": "replicaCount: 1\nimage: {repository: nginx}\n"}},
		{"only comments", map[string]string{"m.yaml": "# nothing here\n---\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := scanFiles(t, tt.files)
			errs := errorsOf(r)
			if len(errs) != 1 || !strings.Contains(errs[0], "nothing to scan") {
				t.Errorf("errors %q, want one saying nothing to scan", errs)
			}
			if r.Summary.Errors != 1 || r.Summary.Objects != 0 {
				t.Errorf("summary %+v", r.Summary)
			}
		})
	}
}
