package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// Options configure the kernel side.
type Options struct {
	// BTFPath is the kernel's BTF; empty means the running kernel's
	// (/sys/kernel/btf/vmlinux).
	BTFPath string
	// SkipCgroupID drops, in the kernel, the events of one cgroup (the
	// host's root cgroup, to see containers only); 0 keeps all.
	SkipCgroupID uint64
	// ConnectWindow suppresses, in the kernel, repeated connects from one
	// cgroup to one destination within the window; 0 reports every one.
	ConnectWindow time.Duration
	// RawSockState attaches the plain raw tracepoint form of the TCP state
	// program even where the BTF-typed one (tp_btf) loads: what Open falls
	// back to on kernels without tp_btf, forced so that it can be tested
	// and measured on any kernel.
	RawSockState bool
	// sockStateBTFTarget replaces the tracepoint the tp_btf form attaches
	// to: tests name one the kernel's BTF does not have, so that the form
	// cannot load and Open's fallback runs.
	sockStateBTFTarget string
	// RingBytes is the ring buffer's size: a power of two from MinRingBytes
	// to MaxRingBytes; 0 means DefaultRingBytes. User space maps the ring
	// twice, so its pages count twice in the process's RSS once used; it
	// holds RingBytes/96 connect or send records (exec records are 576
	// bytes), what arrives while the reader is not scheduled.
	RingBytes int
	// SyscallTracepoints attaches the connect, send and open programs to
	// the syscall tracepoints even where the fentry form loads: what Open
	// falls back to on kernels without BPF trampolines, forced so that it
	// can be tested and measured on any kernel.
	SyscallTracepoints bool
	// udpReceiveTarget replaces the tracepoint the UDP receive program
	// attaches to: tests name one the kernel's BTF does not have.
	udpReceiveTarget string
	// fentryConnectTarget replaces the kernel function the fentry form's
	// connect program attaches to: tests name one the kernel does not
	// have, so that the form cannot load and Open's fallback runs.
	fentryConnectTarget string
}

// Forms of the TCP state program (Sensor.SockStateHook).
const (
	// SockStateBTF is the BTF-typed raw tracepoint: socket fields are
	// plain loads.
	SockStateBTF = "tp_btf/inet_sock_set_state"
	// SockStateRaw is the plain raw tracepoint: every socket field is a
	// bpf_probe_read_kernel call.
	SockStateRaw = "raw_tracepoint/inet_sock_set_state"
)

// Ring buffer sizes (Options.RingBytes).
const (
	DefaultRingBytes = 2 << 20
	MinRingBytes     = 64 << 10
	MaxRingBytes     = 256 << 20
)

// Forms of the programs that see connects, UDP sends to an explicit
// address and opens of sensitive files (Sensor.SyscallHook).
const (
	// SyscallFentry is fentry on security_socket_connect,
	// security_socket_sendmsg and do_filp_open: only those functions' callers
	// pay for the programs.
	SyscallFentry = "fentry"
	// SyscallTracepoint is the syscall tracepoints sys_enter_connect,
	// sys_enter_sendto and sys_enter_openat: while they are enabled, every
	// syscall of every task on the node takes the kernel's tracing slow
	// path.
	SyscallTracepoint = "tracepoint/syscalls"
)

// UDPReceiveBTF is the program that sees UDP datagrams queued on a socket
// (udp-recv records): a BTF-typed raw tracepoint on sk_data_ready (kernel
// 6.3+). It has no fallback: where it cannot load, UDP is not judged
// against the policies (counted), and everything else runs.
const UDPReceiveBTF = "tp_btf/sk_data_ready"

