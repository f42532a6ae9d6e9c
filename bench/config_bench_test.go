// Package bench holds Palisade's benchmarks. They report figures; they
// never assert timings. See bench/README.md for how to run them.
package bench

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"

	"github.com/palisade-sec/palisade/bench/internal/gen"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
)

var (
	corpusOnce sync.Once
	corpusDir  string
	corpusErr  error
)

// corpus10k writes the 10,000-object corpus once per test binary.
func corpus10k(b *testing.B) string {
	corpusOnce.Do(func() {
		corpusDir = filepath.Join(b.TempDir(), "corpus")
		corpusErr = gen.WriteCorpus(corpusDir, 10000, 50, 1)
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
