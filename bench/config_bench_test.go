// Package bench holds Palisade's benchmarks. They report figures; they
// never assert timings. See bench/README.md for how to run them.
package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/bench/internal/gen"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
	"github.com/palisade-sec/palisade/internal/workload"
)

var (
	corpusOnce sync.Once
	corpusDir  string
	corpusErr  error
)

// corpus10k writes the 10,000-object corpus once and returns its directory.
// The corpus is deterministic, so it is kept in the system's temporary
// directory and reused by later runs (b.TempDir would vanish after the
// first benchmark of a run).
func corpus10k(b *testing.B) string {
	corpusOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "palisade-bench-corpus10k-v1")
		done := filepath.Join(dir, ".complete")
		if _, err := os.Stat(done); err == nil {
			corpusDir = dir
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			corpusErr = err
			return
		}
		if corpusErr = gen.WriteCorpus(dir, 10000, 50, 1); corpusErr != nil {
			return
		}
		corpusErr = os.WriteFile(done, nil, 0o644)
		corpusDir = dir
	})
	if corpusErr != nil {
		b.Fatal(corpusErr)
	}
	return corpusDir
}

// BenchmarkScanConfig10k scans 10,000 workload objects with every built-in
// rule and renders the JSON report, as 'palisade scan config -o json' does.
func BenchmarkScanConfig10k(b *testing.B) {
	dir := corpus10k(b)
	set, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := scan.Config(context.Background(), scan.ConfigInput{Paths: []string{dir}}, scan.Options{Rules: set})
		if err != nil {
			b.Fatal(err)
		}
		if err := report.Write(io.Discard, report.FormatJSON, r, report.Options{}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(r.Findings)), "findings")
	}
}

// BenchmarkLoad10k reads and converts the 10,000-object corpus
// (manifest.Load only: splitting, YAML parsing, JSON conversion).
func BenchmarkLoad10k(b *testing.B) {
	dir := corpus10k(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		set, err := manifest.Load(context.Background(), []string{dir}, manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(set.Objects) != 10100 || len(set.Problems) != 0 {
			b.Fatalf("%d objects, problems %v", len(set.Objects), set.Problems)
		}
	}
}

// BenchmarkDecode10k decodes the loaded corpus into typed Kubernetes
// objects (workload.FromManifests).
func BenchmarkDecode10k(b *testing.B) {
	dir := corpus10k(b)
	set, err := manifest.Load(context.Background(), []string{dir}, manifest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		inv, probs := workload.FromManifests(set, "")
		if len(probs) != 0 || len(inv.Objects) != len(set.Objects) {
			b.Fatalf("%d objects of %d, problems %v", len(inv.Objects), len(set.Objects), probs)
		}
	}
}

// BenchmarkPhases10k times each phase of 'palisade scan config -o json'
// once per iteration and reports them as metrics (milliseconds).
func BenchmarkPhases10k(b *testing.B) {
	dir := corpus10k(b)
	rs, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var load, decode, eval, render time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		set, err := manifest.Load(context.Background(), []string{dir}, manifest.Options{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		inv, probs := workload.FromManifests(set, "")
		t2 := time.Now()
		r, err := scan.Evaluate(context.Background(), inv, nil, len(inv.Objects), probs, scan.Options{Rules: rs})
		if err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := report.Write(io.Discard, report.FormatJSON, r, report.Options{}); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		load += t1.Sub(t0)
		decode += t2.Sub(t1)
		eval += t3.Sub(t2)
		render += t4.Sub(t3)
		n++
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 / float64(n) }
	b.ReportMetric(ms(load), "load-ms")
	b.ReportMetric(ms(decode), "decode-ms")
	b.ReportMetric(ms(eval), "eval-ms")
	b.ReportMetric(ms(render), "render-ms")
}

// BenchmarkScanConfigProcess10k runs the palisade binary as users do,
// `palisade scan config CORPUS -o json`, once per iteration, and reports
// the median wall and CPU (user + system) time and the peak RSS of the
// child process (issue #18's figures: the goal is 0.5 s and 150 MiB with
// the default rules). "default" is the default gate; "all" adds the
// reliability rules (--rules '*').
func BenchmarkScanConfigProcess10k(b *testing.B) {
	dir := corpus10k(b)
	bin := palisadeBinary(b)
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"default", nil},
		{"all", []string{"--rules", "*"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			args := append([]string{"scan", "config", dir, "-o", "json", "--fail-on", "none", "--output-file", os.DevNull}, tc.extra...)
			var runs []runResult
			for b.Loop() {
				r := runPalisade(b, bin, args...)
				if r.code != 0 {
					b.Fatalf("palisade %v: exit %d: %s", args, r.code, r.stderr)
				}
				runs = append(runs, r)
			}
			reportRuns(b, "scan config "+tc.name, runs)
		})
	}
}
