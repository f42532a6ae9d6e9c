package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// hostileMessage has characters that break naive HTML, XML, YAML and
// terminals: markup, quotes, a second line, BEL and an ANSI escape.
const hostileMessage = "Env var \"DB_<PASS>\" in container 'app' holds a literal secret & leaks it.\n" +
	"Second line: <script>alert(1)</script>\x07 bell \x1b[31mred]]> end"

// testReport is the fixed report behind the golden files: every severity,
// a suppression by annotation and one by policy with expiry, a live-cluster
// object without a file, a hostile message, a file with no line, a rule
// missing from Rules, and both kinds of problem.
func testReport() *finding.Report {
	expires := time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
	cis := finding.Reference{Title: "CIS Kubernetes Benchmark 5.2.2", URL: "https://www.cisecurity.org/benchmark/kubernetes"}
	pss := finding.Reference{Title: "Pod Security Standards: Baseline", URL: "https://kubernetes.io/docs/concepts/security/pod-security-standards/"}
	web := finding.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod", Name: "web"}
	findings := []finding.Finding{
		{
			RuleID: "PS-K8S-001", Severity: finding.SeverityCritical, Title: "Privileged container",
			Message: `Container "app" runs privileged, which gives it every capability of the host kernel and access to all host devices; an escape from it is an escape to the node.`,
			Object:  web, File: "manifests/web.yaml", Line: 21,
			Field:     "spec.template.spec.containers[0].securityContext.privileged",
			Container: "app", Remediation: "Set securityContext.privileged to false.",
		},
		{
			RuleID: "PS-K8S-002", Severity: finding.SeverityHigh, Title: "Host network",
			Message: "Pod shares the node's network namespace.",
			Object:  web, File: "manifests/web.yaml", Line: 12, Field: "spec.template.spec.hostNetwork",
			Suppressed:  true,
			Suppression: &finding.Suppression{Kind: "annotation", Reason: "ingress controller needs host ports"},
		},
		{
			RuleID: "PS-K8S-010", Severity: finding.SeverityMedium, Title: "No resource limits",
			Message: `Container "api" sets no memory limit.`,
			Object:  finding.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod", Name: "api"},
			File:    "manifests/api.yaml", Line: 30, Container: "api",
			Field:       "spec.template.spec.containers[0].resources.limits.memory",
			Suppressed:  true,
			Suppression: &finding.Suppression{Kind: "policy", Reason: "limits tracked in OPS-42", Expires: &expires},
		},
		{
			RuleID: "PS-K8S-020", Severity: finding.SeverityLow, Title: "Service account token mounted",
			Message: "Pod mounts the default service account token but never calls the API.",
			Object:  finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "kube-system", Name: "debug"},
		},
		{
			RuleID: "PS-K8S-030", Severity: finding.SeverityHigh, Title: "Secret in environment variable",
			Message: hostileMessage,
			Object:  finding.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod", Name: "worker"},
			File:    "manifests/my app/values & more.yaml", Line: 7, Container: "app",
			Field: "spec.template.spec.containers[0].env[2].value",
		},
		{
			RuleID: "PS-DF-001", Severity: finding.SeverityMedium, Title: "Image runs as root",
			Message: "The final stage has no USER instruction, so the container runs as root.",
			Object:  finding.ObjectRef{Kind: "Dockerfile", Name: "build/Dockerfile"},
			File:    "build/Dockerfile", Remediation: "Add a USER instruction with a non-root user.",
		},
	}
	problems := []finding.Problem{
		{File: "manifests/broken.yaml", Line: 3, Level: finding.LevelError, Message: "yaml: line 3: mapping values are not allowed in this context"},
		{File: "manifests/kustomization.yaml", Level: finding.LevelNote, Message: "not a Kubernetes object (kind Kustomization), skipped"},
	}
	// Rules are deliberately out of order, and PS-DF-001 is missing.
	rules := []finding.RuleInfo{
		{ID: "PS-K8S-030", Title: "Secret in environment variable", Severity: finding.SeverityHigh,
			Description: "Literal secrets in env end up in the pod spec, in etcd and in every `kubectl get -o yaml`.",
			Remediation: "Use valueFrom.secretKeyRef.", Tags: []string{"secrets"}},
		{ID: "PS-K8S-001", Title: "Privileged container", Severity: finding.SeverityCritical,
			Description: "A privileged container runs with all capabilities and device access of the host.",
			Remediation: "Set securityContext.privileged to false.",
			References:  []finding.Reference{cis, pss}, Tags: []string{"pod-security", "cis"}},
		{ID: "PS-K8S-002", Title: "Host network", Severity: finding.SeverityHigh,
			Description: "Sharing the node's network namespace exposes host-local services.",
			References:  []finding.Reference{{Title: "Pod Security Standards: Baseline"}, pss}},
		{ID: "PS-K8S-010", Title: "No resource limits", Severity: finding.SeverityMedium,
			Description: "Without limits one container can starve the node."},
		{ID: "PS-K8S-020", Title: "Service account token mounted", Severity: finding.SeverityLow,
			Description: "An unused token is a credential waiting to be stolen.",
			Remediation: "Set automountServiceAccountToken: false."},
	}
	return finding.NewReport(findings, problems, 6, rules)
}

