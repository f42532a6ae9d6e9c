package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/palisade-sec/palisade/internal/runtime"
)

// benchSeconds reads a duration in seconds from the environment.
func benchSeconds(b *testing.B, name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			b.Fatalf("%s=%q: want seconds", name, v)
		}
		return f
	}
	return def
}

// runLoad runs the load generator (runtime_loadgen_test.go) as a child
// process and returns what it did and the CPU seconds it used (user and
// system: the sensor's eBPF programs run in its syscalls).
func runLoad(b *testing.B, s loadSpec) (loadResult, float64) {
	b.Helper()
	return runLoads(b, s, 1)
}

// runLoads runs procs generators with the same spec at once and returns
// the sum of what they did (Elapsed: the longest) and of their CPU
// seconds. Rates in s are each generator's.
func runLoads(b *testing.B, s loadSpec, procs int) (loadResult, float64) {
	b.Helper()
	cmds := make([]*exec.Cmd, procs)
	outs := make([]bytes.Buffer, procs)
	errOuts := make([]bytes.Buffer, procs)
	for i := range cmds {
		s.Index = i
		spec, _ := json.Marshal(s)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), loadGenEnv+"="+string(spec))
		cmd.Stdout, cmd.Stderr = &outs[i], &errOuts[i]
		if err := cmd.Start(); err != nil {
			b.Fatalf("load generator: %v", err)
		}
		cmds[i] = cmd
	}
	var sum loadResult
	var cpu float64
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			b.Fatalf("load generator: %v: %s", err, errOuts[i].String())
		}
		var r loadResult
		if err := json.Unmarshal(outs[i].Bytes(), &r); err != nil {
			b.Fatalf("load generator output %q: %v", outs[i].String(), err)
		}
		sum.Connects += r.Connects
		sum.ConnectErrors += r.ConnectErrors
		sum.Execs += r.Execs
		sum.UDPSends += r.UDPSends
		sum.DestConnects += r.DestConnects
		sum.Syscalls += r.Syscalls
		sum.Elapsed = max(sum.Elapsed, r.Elapsed)
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu += tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	}
	return sum, cpu
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// selfCPU is this process's CPU seconds so far (the sensor's user-space
// side: ring buffer reads, decode, attribution, detection).
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

// load1 is the 1-minute load average: the machine is shared.
func load1() float64 {
	data, _ := os.ReadFile("/proc/loadavg")
	f, _ := strconv.ParseFloat(strings.Fields(string(data) + " 0")[0], 64)
	return f
}

// exitBinary writes the generator's exec target.
func exitBinary(b *testing.B) string {
	p := filepath.Join(b.TempDir(), "exit0")
	if err := os.WriteFile(p, exitELF(), 0o755); err != nil {
		b.Fatal(err)
	}
	return p
}

// loadedSensor loads the sensor with the given kernel-side connect window
// (0: every connect, send and accept reported), with the user-space
// pipeline consuming; stop returns its state.
func loadedSensor(b *testing.B, window time.Duration) (stop func() runtime.State) {
	b.Helper()
	_, stop = watchedSensor(b, runtime.Options{ConnectWindow: window})
	return stop
}

// watchedSensor is loadedSensor that also returns the sensor's state while
// it runs.
func watchedSensor(b *testing.B, o runtime.Options) (state, stop func() runtime.State) {
	b.Helper()
	return stalledSensor(b, o, nil)
}

// stalledSensor is watchedSensor whose reader calls stall, when not nil,
// before each event: the sustained benchmark stops the reader with it as
// a node that does not schedule the agent would.
func stalledSensor(b *testing.B, o runtime.Options, stall func()) (state, stop func() runtime.State) {
	b.Helper()
	root, err := runtime.CgroupV2Root()
	if err != nil {
		b.Fatal(err)
	}
	s, err := runtime.Open(context.Background(), o)
	if err != nil {
		b.Fatalf("sensor: %v", err)
	}
	p := &runtime.Pipeline{Resolver: runtime.NewResolver(root, nil), Detector: &runtime.Detector{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx, func(e runtime.Event) {
			if stall != nil {
				stall()
			}
			p.Process(ctx, &e)
		})
	}()
	return s.State, func() runtime.State {
		cancel()
		<-done
		st := s.State()
		s.Close()
		return st
	}
}

// sensorMode is how a phase runs: without the sensor, with it reporting
// every event (window 0), or with the agent's default connect window.
type sensorMode int

