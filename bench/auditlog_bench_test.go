package bench

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/palisade-sec/palisade/bench/internal/gen"
	"github.com/palisade-sec/palisade/internal/auditlog"
)

// BenchmarkAuditlogAnalyze measures events per second on one core with
// every detection, over 64 MiB of generated audit log held in memory.
func BenchmarkAuditlogAnalyze(b *testing.B) {
	var log bytes.Buffer
	if err := gen.WriteAuditLog(&log, 64<<20, 1); err != nil {
		b.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.SetBytes(int64(log.Len()))
	b.ResetTimer()
	events := 0
	for b.Loop() {
		engine, err := auditlog.NewEngine(auditlog.EngineOptions{})
		if err != nil {
			b.Fatal(err)
		}
		a, err := auditlog.Analyze(context.Background(), engine, auditlog.Reader{}, []string{"-"}, bytes.NewReader(log.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		events += a.Stats.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
