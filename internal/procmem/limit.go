package procmem

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Memory-limit defaults. With 1,000 pods the agent's live heap is ≈ 15 MiB
// between evaluations and ≈ 28 MiB at the peak of a full evaluation
// (bench/hub/README.md); without a limit Go lets the heap grow to twice
// the live size between collections (GOGC=100). A soft limit keeps the
// resident heap near the live size when memory is tight and costs a few
// more collections, nothing else, when it is not.
const (
	// DefaultGoMemoryLimit applies when neither GOMEMLIMIT nor a cgroup
	// limit is set: the agent's steady-state RSS 53 MiB instead of 64 MiB
	// with 40 MiB.
	DefaultGoMemoryLimit = 32 << 20
	// cgroupShare is the part of the container's memory limit given to the
	// Go runtime; the rest is binary pages, stacks and the page cache.
	cgroupShare = 0.7
)

// GoMemoryLimit picks the Go soft memory limit of an agent or sensor
// process: none when GOMEMLIMIT is set (the runtime already applied it),
// else 70% of the cgroup's memory.max (cgroupMax; 0 when none) when there
// is one, else DefaultGoMemoryLimit. It returns the limit and where it
// came from.
func GoMemoryLimit(getenv func(string) string, cgroupMax func() int64) (int64, string) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, "GOMEMLIMIT"
	}
	if max := cgroupMax(); max > 0 {
		return int64(float64(max) * cgroupShare), "cgroup memory.max"
	}
	return DefaultGoMemoryLimit, "default"
}

// CgroupMemoryMax returns the cgroup v2 memory.max of this process, or 0
// when unlimited or unknown.
func CgroupMemoryMax() int64 {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil { // "max"
		return 0
	}
	return v
}

// SetGoMemoryLimit applies GoMemoryLimit's choice for this process (with
// the cgroup's memory.max) and logs it.
func SetGoMemoryLimit(getenv func(string) string, log *slog.Logger) {
	if limit, source := GoMemoryLimit(getenv, CgroupMemoryMax); limit > 0 {
		debug.SetMemoryLimit(limit)
		log.Info("memory limit", slog.Int64("bytes", limit), slog.String("source", source))
	}
}
