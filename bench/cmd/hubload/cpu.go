package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The machine the figures are taken on is shared, so latency and
// throughput say as much about the other processes as about the hub. The
// CPU time each part spends per report does not: it is read from
// /proc/PID/stat (user + system) for the hub replicas, PostgreSQL (the
// postmaster and its backends) and this process, and turned into the
// rate the parts together could sustain on idle cores.

// clockTick is USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time of pid so far (its children's too when they
// have exited and been waited for).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: fields after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0
	}
	var t int64
	for _, k := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
		v, _ := strconv.ParseInt(f[k], 10, 64)
		t += v
	}
	return time.Duration(t) * clockTick
}

// treeCPU is the CPU time of pid and its live children (PostgreSQL's
// backends).
func treeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	t := procCPU(pid)
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
			t += procCPU(child)
		}
	}
	return t
}

// cpuMeter measures the parts' CPU time over an interval.
type cpuMeter struct {
	hubs  *fleetHubs
	pgPID int
	start [3]time.Duration
}

func (m *cpuMeter) read() [3]time.Duration {
	var hub time.Duration
	for _, p := range m.hubs.procs {
		hub += procCPU(p.cmd.Process.Pid)
	}
	return [3]time.Duration{hub, treeCPU(m.pgPID), procCPU(os.Getpid())}
}

func (m *cpuMeter) reset() { m.start = m.read() }

// per describes the CPU time per report since reset and the rate it
// allows on that many idle cores.
func (m *cpuMeter) per(reports int, cores int) string {
	if reports == 0 {
		return ""
	}
	now := m.read()
	var parts [3]float64
	total := 0.0
	for i := range now {
		parts[i] = float64(now[i]-m.start[i]) / float64(time.Millisecond) / float64(reports)
		total += parts[i]
	}
	s := fmt.Sprintf("CPU per report: hub %.2f ms", parts[0])
	if m.pgPID > 0 {
		s += fmt.Sprintf(", PostgreSQL %.2f ms", parts[1])
	}
	return s + fmt.Sprintf(", load client %.2f ms: %.0f reports/s on %d idle cores", parts[2], float64(cores)*1000/total, cores)
}
