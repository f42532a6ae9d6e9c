package configcmd

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// A configuration scan's live heap is small next to what Go's default
// GOGC=100 lets the heap grow to (twice the live heap): on 10,000
// workloads ~60 MB live and ~130 MB of heap. scan config and scan repo
// therefore run under a soft memory limit (runtime/debug.SetMemoryLimit)
// that follows the live heap: after every collection it is set to the
// larger of minScanMemoryLimit and 1.25 times the live heap (plus
// scanMemorySlack for stacks and runtime metadata). Small scans are
// collected before they pass 100 MiB; a large one (more findings, more
// objects) keeps a quarter of its live heap as headroom, as GOGC=25
// would, so the collector never runs back to back. A soft limit never
// makes a scan fail.
//
// The headroom was half the live heap until 2026-12-07. The live heap
// that a collection measures swings by ~10 MB between a scan's phases
// (and counts what is allocated while it marks), so the limit followed
// whichever sample was highest: on 10,000 workloads 60-70 MB live gave
// limits of 106-121 MB, above the 100 MiB floor, and a peak RSS of
// 149-153 MiB. With a quarter, that scan stays under the floor (148-150
// MiB) for the same CPU; one with every rule selected (~80 MB live)
// peaks 14 MiB lower for ~5% more CPU (bench/README.md).
// GOMEMLIMIT, when set, is the user's choice and wins. Figures in
// bench/README.md.
//
// Under the limit, GOGC's own trigger (collect when the heap doubles) is
// switched off, unless GOGC is set: above 32 MB of live heap the limit
// always triggers first anyway, and below it GOGC only added cycles while
// the heap grew towards the floor (8 of a 10,000-workload scan's 15, ~4%
// of its CPU), which the 100 MiB floor already allows the heap.
const (
	minScanMemoryLimit = 100 << 20
	scanMemorySlack    = 16 << 20
)

// scanMemoryLimitFor is the limit for a live heap of live bytes.
func scanMemoryLimitFor(live uint64) int64 {
	return max(minScanMemoryLimit, int64(live+live/4)+scanMemorySlack)
}

// scanMemoryTuner re-sets the limit after each collection, from a
// finalizer that the collector runs once per cycle, until stopped.
type scanMemoryTuner struct {
	stopped atomic.Bool
	sample  []metrics.Sample
}

type gcSentinel struct{ t *scanMemoryTuner }

func (t *scanMemoryTuner) arm() {
	runtime.SetFinalizer(&gcSentinel{t}, func(s *gcSentinel) {
		if s.t.stopped.Load() {
			return
		}
		metrics.Read(s.t.sample)
		if v := s.t.sample[0].Value; v.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(scanMemoryLimitFor(v.Uint64()))
		}
		s.t.arm()
	})
}

// withScanMemoryLimit starts the tuner, unless GOMEMLIMIT is set, and
// switches GOGC's trigger off under it, unless GOGC is set; it returns the
// function that stops the tuner and restores the previous settings.
func withScanMemoryLimit(getenv func(string) string) (restore func()) {
	if getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	t := &scanMemoryTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	prev := debug.SetMemoryLimit(minScanMemoryLimit)
	restorePercent := func() {}
	if getenv("GOGC") == "" {
		prevPercent := debug.SetGCPercent(-1)
		restorePercent = func() { debug.SetGCPercent(prevPercent) }
	}
	t.arm()
	return func() {
		t.stopped.Store(true)
		restorePercent()
		debug.SetMemoryLimit(prev)
	}
}
