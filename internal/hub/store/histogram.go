package store

import (
	"sync/atomic"
	"time"
)

// durationHistogram counts durations in fixed buckets, without locks (the
// writer records one per transaction; the hub's metrics read it).
type durationHistogram struct {
	counts [len(DurationBuckets) + 1]atomic.Int64 // the last: above every bound
	sum    atomic.Int64                           // nanoseconds
	max    atomic.Int64
}

// DurationBuckets are the upper bounds of durationHistogram's buckets.
var DurationBuckets = [...]time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second,
}

func (h *durationHistogram) observe(d time.Duration) {
	i := 0
	for i < len(DurationBuckets) && d > DurationBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
	storeMax(&h.max, int64(d))
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// DurationCounts is a histogram read at once: Counts[i] durations at
// most DurationBuckets[i] and above the bound before it, the last entry
// those above every bound.
type DurationCounts struct {
	Counts   [len(DurationBuckets) + 1]int64
	Sum, Max time.Duration
}

func (h *durationHistogram) read() DurationCounts {
	var c DurationCounts
	for i := range h.counts {
		c.Counts[i] = h.counts[i].Load()
	}
	c.Sum, c.Max = time.Duration(h.sum.Load()), time.Duration(h.max.Load())
	return c
}
