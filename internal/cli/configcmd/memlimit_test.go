package configcmd

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestScanMemoryLimitFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, minScanMemoryLimit},
		{60 << 20, minScanMemoryLimit},            // 75 + 16 MiB: the floor
		{80 << 20, (100 << 20) + scanMemorySlack}, // a quarter of the live heap as headroom
		{100 << 20, (125 << 20) + scanMemorySlack},
		{1 << 30, (5 << 28) + scanMemorySlack},
	} {
		if got := scanMemoryLimitFor(tc.live); got != tc.want {
			t.Errorf("scanMemoryLimitFor(%d MiB) = %d MiB, want %d MiB", tc.live>>20, got>>20, tc.want>>20)
		}
	}
}

// TestWithScanMemoryLimit: the tuner sets a limit for the scan, follows
// collections, and restores the previous limit when done; GOMEMLIMIT
// leaves the limit alone. Under the limit GOGC's trigger is off (the
// limit alone decides collections), unless GOGC is set.
func TestWithScanMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	percentBefore := debug.SetGCPercent(100)
	defer debug.SetGCPercent(percentBefore)
	restore := withScanMemoryLimit(func(string) string { return "" })
	if got := debug.SetMemoryLimit(-1); got < minScanMemoryLimit || got == math.MaxInt64 {
		t.Fatalf("limit during the scan = %d", got)
	}
	if got := currentGCPercent(); got != -1 {
		t.Errorf("GOGC during the scan = %d, want off (-1): the limit decides", got)
	}
	for range 3 {
		runtime.GC()
	}
	if got := debug.SetMemoryLimit(-1); got < minScanMemoryLimit || got == math.MaxInt64 {
		t.Fatalf("limit after collections = %d", got)
	}
	restore()
	runtime.GC()
	runtime.GC() // a finalizer queued before restore must not set it again
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit after the scan = %d, want %d", got, before)
	}
	if got := currentGCPercent(); got != 100 {
		t.Errorf("GOGC after the scan = %d, want 100", got)
	}
	restore = withScanMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] })
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit with GOMEMLIMIT set = %d, want %d", got, before)
	}
	if got := currentGCPercent(); got != 100 {
		t.Errorf("GOGC with GOMEMLIMIT set = %d, want 100", got)
	}
	restore()
	restore = withScanMemoryLimit(func(k string) string { return map[string]string{"GOGC": "50"}[k] })
	if got := currentGCPercent(); got != 100 {
		t.Errorf("GOGC set by the user: changed to %d", got)
	}
	restore()
}

// currentGCPercent reads the GOGC setting without changing it.
func currentGCPercent() int {
	p := debug.SetGCPercent(0)
	debug.SetGCPercent(p)
	return p
}