const (
	noSensor sensorMode = iota
	everyEvent
	agentWindow
	// rawSockState is everyEvent with the TCP state program forced to
	// its plain raw tracepoint form (the fallback where tp_btf does not
	// load).
	rawSockState
)

// phase runs one load in the given mode, reports it under the given name
// and returns the generator's CPU seconds per operation.
func phase(b *testing.B, name string, s loadSpec, mode sensorMode) float64 {
	b.Helper()
	var stop func() runtime.State
	l0 := load1()
	withSensor := mode != noSensor
	switch mode {
	case everyEvent:
		stop = loadedSensor(b, 0)
	case agentWindow:
		stop = loadedSensor(b, time.Minute)
	}
	cpu0 := selfCPU()
	r, genCPU := runLoad(b, s)
	sensorCPU := selfCPU() - cpu0
	ops := float64(r.Connects + r.Execs + r.UDPSends)
	b.ReportMetric(float64(r.Connects)/r.Elapsed, "connects/s-"+name)
	b.ReportMetric(float64(r.Execs)/r.Elapsed, "execs/s-"+name)
	if r.UDPSends > 0 {
		b.ReportMetric(float64(r.UDPSends)/r.Elapsed, "sends/s-"+name)
	}
	b.ReportMetric(genCPU/ops*1e6, "gen-cpu-us/op-"+name)
	b.ReportMetric(genCPU/r.Elapsed, "gen-cpus-"+name)
	b.ReportMetric((l0+load1())/2, "load1-"+name)
	line := []any{name, "connects", r.Connects, "connectErrors", r.ConnectErrors, "execs", r.Execs, "udpSends", r.UDPSends, "seconds", r.Elapsed,
		"generatorCPU", genCPU, "load1", l0, load1()}
	if withSensor {
		st := stop()
		b.ReportMetric(float64(st.Decoded)/r.Elapsed, "events/s-"+name)
		b.ReportMetric(float64(st.Dropped), "dropped-"+name)
		b.ReportMetric(sensorCPU/float64(max(st.Decoded, 1))*1e6, "sensor-cpu-us/event-"+name)
		line = append(line, "decoded", st.Decoded, "dropped", st.Dropped, "malformed", st.Malformed, "sensorUserSpaceCPU", sensorCPU)
	}
	b.Log(line...)
	return genCPU / ops
}

// BenchmarkRuntimeTargetLoad measures the target load on the real
// kernel: 20,000 connects/s and 2,000 execs/s. On a shared machine the
// rate a workload reaches says more about its neighbours than about the
// sensor, so it measures the CPU each operation costs the workload
// (connects alone, then execs alone, flat out, without and then with the
// sensor loaded: every connect reported, the user-space pipeline
// consuming) and derives the CPU the target load needs without and with
// the sensor: their ratio is the throughput the sensor costs a
// CPU-bound workload. Then it runs the target load itself, paced, with the
// sensor, and reports the rates reached and any drops. The generator is a
// child process (runtime_loadgen_test.go): its CPU time includes the eBPF
// programs run in its syscalls; the sensor's user-space CPU (this process)
// is reported per event. Each phase lasts PALISADE_RUNTIME_BENCH_SECONDS
// (default 10). Needs root and BTF; figures in bench/README.md, never
// asserted.
//
//	go test ./bench -run x -bench RuntimeTargetLoad -benchtime 1x
func BenchmarkRuntimeTargetLoad(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (loads the eBPF sensor)")
	}
	secs := benchSeconds(b, "PALISADE_RUNTIME_BENCH_SECONDS", 10)
	bin := exitBinary(b)
	connects := loadSpec{Seconds: secs, ConnectWorkers: 2, ExitBinary: bin}
	execs := loadSpec{Seconds: secs, ExecWorkers: 2, ExitBinary: bin}
	target := loadSpec{Seconds: secs, ConnectWorkers: 2, ExecWorkers: 2, ConnectRate: 20000, ExecRate: 2000, ExitBinary: bin}
	for range b.N {
		c0 := phase(b, "connect-without", connects, noSensor)
		c1 := phase(b, "connect-with", connects, everyEvent)
		cw := phase(b, "connect-window", connects, agentWindow)
		e0 := phase(b, "exec-without", execs, noSensor)
		e1 := phase(b, "exec-with", execs, everyEvent)
		need0, need1, needw := 20000*c0+2000*e0, 20000*c1+2000*e1, 20000*cw+2000*e1
		b.ReportMetric(need0, "target-cpus-without")
		b.ReportMetric(need1, "target-cpus-with")
		b.ReportMetric(needw, "target-cpus-window")
		b.ReportMetric((need1/need0-1)*100, "target-overhead-%")
		b.ReportMetric((needw/need0-1)*100, "target-overhead-window-%")
		phase(b, "target-with", target, everyEvent)
	}
}