// State is the sensor's health, reported by the agent.
type State struct {
	// Mode is "ok" or "degraded".
	Mode string `json:"mode"`
	// Reason says why the sensor is degraded.
	Reason    string `json:"reason,omitempty"`
	Dropped   uint64 `json:"dropped"`
	Decoded   uint64 `json:"decoded"`
	Malformed uint64 `json:"malformed"`
	// SockStateHook is the form of the TCP state program attached
	// (SockStateBTF or SockStateRaw); SockStateFallback says why the
	// BTF-typed form was not used ("" when it was, or when forced by
	// Options.RawSockState). The sensor is not degraded by a fallback: the
	// events are the same, each costs the kernel more.
	SockStateHook     string `json:"sockStateHook,omitempty"`
	SockStateFallback string `json:"sockStateFallback,omitempty"`
	// SyscallHook is the form of the connect, send and open programs
	// (SyscallFentry or SyscallTracepoint); SyscallFallback says why the
	// fentry form was not used ("" when it was, or when forced by
	// Options.SyscallTracepoints). Not a degradation either: the same
	// records, at a cost to every syscall of the node.
	SyscallHook     string `json:"syscallHook,omitempty"`
	SyscallFallback string `json:"syscallFallback,omitempty"`
	// UDPReceiveHook is UDPReceiveBTF when the UDP receive program runs;
	// otherwise "" and UDPReceiveMissing says why (the kernel has no
	// sk_data_ready tracepoint before 6.3): UDP is then not judged
	// against the policies, and the gap is counted and shown.
	UDPReceiveHook    string `json:"udpReceiveHook,omitempty"`
	UDPReceiveMissing string `json:"udpReceiveMissing,omitempty"`
}

// sensorCore is what Open loads on every kernel: the maps and the
// process programs. It then loads one form of the TCP state program and
// one of the connect, send and open programs.
type sensorCore struct {
	sensorMaps
	OnExec *ebpf.Program `ebpf:"on_exec"`
	OnExit *ebpf.Program `ebpf:"on_exit"`
}

// formProg is one program of a form: its name in bpf/sensor.c and how it
// is attached.
type formProg struct {
	name   string
	attach func(*ebpf.Program) (link.Link, error)
}

// formProgs are the programs of a form of the TCP state program or of the
// connect, send and open programs, in the order ProgramStats lists them.
func formProgs(hook string) []formProg {
	switch hook {
	case SockStateBTF:
		return []formProg{{"on_sock_state_btf", attachTracing(ebpf.AttachTraceRawTp)}}
	case SockStateRaw:
		return []formProg{{"on_sock_state", attachRawTracepoint("inet_sock_set_state")}}
	case SyscallFentry:
		return []formProg{
			{"on_connect_fentry", attachTracing(ebpf.AttachTraceFEntry)},
			{"on_sendmsg_fentry", attachTracing(ebpf.AttachTraceFEntry)},
			{"on_open_fentry", attachTracing(ebpf.AttachTraceFEntry)},
		}
	case UDPReceiveBTF:
		return []formProg{{"on_data_ready_btf", attachTracing(ebpf.AttachTraceRawTp)}}
	case SyscallTracepoint:
		// The syscalls' tracepoints have no raw form of their own (the
		// raw sys_enter would run on every syscall of the node).
		return []formProg{
			{"on_connect", attachTracepoint("syscalls", "sys_enter_connect")},
			{"on_sendto", attachTracepoint("syscalls", "sys_enter_sendto")},
			{"on_openat", attachTracepoint("syscalls", "sys_enter_openat")},
		}
	}
	return nil
}

func attachTracing(t ebpf.AttachType) func(*ebpf.Program) (link.Link, error) {
	return func(p *ebpf.Program) (link.Link, error) {
		return link.AttachTracing(link.TracingOptions{Program: p, AttachType: t})
	}
}

func attachRawTracepoint(name string) func(*ebpf.Program) (link.Link, error) {
	return func(p *ebpf.Program) (link.Link, error) {
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: name, Program: p})
	}
}

func attachTracepoint(group, name string) func(*ebpf.Program) (link.Link, error) {
	return func(p *ebpf.Program) (link.Link, error) {
		return link.Tracepoint(group, name, p, nil)
	}
}

// attached is a form's programs, loaded and attached.
type attached struct {
	hook  string
	progs []*ebpf.Program
	names []string
}

