package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
)

// Repository shape for `scan repo`: 100 Helm charts and 100 kustomize
// overlays (each over its own base), 50 objects each: 10,000 objects,
// half Deployments, half Services.
const (
	repoCharts     = 100
	repoOverlays   = 100
	objectsPerUnit = 50
)

// writeScanRepo lays out the generated repository (deterministic, so it
// is kept in the temporary directory between runs).
func writeScanRepo(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "palisade-bench-scanrepo-v1")
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	write := func(path, content string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	const tmpl = `{{- range $i := until (int .Values.count) }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $.Release.Name }}-{{ $.Chart.Name }}-{{ $i }}
  labels: {app: {{ $.Chart.Name }}-{{ $i }}}
spec:
  replicas: {{ $.Values.replicas }}
  selector: {matchLabels: {app: {{ $.Chart.Name }}-{{ $i }}}}
  template:
    metadata: {labels: {app: {{ $.Chart.Name }}-{{ $i }}}}
    spec:
      containers:
      - name: app
        image: {{ $.Values.image }}
        resources: {limits: {cpu: 100m, memory: 64Mi}}
        securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: {{ $.Values.escalate }}}
      - name: sidecar
        image: registry.example.com/proxy:1.2
---
apiVersion: v1
kind: Service
metadata: {name: {{ $.Release.Name }}-{{ $.Chart.Name }}-{{ $i }}}
spec:
  selector: {app: {{ $.Chart.Name }}-{{ $i }}}
  ports: [{port: 80}]
{{- end }}
`
	for c := range repoCharts {
		d := filepath.Join(dir, "charts", fmt.Sprintf("svc%03d", c))
		write(filepath.Join(d, "Chart.yaml"), fmt.Sprintf("apiVersion: v2\nname: svc%03d\nversion: 0.1.0\n", c))
		write(filepath.Join(d, "values.yaml"), fmt.Sprintf("count: %d\nreplicas: 2\nimage: registry.example.com/svc%03d:1.0\nescalate: %v\n", objectsPerUnit/2, c, c%3 == 0))
		write(filepath.Join(d, "templates", "app.yaml"), tmpl)
		write(filepath.Join(d, "templates", "_helpers.tpl"), `{{- define "x" -}}x{{- end -}}`)
	}
	for k := range repoOverlays {
		base := filepath.Join(dir, "kustomize", fmt.Sprintf("app%03d", k), "base")
		var res []string
		for i := range objectsPerUnit / 2 {
			name := fmt.Sprintf("w%02d", i)
			res = append(res, name+".yaml")
			write(filepath.Join(base, name+".yaml"), fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers:
      - name: app
        image: registry.example.com/app%03d:1.0
---
apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  selector: {app: %s}
  ports: [{port: 80}]
`, name, name, name, k, name, name))
		}
		write(filepath.Join(base, "kustomization.yaml"), "resources:\n- "+strings.Join(res, "\n- ")+"\n")
		write(filepath.Join(base, "..", "overlays", "prod", "kustomization.yaml"),
			fmt.Sprintf("namespace: app%03d\nnamePrefix: prod-\nresources:\n- ../../base\n", k))
	}
	write(done, "")
	return dir
}

// BenchmarkScanRepo renders and scans the generated repository in
// process, as `palisade scan repo -o json` does: every chart and overlay
// rendered, every built-in rule, the JSON report.
func BenchmarkScanRepo(b *testing.B) {
	dir := writeScanRepo(b)
	set, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	sel, err := set.Select([]string{"-cluster"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := scan.Config(context.Background(), scan.ConfigInput{Paths: []string{dir}}, scan.Options{Rules: sel})
		if err != nil {
			b.Fatal(err)
		}
		if err := report.Write(io.Discard, report.FormatJSON, r, report.Options{}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Summary.Objects), "objects")
		b.ReportMetric(float64(len(r.Findings)), "findings")
		b.ReportMetric(float64(r.Summary.Errors), "errors")
	}
}

// BenchmarkScanRepoProcess runs the palisade binary on the generated
// repository and reports its wall time and peak RSS (the kernel's
// maxrss of the child), the figures users see.
func BenchmarkScanRepoProcess(b *testing.B) {
	dir := writeScanRepo(b)
	bin := filepath.Join(b.TempDir(), "palisade")
	build := exec.Command("go", "build", "-o", bin, "./cmd/palisade")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	b.ResetTimer()
	var maxRSS int64
	var wall time.Duration
	for b.Loop() {
		cmd := exec.Command(bin, "scan", "repo", dir, "-o", "json", "--output-file", os.DevNull, "--fail-on", "none", "-q")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		wall += time.Since(start)
		if err != nil {
			b.Fatalf("scan repo: %v\n%s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			maxRSS = max(maxRSS, ru.Maxrss) // KiB on Linux
		}
	}
	b.ReportMetric(float64(maxRSS)/1024, "peak-RSS-MiB")
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/op")
}
