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
}

// State is the sensor's health, reported by the agent.
type State struct {
	// Mode is "ok" or "degraded".
	Mode string `json:"mode"`
	// Reason says why the sensor is degraded.
	Reason    string `json:"reason,omitempty"`
	Dropped   uint64 `json:"dropped"`
	Decoded   uint64 `json:"decoded"`
	Malformed uint64 `json:"malformed"`
}

// Sensor is the loaded, attached eBPF programs and their ring buffer.
type Sensor struct {
	objs      sensorObjects
	links     []link.Link
	rd        *ringbuf.Reader
	decoded   atomic.Uint64
	malformed atomic.Uint64
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
		{true, "sock", "inet_sock_set_state", s.objs.OnSockState},
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
	if s.rd, err = ringbuf.NewReader(s.objs.Events); err != nil {
		s.Close()
		return nil, fmt.Errorf("open the sensor's ring buffer: %w", err)
	}
	return s, nil
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
	st := State{Mode: "ok", Decoded: s.decoded.Load(), Malformed: s.malformed.Load()}
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
	errs = append(errs, s.objs.Close())
	return errors.Join(errs...)
}