// Sensor is the loaded, attached eBPF programs and their ring buffer.
type Sensor struct {
	objs sensorCore
	// sockState is the form of the TCP state program attached; when it is
	// SockStateRaw without Options.RawSockState, sockStateFallback says
	// why the BTF-typed form was not. syscalls and syscallFallback are the
	// same for the connect, send and open programs.
	sockState         attached
	sockStateFallback error
	syscalls          attached
	syscallFallback   error
	// udpRecv is the UDP receive program when it runs; udpRecvMissing
	// says why it does not.
	udpRecv        attached
	udpRecvMissing error
	links          []link.Link
	rd             *ringbuf.Reader
	decoded        atomic.Uint64
	malformed      atomic.Uint64
}

// Open loads and attaches the programs. An error means the sensor cannot run
// here (no BTF, programs refused, missing capabilities); its text is the
// degraded state's reason.
func Open(ctx context.Context, o Options) (*Sensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	spec, err := loadSensor()
	if err != nil {
		return nil, fmt.Errorf("read the embedded BPF object: %w", err)
	}
	if o.RingBytes != 0 {
		if err := checkRingBytes(o.RingBytes); err != nil {
			return nil, err
		}
		spec.Maps["events"].MaxEntries = uint32(o.RingBytes)
	}
	opts := &ebpf.CollectionOptions{}
	if o.BTFPath != "" {
		kt, err := btf.LoadSpec(o.BTFPath)
		if err != nil {
			return nil, fmt.Errorf("load kernel BTF %s: %w", o.BTFPath, err)
		}
		opts.Programs.KernelTypes = kt
	}
	s := &Sensor{}
	if err := spec.LoadAndAssign(&s.objs, opts); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("kernel refused the sensor programs: %w", err)
		}
		return nil, fmt.Errorf("load the sensor programs: %w", err)
	}
	if err := s.objs.Config.Put(uint32(0), o.SkipCgroupID); err != nil {
		s.Close()
		return nil, fmt.Errorf("configure the sensor: %w", err)
	}
	if err := s.objs.Config.Put(uint32(1), uint64(o.ConnectWindow)); err != nil {
		s.Close()
		return nil, fmt.Errorf("configure the sensor: %w", err)
	}
	// Raw tracepoints: the program reads the kernel's arguments itself.
	for _, tp := range []struct {
		name string
		prog *ebpf.Program
	}{
		{"sched_process_exec", s.objs.OnExec},
		{"sched_process_exit", s.objs.OnExit},
	} {
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp.name, Program: tp.prog})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("attach to raw tracepoint %s: %w", tp.name, err)
		}
		s.links = append(s.links, l)
	}
	if err := s.attachPreferred(spec, opts, &s.syscalls, &s.syscallFallback, SyscallFentry, SyscallTracepoint, o.SyscallTracepoints,
		"on_connect_fentry", o.fentryConnectTarget); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.attachPreferred(spec, opts, &s.sockState, &s.sockStateFallback, SockStateBTF, SockStateRaw, o.RawSockState,
		"on_sock_state_btf", o.sockStateBTFTarget); err != nil {
		s.Close()
		return nil, err
	}
	uspec := spec
	if o.udpReceiveTarget != "" {
		uspec = spec.Copy()
		uspec.Programs["on_data_ready_btf"].AttachTo = o.udpReceiveTarget
	}
	s.udpRecvMissing = s.attachForm(uspec, opts, &s.udpRecv, UDPReceiveBTF)
	if s.rd, err = ringbuf.NewReader(s.objs.Events); err != nil {
		s.Close()
		return nil, fmt.Errorf("open the sensor's ring buffer: %w", err)
	}
	return s, nil
}