// emptyReport is a clean scan: no findings, no problems, no rules.
func emptyReport() *finding.Report { return finding.NewReport(nil, nil, 3, nil) }

func render(t *testing.T, f Format, r *finding.Report, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f, r, opts); err != nil {
		t.Fatalf("Write(%s): %v", f, err)
	}
	return buf.Bytes()
}

var sarifOpts = Options{ToolVersion: "0.1.0-test", InformationURI: "https://github.com/palisade-sec/palisade"}

// checkGolden compares got with testdata/golden/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./internal/report -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %q\nwant: %q\n(run go test ./internal/report -update if the change is intended)", name, i+1, g, w)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		golden string
		format Format
		report *finding.Report
		opts   Options
	}{
		{"report.table.txt", FormatTable, testReport(), Options{}},
		{"report-suppressed-color.table.txt", FormatTable, testReport(), Options{Color: true, ShowSuppressed: true}},
		{"report-width-120.table.txt", FormatTable, testReport(), Options{Width: 120}},
		{"report.json", FormatJSON, testReport(), Options{}},
		{"report.yaml", FormatYAML, testReport(), Options{}},
		{"report.sarif", FormatSARIF, testReport(), sarifOpts},
		{"report.junit.xml", FormatJUnit, testReport(), Options{}},
		{"empty.table.txt", FormatTable, emptyReport(), Options{}},
		{"empty.json", FormatJSON, emptyReport(), Options{}},
		{"empty.yaml", FormatYAML, emptyReport(), Options{}},
		{"empty.sarif", FormatSARIF, emptyReport(), sarifOpts},
		{"empty.junit.xml", FormatJUnit, emptyReport(), Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got := render(t, tt.format, tt.report, tt.opts)
			checkGolden(t, tt.golden, got)
			// Determinism: a second rendering, from a report whose rules
			// come in another order, gives the same bytes.
			again := *tt.report
			again.Rules = append([]finding.RuleInfo(nil), again.Rules...)
			for i, j := 0, len(again.Rules)-1; i < j; i, j = i+1, j-1 {
				again.Rules[i], again.Rules[j] = again.Rules[j], again.Rules[i]
			}
			if second := render(t, tt.format, &again, tt.opts); !bytes.Equal(got, second) {
				t.Errorf("second rendering differs from the first")
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"table", FormatTable, false},
		{"JSON", FormatJSON, false},
		{" yaml ", FormatYAML, false},
		{"sarif", FormatSARIF, false},
		{"junit", FormatJUnit, false},
		{"xml", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), strings.Join(Formats(), ", ")) {
			t.Errorf("ParseFormat(%q) error %q does not list the valid formats", tt.in, err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Format("html"), testReport(), Options{}); err == nil {
		t.Error("Write with an unknown format: no error")
	}
	if err := Write(&buf, FormatJSON, nil, Options{}); err == nil {
		t.Error("Write with a nil report: no error")
	}
	if buf.Len() != 0 {
		t.Errorf("failed writes wrote %q", buf.String())
	}
}

// TestWriteDoesNotModifyReport guards the promise that renderers only read.
func TestWriteDoesNotModifyReport(t *testing.T) {
	r := testReport()
	r.Findings[0], r.Findings[1] = r.Findings[1], r.Findings[0]
	before := render(t, FormatJSON, r, Options{})
	for _, f := range Formats() {
		render(t, Format(f), r, Options{Color: true, ShowSuppressed: true})
	}
	if after := render(t, FormatJSON, r, Options{}); !bytes.Equal(before, after) {
		t.Error("rendering changed the report")
	}
}
