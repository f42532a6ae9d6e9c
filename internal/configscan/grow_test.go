package configscan

import (
	"strconv"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestGrowProjected: batches with a steady number of findings per
// workload grow the slice once, to about the projected total, and every
// finding is kept in order.
func TestGrowProjected(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		workloads, batch, per  int
		maxGrowths             int
		maxCapOverLen1000ths   int // capacity over length at the end, in thousandths
		firstBatchExtraPerLoad int
	}{
		{"steady", 10000, 512, 12, 1, 1100, 0},
		{"one batch", 300, 512, 5, 1, 1100, 0},
		{"first batch richer", 10000, 512, 10, 1, 1400, 3},
		{"later batches richer", 4096, 512, 4, 8, 1300, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var all []finding.Finding
			growths, n := 0, 0
			for start := 0; start < tc.workloads; start += tc.batch {
				done := min(start+tc.batch, tc.workloads)
				per := tc.per
				if start == 0 {
					per += tc.firstBatchExtraPerLoad
				}
				batch := make([]finding.Finding, (done-start)*per)
				for i := range batch {
					batch[i].Message = strconv.Itoa(n)
					n++
				}
				before := cap(all)
				all = append(growProjected(all, len(batch), done, tc.workloads), batch...)
				if cap(all) != before {
					growths++
				}
			}
			if len(all) != n {
				t.Fatalf("%d findings kept of %d", len(all), n)
			}
			for i, f := range all {
				if f.Message != strconv.Itoa(i) {
					t.Fatalf("finding %d is %q", i, f.Message)
				}
			}
			if growths > tc.maxGrowths {
				t.Errorf("slice grew %d times, want at most %d", growths, tc.maxGrowths)
			}
			if r := cap(all) * 1000 / len(all); r > tc.maxCapOverLen1000ths {
				t.Errorf("capacity %d for %d findings (%d‰)", cap(all), len(all), r)
			}
		})
	}
}