// checkRingBytes refuses a ring buffer size the kernel would refuse (not a
// power of two, or under a page) or that is outside the sizes the sensor
// accepts.
func checkRingBytes(n int) error {
	if n < MinRingBytes || n > MaxRingBytes || n&(n-1) != 0 {
		return fmt.Errorf("ring buffer size %d bytes: want a power of two from %d KiB to %d MiB", n, MinRingBytes>>10, MaxRingBytes>>20)
	}
	return nil
}

// attachPreferred attaches the preferred form of a group of programs, or
// the fallback form when forced or when the preferred one cannot load or
// attach, whose error it keeps in *why. retarget, when set, is the
// attach target given to the preferred form's program prog instead of
// its own (tests use a target the kernel does not have).
func (s *Sensor) attachPreferred(spec *ebpf.CollectionSpec, opts *ebpf.CollectionOptions, a *attached, why *error,
	preferred, fallback string, forced bool, prog, retarget string) error {
	if !forced {
		pspec := spec
		if retarget != "" {
			pspec = spec.Copy()
			pspec.Programs[prog].AttachTo = retarget
		}
		if *why = s.attachForm(pspec, opts, a, preferred); *why == nil {
			return nil
		}
	}
	err := s.attachForm(spec, opts, a, fallback)
	if err != nil && *why != nil {
		err = fmt.Errorf("%w (and %w)", err, *why)
	}
	return err
}

// attachForm loads the programs of the given form against the maps
// already loaded and attaches them: all of them, or none (what it loaded
// and attached is released on an error).
func (s *Sensor) attachForm(spec *ebpf.CollectionSpec, opts *ebpf.CollectionOptions, a *attached, hook string) error {
	o := *opts
	o.MapReplacements = map[string]*ebpf.Map{
		"config": s.objs.Config, "drops": s.objs.Drops, "events": s.objs.Events, "seen_conns": s.objs.SeenConns,
	}
	sub := &ebpf.CollectionSpec{Maps: spec.Maps, Programs: map[string]*ebpf.ProgramSpec{}, Types: spec.Types, ByteOrder: spec.ByteOrder}
	progSpecs := formProgs(hook)
	for _, fp := range progSpecs {
		sub.Programs[fp.name] = spec.Programs[fp.name]
	}
	coll, err := ebpf.NewCollectionWithOptions(sub, o)
	if err != nil {
		return fmt.Errorf("load %s: %w", hook, err)
	}
	defer coll.Close()
	var progs []*ebpf.Program
	var names []string
	var links []link.Link
	for _, fp := range progSpecs {
		p := coll.Programs[fp.name]
		l, err := fp.attach(p)
		if err != nil {
			for _, l := range links {
				l.Close()
			}
			return fmt.Errorf("attach %s (%s): %w", hook, fp.name, err)
		}
		links = append(links, l)
	}
	for _, fp := range progSpecs {
		progs, names = append(progs, coll.DetachProgram(fp.name)), append(names, fp.name)
	}
	s.links = append(s.links, links...)
	*a = attached{hook: hook, progs: progs, names: names}
	return nil
}

// SockStateHook says which form of the TCP state program is attached
// (SockStateBTF or SockStateRaw) and, for SockStateRaw chosen by Open
// rather than by Options.RawSockState, why the BTF-typed form was not.
func (s *Sensor) SockStateHook() (hook string, fallback error) {
	return s.sockState.hook, s.sockStateFallback
}

// SyscallHook says which form of the connect, send and open programs is
// attached (SyscallFentry or SyscallTracepoint) and, for
// SyscallTracepoint chosen by Open rather than by
// Options.SyscallTracepoints, why the fentry form was not.
func (s *Sensor) SyscallHook() (hook string, fallback error) {
	return s.syscalls.hook, s.syscallFallback
}

// UDPReceive says whether the UDP receive program runs and, when it does
// not, why.
func (s *Sensor) UDPReceive() (ok bool, missing error) {
	return s.udpRecv.hook != "", s.udpRecvMissing
}

// ProgramStat is one program's kernel-side run statistics.
type ProgramStat struct {
	// Program is the program's name in bpf/sensor.c.
	Program  string
	RunCount uint64
	RunTime  time.Duration
}