// BenchmarkRuntimeSustained sends UDP datagrams to loopback ports at
// 100,000/s in all (each send is a udp-send event: no kernel-side window)
// for PALISADE_RUNTIME_SUSTAINED_SECONDS (default 60) with the sensor
// loaded and the user-space pipeline consuming. The sends come from
// PALISADE_RUNTIME_SUSTAINED_PROCS generator processes (default 4, one
// sending thread each, each to a port it binds and does not read): one
// process does not get the CPU for 100,000 sends/s on a busy 2-core
// machine. It reports the rate reached, the events delivered, the lowest
// number delivered in any whole second and the records the ring buffer
// dropped (the sensor's per-CPU counter). With
// PALISADE_RUNTIME_SUSTAINED_EVENTS=connect the events are UDP connects to
// distinct loopback destinations with the agent's connect window on.
// PALISADE_RUNTIME_SUSTAINED_STALL (seconds, default 0) stops the sensor's
// reader once for that long, 5 s into the run, while the generators go
// on: what a ring of PALISADE_RUNTIME_RING_BYTES (default the sensor's)
// absorbs of a reader the node does not schedule. Needs root and BTF;
// never asserted.
//
//	go test ./bench -run x -bench RuntimeSustained -benchtime 1x -timeout 10m
func BenchmarkRuntimeSustained(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (loads the eBPF sensor)")
	}
	secs := benchSeconds(b, "PALISADE_RUNTIME_SUSTAINED_SECONDS", 60)
	procs := int(benchSeconds(b, "PALISADE_RUNTIME_SUSTAINED_PROCS", 4))
	// A generator the machine did not schedule for a while catches up on
	// at most this much (PALISADE_RUNTIME_SUSTAINED_BACKLOG seconds,
	// default 0.05): 100,000/s sustained, not the bursts of several
	// times that rate that making up a neighbour's stall of a second
	// would take.
	backlog := benchSeconds(b, "PALISADE_RUNTIME_SUSTAINED_BACKLOG", 0.05)
	const rate = 100000
	// PALISADE_RUNTIME_SUSTAINED_EVENTS=connect: UDP connects to
	// distinct loopback destinations instead (no datagram sent, each a
	// connect event new to the agent's 1-minute window, which is on).
	spec := loadSpec{Seconds: secs, UDPWorkers: 1, UDPRate: rate / float64(procs), UDPUnread: true, MaxBacklog: backlog}
	window := time.Duration(0)
	if os.Getenv("PALISADE_RUNTIME_SUSTAINED_EVENTS") == "connect" {
		spec = loadSpec{Seconds: secs, DestWorkers: 1, DestRate: rate / float64(procs), MaxBacklog: backlog}
		window = time.Minute
	}
	stallFor := time.Duration(benchSeconds(b, "PALISADE_RUNTIME_SUSTAINED_STALL", 0) * float64(time.Second))
	ring := int(benchSeconds(b, "PALISADE_RUNTIME_RING_BYTES", 0))
	for range b.N {
		l0 := load1()
		var stall func()
		if stallFor > 0 {
			start, stalled := time.Now(), false
			stall = func() {
				if !stalled && time.Since(start) > 5*time.Second {
					stalled = true
					time.Sleep(stallFor)
				}
			}
		}
		state, stop := stalledSensor(b, runtime.Options{ConnectWindow: window, RingBytes: ring}, stall)
		// Events delivered in each second while the generators run; the
		// first and last seconds (generators starting and stopping) are
		// left out of the minimum.
		var perSec []uint64
		sampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			last := state().Decoded
			for {
				select {
				case <-sampling:
					return
				case <-tick.C:
					d := state().Decoded
					perSec = append(perSec, d-last)
					last = d
				}
			}
		}()
		cpu0 := selfCPU()
		r, genCPU := runLoads(b, spec, procs)
		r.UDPSends += r.DestConnects // the events asked for, either kind
		close(sampling)
		<-sampled
		sensorCPU := selfCPU() - cpu0
		st := stop()
		var minPerSec, maxPerSec uint64
		below := 0 // whole seconds under 95 % of the rate
		if len(perSec) > 2 {
			whole := perSec[1 : len(perSec)-1]
			minPerSec, maxPerSec = slices.Min(whole), slices.Max(whole)
			for _, n := range whole {
				if n < rate*95/100 {
					below++
				}
			}
		}
		b.ReportMetric(float64(r.UDPSends)/r.Elapsed, "sends/s")
		b.ReportMetric(float64(st.Decoded)/r.Elapsed, "events/s")
		b.ReportMetric(float64(minPerSec), "min-events-in-1s")
		b.ReportMetric(float64(maxPerSec), "max-events-in-1s")
		b.ReportMetric(float64(below), "seconds-under-95%")
		b.ReportMetric(float64(st.Dropped), "dropped")
		b.ReportMetric(float64(st.Malformed), "malformed")
		b.ReportMetric(genCPU/float64(max(r.UDPSends, 1))*1e6, "gen-cpu-us/send")
		b.ReportMetric(sensorCPU/float64(max(st.Decoded, 1))*1e6, "sensor-cpu-us/event")
		b.ReportMetric((l0+load1())/2, "load1")
		b.Log("procs", procs, "udpSends", r.UDPSends, "seconds", r.Elapsed, "decoded", st.Decoded, "perSecond", perSec, "minPerSecond", minPerSec, "maxPerSecond", maxPerSec, "secondsUnder95%", below,
			"dropped", st.Dropped, "malformed", st.Malformed, "generatorCPU", genCPU, "sensorUserSpaceCPU", sensorCPU, "load1", l0, load1(), "ringBytes", ring, "stall", stallFor)
	}
}

