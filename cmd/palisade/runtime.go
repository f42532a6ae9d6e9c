package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/finding"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

func newRuntimeCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Watch what containers execute and connect to (eBPF sensor)",
	}
	cmd.AddCommand(newRuntimeWatchCommand(s, g))
	return cmd
}

func newRuntimeWatchCommand(s *streams, g *globalOptions) *cobra.Command {
	var (
		duration       time.Duration
		connectWindow  time.Duration
		ringBytes      int
		btfPath        string
		failOn         string
		containersOnly bool
		findingsOnly   bool
		detections     string
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print process and network events and runtime findings until interrupted",
		Long: `Load Palisade's eBPF sensor on this node and print what it sees: process
execs and exits, outbound connects, UDP datagrams sent to new destinations,
inbound accepts (attributed to the listener's container) and the opening of
sensitive files (/etc/shadow, other pods' volumes, the container runtime's
socket), each attributed
to its container (containerd, CRI-O, Docker, podman and the kubelet's
cgroupfs layout) or labelled host, and the runtime detections' findings
(PAL-RT-001..008, docs/runtime.md).

Needs root or CAP_BPF + CAP_PERFMON, kernel BTF (/sys/kernel/btf/vmlinux)
and a cgroup v2 hierarchy. Pod names need the agent (palisade-agent); here
containers are named by their ID.

-o table prints one line per event; -o json one JSON object per line,
{"event": ...} or {"finding": ...}. Runs until interrupted or --duration.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above
--fail-on; 2 the sensor could not load (the reason is printed), or events
were lost (dropped or malformed records) and no finding decides the
outcome: the watch was incomplete, never reported clean.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if g.Output != "table" && g.Output != "json" {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("runtime watch writes -o table or -o json, not %q", g.Output)}
			}
			gate := finding.SeverityUnknown
			if !strings.EqualFold(failOn, "none") {
				sev, err := finding.ParseSeverity(failOn)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--fail-on: %w", err)}
				}
				gate = sev
			}
			ctx := c.Context()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			var custom []*rt.CustomDetection
			if detections != "" {
				var err error
				if custom, err = rt.LoadCustom(detections); err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
			}
			root, err := rt.CgroupV2Root()
			if err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("sensor degraded: %w", err)}
			}
			opts := rt.Options{BTFPath: btfPath, ConnectWindow: connectWindow, RingBytes: ringBytes}
			if containersOnly {
				var st syscall.Stat_t
				if err := syscall.Stat(root, &st); err != nil {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--containers-only: %w", err)}
				}
				opts.SkipCgroupID = st.Ino
			}
			sensor, err := rt.Open(ctx, opts)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("sensor degraded: %w", err)}
			}
			defer sensor.Close()
			// On the host the overlay layers' paths in mountinfo are
			// this file system's: the drift check reads them directly.
			p := &rt.Pipeline{Resolver: rt.NewResolver(root, nil), Detector: &rt.Detector{Custom: custom, Overlay: &rt.OverlayDrift{}}}
			w := &watchWriter{out: s.Out, json: g.Output == "json", findingsOnly: findingsOnly}
			gated := 0
			runErr := sensor.Run(ctx, func(e rt.Event) {
				fs := p.Process(ctx, &e)
				w.event(&e)
				for _, f := range fs {
					w.finding(&f)
					if gate != finding.SeverityUnknown && f.Severity >= gate {
						gated++
					}
				}
			})
			st := sensor.State()
			if !g.Quiet && st.SockStateFallback != "" {
				fmt.Fprintf(s.Err, "runtime watch: TCP state changes traced by the %s form (%s)\n", st.SockStateHook, st.SockStateFallback)
			}
			if !g.Quiet && st.SyscallFallback != "" {
				fmt.Fprintf(s.Err, "runtime watch: connects, sends and opens traced by the %s form (%s)\n", st.SyscallHook, st.SyscallFallback)
			}
			if !g.Quiet && st.UDPReceiveMissing != "" {
				fmt.Fprintf(s.Err, "runtime watch: UDP datagrams received are not seen (%s)\n", st.UDPReceiveMissing)
			}
			if !g.Quiet {
				fmt.Fprintf(s.Err, "runtime watch: %d events, %d malformed, %d dropped, %d cgroups not attributed, %d execs not checked for drift\n",
					st.Decoded, st.Malformed, st.Dropped, p.Resolver.Unknown(), p.Detector.UnverifiedCount())
			}
			if w.err != nil {
				return &exitCodeError{Code: exitError, Err: w.err}
			}
			if runErr != nil {
				return &exitCodeError{Code: exitError, Err: runErr}
			}
			if gated > 0 {
				return &exitCodeError{Code: exitFindings}
			}
			if st.Mode != "ok" || st.Dropped > 0 || st.Malformed > 0 {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("the watch is incomplete: %d records dropped, %d malformed %s", st.Dropped, st.Malformed, st.Reason)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: until interrupted)")
	f.DurationVar(&connectWindow, "connect-window", time.Minute, "report one connect per container and destination within this window (0: every connect)")
	f.IntVar(&ringBytes, "ring-bytes", rt.DefaultRingBytes, "the sensor's ring buffer, a power of two from 64 KiB to 256 MiB (96 bytes per connect or send; costs twice its size in RSS)")
	f.StringVar(&btfPath, "btf", "", "kernel BTF file (default: the running kernel's /sys/kernel/btf/vmlinux)")
	f.StringVar(&failOn, "fail-on", "high", "exit 1 when a finding is at or above this severity: critical, high, medium, low, or none")
	f.BoolVar(&containersOnly, "containers-only", false, "drop host processes' events in the kernel (the root cgroup's)")
	f.BoolVar(&findingsOnly, "findings-only", false, "print findings, not every event")
	f.StringVar(&detections, "detections", "", "custom CEL detections over the events (kind RuntimeDetections, docs/runtime.md)")
	return cmd
}

// watchWriter prints events and findings as they come; it keeps the first
// write error (stdout gone) for the exit code.
type watchWriter struct {
	out          io.Writer
	json         bool
	findingsOnly bool
	err          error
}

func (w *watchWriter) event(e *rt.Event) {
	if w.findingsOnly || w.err != nil {
		return
	}
	if w.json {
		w.line(map[string]any{"event": e})
		return
	}
	who := "host"
	switch a := e.Attribution; {
	case a.Pod != nil:
		who = a.Pod.Namespace + "/" + a.Pod.Name
	case a.ContainerID != "":
		who = a.Runtime + ":" + a.ContainerID[:min(12, len(a.ContainerID))]
	case a.Unknown:
		who = "unknown"
	}
	detail := ""
	switch e.Kind {
	case rt.KindExec:
		detail = e.Path + " " + strings.Join(e.Args[min(1, len(e.Args)):], " ")
	case rt.KindExit:
		detail = fmt.Sprintf("status %d", e.ExitCode)
	case rt.KindConnect:
		detail = "→ " + e.Dst.String()
	case rt.KindEstablished:
		detail = e.Src.String() + " ⇒ " + e.Dst.String()
	case rt.KindAccept:
		detail = e.Src.String() + " ← " + e.Dst.String()
	case rt.KindUDPSend:
		detail = "⇢ " + e.Dst.String()
	case rt.KindOpen:
		detail = e.Path
	}
	_, w.err = fmt.Fprintf(w.out, "%-7s pid=%-7d uid=%-5d %-22s %s\n", e.Kind, e.TGID, e.UID, who, detail)
}

func (w *watchWriter) finding(f *finding.Finding) {
	if w.err != nil {
		return
	}
	if w.json {
		w.line(map[string]any{"finding": f})
		return
	}
	_, w.err = fmt.Fprintf(w.out, "! %s %s %s: %s\n", f.Severity, f.RuleID, f.Object, f.Message)
}

func (w *watchWriter) line(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.err = err
		return
	}
	_, w.err = w.out.Write(append(b, '\n'))
}
