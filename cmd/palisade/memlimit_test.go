package main

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
		{40 << 20, minScanMemoryLimit},           // 60 + 16 MiB: the floor
		{60 << 20, (90 << 20) + scanMemorySlack}, // half the live heap as headroom
		{100 << 20, (150 << 20) + scanMemorySlack},
		{1 << 30, (3 << 29) + scanMemorySlack},
	} {
		if got := scanMemoryLimitFor(tc.live); got != tc.want {
			t.Errorf("scanMemoryLimitFor(%d MiB) = %d MiB, want %d MiB", tc.live>>20, got>>20, tc.want>>20)
		}
	}
}

// TestWithScanMemoryLimit: the tuner sets a limit for the scan, follows
// collections, and restores the previous limit when done; GOMEMLIMIT
// leaves the limit alone.
func TestWithScanMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	restore := withScanMemoryLimit(func(string) string { return "" })
	if got := debug.SetMemoryLimit(-1); got < minScanMemoryLimit || got == math.MaxInt64 {
		t.Fatalf("limit during the scan = %d", got)
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
	restore = withScanMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] })
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit with GOMEMLIMIT set = %d, want %d", got, before)
	}
	restore()
}