// BenchmarkRuntimeInterleaved measures what the sensor costs each connect,
// each exec and each untraced syscall (getppid) of the workload with
// phases interleaved (without, with every event reported, with the
// agent's connect window, with every event and the TCP state program in
// its raw tracepoint form; round after round) and reports the median CPU
// per operation of each mode: on a
// shared machine whose load drifts, sequential phases measure the drift.
// PALISADE_RUNTIME_ROUNDS rounds (default 9) of
// PALISADE_RUNTIME_BENCH_SECONDS (default 1.5) per phase. Needs root and
// BTF; never asserted.
//
//	go test ./bench -run x -bench RuntimeInterleaved -benchtime 1x
func BenchmarkRuntimeInterleaved(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (loads the eBPF sensor)")
	}
	secs := benchSeconds(b, "PALISADE_RUNTIME_BENCH_SECONDS", 1.5)
	rounds := int(benchSeconds(b, "PALISADE_RUNTIME_ROUNDS", 9))
	bin := exitBinary(b)
	modes := []struct {
		name string
		mode sensorMode
	}{{"without", noSensor}, {"with", everyEvent}, {"window", agentWindow}, {"with-raw", rawSockState}}
	for range b.N {
		for _, kind := range []struct {
			name string
			spec loadSpec
		}{
			{"connect", loadSpec{Seconds: secs, ConnectWorkers: 2, ExitBinary: bin}},
			{"exec", loadSpec{Seconds: secs, ExecWorkers: 2, ExitBinary: bin}},
			// getppid: no program runs, so its difference is the
			// syscall tracepoints' slow path alone (µs per syscall).
			{"syscall", loadSpec{Seconds: secs, SyscallWorkers: 2, ExitBinary: bin}},
		} {
			per := make([][]float64, len(modes))
			for range rounds {
				for i, m := range modes {
					var stop func() runtime.State
					switch m.mode {
					case everyEvent:
						stop = loadedSensor(b, 0)
					case agentWindow:
						stop = loadedSensor(b, time.Minute)
					case rawSockState:
						_, stop = watchedSensor(b, runtime.Options{RawSockState: true})
					}
					r, cpu := runLoad(b, kind.spec)
					if stop != nil {
						stop()
					}
					per[i] = append(per[i], cpu/float64(max(r.Connects+r.Execs+r.Syscalls, 1))*1e6)
				}
			}
			base := median(per[0])
			for i, m := range modes {
				med := median(per[i])
				b.ReportMetric(med, "cpu-us/"+kind.name+"-"+m.name)
				if i > 0 {
					b.ReportMetric((med/base-1)*100, "overhead-%-"+kind.name+"-"+m.name)
				}
				b.Log(kind.name, m.name, "median µs/op", med, "all", per[i])
			}
		}
		b.ReportMetric(load1(), "load1")
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkRuntimeProgramTime measures the kernel-side time of the
// sensor's programs per loopback connect (two flat-out connect workers,
// every event reported), with the TCP state program in each of its forms,
// rounds interleaved: kernel program statistics (run count, run time) are
// enabled for the benchmark's duration. Run counts are node-wide, so a
// neighbour's connects and state changes add a few. Needs root; never
// asserted.
//
//	go test ./bench -run x -bench RuntimeProgramTime -benchtime 1x
func BenchmarkRuntimeProgramTime(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (loads the eBPF sensor)")
	}
	secs := benchSeconds(b, "PALISADE_RUNTIME_BENCH_SECONDS", 1.5)
	rounds := int(benchSeconds(b, "PALISADE_RUNTIME_ROUNDS", 5))
	stats, err := ebpf.EnableStats(0) // BPF_STATS_RUN_TIME
	if err != nil {
		b.Fatalf("enable BPF program statistics: %v", err)
	}
	defer stats.Close()
	forms := []struct {
		name string
		raw  bool
	}{{"tp_btf", false}, {"raw", true}}
	for range b.N {
		l0 := load1()
		// per form: program → run count and run time summed over rounds
		runs := make([]map[string]uint64, len(forms))
		times := make([]map[string]time.Duration, len(forms))
		connects := make([]int64, len(forms))
		for i := range forms {
			runs[i], times[i] = map[string]uint64{}, map[string]time.Duration{}
		}
		for range rounds {
			for i, f := range forms {
				s, err := runtime.Open(context.Background(), runtime.Options{RawSockState: f.raw})
				if err != nil {
					b.Fatalf("sensor: %v", err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = s.Run(ctx, func(runtime.Event) {}) }()
				r, _ := runLoad(b, loadSpec{Seconds: secs, ConnectWorkers: 2})
				st, err := s.ProgramStats()
				cancel()
				<-done
				s.Close()
				if err != nil {
					b.Fatal(err)
				}
				connects[i] += r.Connects
				for _, p := range st {
					name := p.Program
					switch {
					case strings.HasPrefix(name, "on_sock_state"):
						name = "on_sock_state"
					case strings.HasPrefix(name, "on_connect"): // on_connect_fentry where fentry loads
						name = "on_connect"
					}
					runs[i][name] += p.RunCount
					times[i][name] += p.RunTime
				}
			}
		}
		for i, f := range forms {
			n := float64(max(connects[i], 1))
			var total time.Duration
			for _, prog := range []string{"on_connect", "on_sock_state"} {
				perRun := float64(times[i][prog].Nanoseconds()) / float64(max(runs[i][prog], 1))
				b.ReportMetric(perRun, "ns/run-"+prog+"-"+f.name)
				b.ReportMetric(float64(runs[i][prog])/n, "runs/connect-"+prog+"-"+f.name)
			}
			for _, t := range times[i] {
				total += t
			}
			b.ReportMetric(float64(total.Nanoseconds())/n, "ns/connect-all-programs-"+f.name)
			b.Log(f.name, "connects", connects[i], "runs", runs[i], "times", times[i])
		}
		b.ReportMetric((l0+load1())/2, "load1")
	}
}

// BenchmarkRuntimeSyscallPath measures what the loaded sensor costs a
// syscall that none of its programs traces (getppid), on this benchmark's
// own thread by its thread CPU time, sensor loaded and not in alternation:
// while any syscall tracepoint is enabled, every syscall of every task
// takes the kernel's slow path (syscall_trace_enter and its exit twin).
// PALISADE_RUNTIME_ROUNDS alternations (default 15) of 500,000 syscalls
// each. Needs root; never asserted.
//
//	go test ./bench -run x -bench RuntimeSyscallPath -benchtime 1x
func BenchmarkRuntimeSyscallPath(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (loads the eBPF sensor)")
	}
	rounds := int(benchSeconds(b, "PALISADE_RUNTIME_ROUNDS", 15))
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	const calls = 500000
	measure := func() float64 {
		c0 := threadCPU()
		for range calls {
			syscall.Getppid()
		}
		return (threadCPU() - c0) / calls * 1e9
	}
	for range b.N {
		l0 := load1()
		var without, with []float64
		for range rounds {
			without = append(without, measure())
			s, err := runtime.Open(context.Background(), runtime.Options{})
			if err != nil {
				b.Fatalf("sensor: %v", err)
			}
			with = append(with, measure())
			s.Close()
		}
		w0, w1 := median(without), median(with)
		b.ReportMetric(w0, "ns/syscall-without")
		b.ReportMetric(w1, "ns/syscall-with")
		b.ReportMetric((w1/w0-1)*100, "overhead-%")
		b.ReportMetric((l0+load1())/2, "load1")
		b.Log("without", without, "with", with)
	}
}

// threadCPU is the calling thread's CPU seconds so far.
func threadCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}