// ProgramStats reads every attached program's run count and run time. The
// kernel counts them only while statistics are enabled
// (kernel.bpf_stats_enabled=1, or ebpf.EnableStats held open); otherwise
// both stay 0.
func (s *Sensor) ProgramStats() ([]ProgramStat, error) {
	names := append([]string{"on_exec", "on_exit"}, s.syscalls.names...)
	names = append(names, s.sockState.names...)
	names = append(names, s.udpRecv.names...)
	progs := append([]*ebpf.Program{s.objs.OnExec, s.objs.OnExit}, s.syscalls.progs...)
	progs = append(progs, s.sockState.progs...)
	progs = append(progs, s.udpRecv.progs...)
	var out []ProgramStat
	for i, p := range progs {
		st, err := p.Stats()
		if err != nil {
			return nil, fmt.Errorf("program %s: read its statistics: %w", names[i], err)
		}
		out = append(out, ProgramStat{Program: names[i], RunCount: st.RunCount, RunTime: st.Runtime})
	}
	return out, nil
}

// pollInterval is how often Run drains the ring buffer. The kernel side
// submits records without waking the reader (a wakeup per record costs the
// traced workload a self-interrupt in every traced syscall) and wakes it
// only once 256 KiB of the 2 MiB ring are waiting, so an event reaches
// user space at most this late, and the ring has room for the bursts
// between two polls.
const pollInterval = 10 * time.Millisecond

// Run decodes records until ctx ends, calling fn with each event. Malformed
// records are counted and skipped.
func (s *Sensor) Run(ctx context.Context, fn func(Event)) error {
	stop := context.AfterFunc(ctx, func() { s.rd.SetDeadline(time.Now()) })
	defer stop()
	var rec ringbuf.Record
	s.rd.SetDeadline(time.Now().Add(pollInterval))
	for {
		if err := s.rd.ReadInto(&rec); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Everything submitted before the deadline has been read;
				// a cancellation after the check above is seen at the next
				// poll at the latest.
				s.rd.SetDeadline(time.Now().Add(pollInterval))
				continue
			}
			return fmt.Errorf("read the sensor's ring buffer: %w", err)
		}
		e, err := Decode(rec.RawSample)
		if err != nil {
			s.malformed.Add(1)
			continue
		}
		s.decoded.Add(1)
		fn(e)
	}
}

// Dropped sums the per-CPU count of records lost to a full ring buffer.
func (s *Sensor) Dropped() (uint64, error) {
	var per []uint64
	if err := s.objs.Drops.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("read the sensor's drop counter: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// State reports the sensor's counters.
func (s *Sensor) State() State {
	st := State{Mode: "ok", Decoded: s.decoded.Load(), Malformed: s.malformed.Load(),
		SockStateHook: s.sockState.hook, SyscallHook: s.syscalls.hook}
	if s.sockStateFallback != nil {
		st.SockStateFallback = s.sockStateFallback.Error()
	}
	if s.syscallFallback != nil {
		st.SyscallFallback = s.syscallFallback.Error()
	}
	st.UDPReceiveHook = s.udpRecv.hook
	if s.udpRecvMissing != nil {
		st.UDPReceiveMissing = s.udpRecvMissing.Error()
	}
	d, err := s.Dropped()
	if err != nil {
		st.Mode, st.Reason = "degraded", err.Error()
	}
	st.Dropped = d
	return st
}

// Close detaches and unloads everything.
func (s *Sensor) Close() error {
	var errs []error
	if s.rd != nil {
		errs = append(errs, s.rd.Close())
	}
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	progs := append(append([]*ebpf.Program{s.objs.OnExec, s.objs.OnExit}, s.syscalls.progs...), s.sockState.progs...)
	for _, p := range append(progs, s.udpRecv.progs...) {
		errs = append(errs, p.Close())
	}
	errs = append(errs, s.objs.sensorMaps.Close())
	return errors.Join(errs...)
}
