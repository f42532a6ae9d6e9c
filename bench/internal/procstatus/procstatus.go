// Package procstatus reads a process's memory figures (VmRSS, VmHWM,
// RssAnon, RssFile, …) from /proc/PID/status for the benchmarks that
// measure a server or agent in its own process. One reader for all of
// them, so every benchmark reads the same fields the same way.
package procstatus

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Fields returns the named fields of /proc/pid/status in KiB, in the
// order asked, 0 for a field that is absent or a process that is gone
// (a benchmark samples processes that may have exited).
func Fields(pid int, names ...string) []int64 {
	out := make([]int64, len(names))
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	return parse(data, names, out)
}

// KiB returns one field of /proc/pid/status in KiB (see Fields).
func KiB(pid int, name string) int64 { return Fields(pid, name)[0] }

func parse(data []byte, names []string, out []int64) []int64 {
	for line := range bytes.Lines(data) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		for i, n := range names {
			if string(name) == n {
				v := bytes.TrimSuffix(bytes.TrimSpace(value), []byte(" kB"))
				out[i], _ = strconv.ParseInt(string(v), 10, 64)
			}
		}
	}
	return out
}
