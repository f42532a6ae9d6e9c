// Command palisade-agent is the in-cluster fleet agent alone: the same
// agent as `palisade agent run`, with the same flags, in a binary that
// links only internal/agent and what it needs (client-go, the rules, the
// policy loader, the image scanner). It leaves out the hub and its
// database drivers, Helm and kustomize rendering, BuildKit's solver and
// the admission webhook, so far fewer binary pages are resident on every
// node (docs/fleet.md, "Memory").
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/procmem"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args and runs the agent; it returns the exit code (0, or 2 on
// a usage or runtime error).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("palisade-agent", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var flags agent.Flags
	flags.Bind(fs)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)")
	kubeContext := fs.String("context", "", "kubeconfig context")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: palisade-agent --hub URL --hub-ca-fingerprint sha256:… [--token T] [flags]\n\n"+
			"Runs the in-cluster agent (the same as `palisade agent run`).\n\nFlags:\n%s", fs.FlagUsages())
	}
	// Accept `palisade-agent run …` and `palisade-agent agent run …` too,
	// so manifests written for the full binary keep working.
	if len(args) > 0 && args[0] == "agent" {
		args = args[1:]
	}
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.Get().Version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "palisade-agent: unexpected arguments %q\n", fs.Args())
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if limit, source := memoryLimit(getenv, readCgroupLimit); limit > 0 {
		debug.SetMemoryLimit(limit)
		log.Info("memory limit", slog.Int64("bytes", limit), slog.String("source", source))
	}
	if flags.Runtime {
		return runRuntimeNode(ctx, flags.ResolveRuntime(getenv), *kubeconfig, *kubeContext, log, stderr)
	}
	cfg := flags.Resolve(getenv)
	if cfg.HubURL == "" || cfg.CAFingerprint == "" {
		fmt.Fprintln(stderr, "palisade-agent: --hub and --hub-ca-fingerprint are required")
		return 2
	}
	rc, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: *kubeconfig, Context: *kubeContext})
	if err != nil {
		fmt.Fprintf(stderr, "palisade-agent: %v\n", err)
		return 2
	}
	if cfg.Client, err = cluster.NewClient(rc); err != nil {
		fmt.Fprintf(stderr, "palisade-agent: %v\n", err)
		return 2
	}
	cfg.Version = buildinfo.Get().Version
	cfg.Logger = log
	a, err := agent.New(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "palisade-agent: %v\n", err)
		return 2
	}
	defer a.Close()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "palisade-agent: %v\n", err)
		return 2
	}
	return 0
}

// Memory-limit defaults. With 1,000 pods the agent's live heap is ≈ 15 MiB
// between evaluations and ≈ 28 MiB at the peak of a full evaluation
// (bench/hub/README.md); without a limit Go lets the heap grow to twice
// the live size between collections (GOGC=100). A soft limit keeps the
// resident heap near the live size when memory is tight and costs a few
// more collections, nothing else, when it is not.
const (
	// defaultMemoryLimit applies when neither GOMEMLIMIT nor a cgroup
	// limit is set: steady-state RSS 53 MiB instead of 64 MiB with 40 MiB.
	defaultMemoryLimit = 32 << 20
	// cgroupShare is the part of the container's memory limit given to the
	// Go runtime; the rest is binary pages, stacks and the page cache of
	// the outbox file.
	cgroupShare = 0.7
)

// memoryLimit picks the Go soft memory limit: none when GOMEMLIMIT is set
// (the runtime already applied it), else 70% of the cgroup's memory.max
// when there is one, else 32 MiB.
func memoryLimit(getenv func(string) string, cgroup func() int64) (int64, string) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, "GOMEMLIMIT"
	}
	if max := cgroup(); max > 0 {
		return int64(float64(max) * cgroupShare), "cgroup memory.max"
	}
	return defaultMemoryLimit, "default"
}

// readCgroupLimit returns the cgroup v2 memory.max of this process, or 0
// when unlimited or unknown.
func readCgroupLimit() int64 {
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

// runRuntimeNode runs the node's runtime sensor (--runtime, the runtime
// DaemonSet). A sensor that cannot load is not an error here: its
// degraded state is reported until the pod stops.
func runRuntimeNode(ctx context.Context, cfg agent.RuntimeNodeConfig, kubeconfig, kubeContext string, log *slog.Logger, stderr io.Writer) int {
	// The package initialisers are done: the pages they touched go now,
	// before the informers' first lists add the heap on top of them.
	releaseStartupPages(log, "initialised")
	rc, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: kubeconfig, Context: kubeContext})
	if err != nil {
		fmt.Fprintf(stderr, "palisade-agent: %v\n", err)
		return 2
	}
	if cfg.Client, err = cluster.NewClient(rc); err != nil {
		fmt.Fprintf(stderr, "palisade-agent: %v\n", err)
		return 2
	}
	cfg.Logger = log
	cfg.Started = func() { releaseStartupPages(log, "started") }
	n, err := agent.NewRuntimeNode(cfg)
	if err == nil {
		err = n.Run(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "palisade-agent: %v\n", err)
		return 2
	}
	return 0
}

// releaseStartupPages drops the binary's code and read-only pages from the
// node sensor's resident set: once the package initialisers have run, and
// again once start-up (the informers' first lists, loading the BPF
// programs) is over. They are most of its RSS (bench/README.md) and the
// steady state uses few of them; the pages stay in the page cache and
// come back on their next use.
func releaseStartupPages(log *slog.Logger, after string) {
	n, err := procmem.ReleaseExecutablePages()
	if err != nil {
		log.Warn("binary pages not released", slog.String("after", after), slog.Any("error", err))
		return
	}
	log.Info("binary pages released from the resident set", slog.String("after", after), slog.Int64("mappedBytes", n))
}
