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
}

// sensorCore is what Open loads on every kernel: the maps and every
// program but the TCP state program, of which it then loads one form.
type sensorCore struct {
	sensorMaps
	OnExec    *ebpf.Program `ebpf:"on_exec"`
	OnExit    *ebpf.Program `ebpf:"on_exit"`
	OnConnect *ebpf.Program `ebpf:"on_connect"`
	OnSendto  *ebpf.Program `ebpf:"on_sendto"`
	OnOpenat  *ebpf.Program `ebpf:"on_openat"`
}

// Sensor is the loaded, attached eBPF programs and their ring buffer.
type Sensor struct {
	objs      sensorCore
	sockState *ebpf.Program
	// sockStateHook is the form of the TCP state program attached; when
	// it is SockStateRaw without Options.RawSockState, sockStateFallback
	// says why the BTF-typed form was not.
	sockStateHook     string
	sockStateFallback error
	links             []link.Link
	rd                *ringbuf.Reader
	decoded           atomic.Uint64
	malformed         atomic.Uint64
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
	// Raw tracepoints where the program reads the kernel's arguments
	// itself; the syscalls' tracepoints have no raw form of their own (the
	// raw sys_enter would run on every syscall of the node).
	for _, tp := range []struct {
		raw         bool
		group, name string
		prog        *ebpf.Program
	}{
		{true, "sched", "sched_process_exec", s.objs.OnExec},
		{true, "sched", "sched_process_exit", s.objs.OnExit},
		{false, "syscalls", "sys_enter_connect", s.objs.OnConnect},
		{false, "syscalls", "sys_enter_sendto", s.objs.OnSendto},
		{false, "syscalls", "sys_enter_openat", s.objs.OnOpenat},
	} {
		var l link.Link
		var err error
		if tp.raw {
			l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp.name, Program: tp.prog})
		} else {
			l, err = link.Tracepoint(tp.group, tp.name, tp.prog, nil)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("attach to tracepoint %s:%s: %w", tp.group, tp.name, err)
		}
		s.links = append(s.links, l)
	}
	if !o.RawSockState {
		btfSpec := spec
		if o.sockStateBTFTarget != "" {
			btfSpec = spec.Copy()
			btfSpec.Programs["on_sock_state_btf"].AttachTo = o.sockStateBTFTarget
		}
		if s.sockStateFallback = s.attachSockState(btfSpec, opts, SockStateBTF); s.sockStateFallback == nil {
			s.sockStateHook = SockStateBTF
		}
	}
	if s.sockStateHook == "" {
		if err := s.attachSockState(spec, opts, SockStateRaw); err != nil {
			s.Close()
			if s.sockStateFallback != nil {
				err = fmt.Errorf("%w (and %w)", err, s.sockStateFallback)
			}
			return nil, err
		}
		s.sockStateHook = SockStateRaw
	}
	if s.rd, err = ringbuf.NewReader(s.objs.Events); err != nil {
		s.Close()
		return nil, fmt.Errorf("open the sensor's ring buffer: %w", err)
	}
	return s, nil
}

// attachSockState loads the given form of the TCP state program against
// the maps already loaded and attaches it.
func (s *Sensor) attachSockState(spec *ebpf.CollectionSpec, opts *ebpf.CollectionOptions, hook string) error {
	o := *opts
	o.MapReplacements = map[string]*ebpf.Map{
		"config": s.objs.Config, "drops": s.objs.Drops, "events": s.objs.Events, "seen_conns": s.objs.SeenConns,
	}
	var p *ebpf.Program
	var l link.Link
	var err error
	if hook == SockStateBTF {
		var objs struct {
			P *ebpf.Program `ebpf:"on_sock_state_btf"`
		}
		if err = spec.LoadAndAssign(&objs, &o); err == nil {
			p = objs.P
			l, err = link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
		}
	} else {
		var objs struct {
			P *ebpf.Program `ebpf:"on_sock_state"`
		}
		if err = spec.LoadAndAssign(&objs, &o); err == nil {
			p = objs.P
			l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "inet_sock_set_state", Program: p})
		}
	}
	if err != nil {
		p.Close()
		return fmt.Errorf("load and attach %s: %w", hook, err)
	}
	s.sockState = p
	s.links = append(s.links, l)
	return nil
}

// SockStateHook says which form of the TCP state program is attached
// (SockStateBTF or SockStateRaw) and, for SockStateRaw chosen by Open
// rather than by Options.RawSockState, why the BTF-typed form was not.
func (s *Sensor) SockStateHook() (hook string, fallback error) {
	return s.sockStateHook, s.sockStateFallback
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
	var out []ProgramStat
	for _, p := range []struct {
		name string
		prog *ebpf.Program
	}{
		{"on_exec", s.objs.OnExec}, {"on_exit", s.objs.OnExit}, {"on_connect", s.objs.OnConnect},
		{"on_sendto", s.objs.OnSendto}, {"on_openat", s.objs.OnOpenat}, {sockStateProgram(s.sockStateHook), s.sockState},
	} {
		st, err := p.prog.Stats()
		if err != nil {
			return nil, fmt.Errorf("program %s: read its statistics: %w", p.name, err)
		}
		out = append(out, ProgramStat{Program: p.name, RunCount: st.RunCount, RunTime: st.Runtime})
	}
	return out, nil
}

// sockStateProgram names a form's program in bpf/sensor.c.
func sockStateProgram(hook string) string {
	if hook == SockStateBTF {
		return "on_sock_state_btf"
	}
	return "on_sock_state"
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
	st := State{Mode: "ok", Decoded: s.decoded.Load(), Malformed: s.malformed.Load(), SockStateHook: s.sockStateHook}
	if s.sockStateFallback != nil {
		st.SockStateFallback = s.sockStateFallback.Error()
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
	errs = append(errs, s.sockState.Close())
	for _, p := range []*ebpf.Program{s.objs.OnExec, s.objs.OnExit, s.objs.OnConnect, s.objs.OnSendto, s.objs.OnOpenat} {
		errs = append(errs, p.Close())
	}
	errs = append(errs, s.objs.sensorMaps.Close())
	return errors.Join(errs...)
}
