// Command palisade-agent is the in-cluster fleet agent alone: the same
// agent as `palisade agent run`, with the same flags, in a binary that
// links only internal/agent and what it needs (client-go, the rules, the
// policy loader, the image scanner). It leaves out the hub and its
// database drivers, Helm and kustomize rendering, BuildKit's solver and
// the admission webhook, so far fewer binary pages are resident on every
// node (docs/fleet.md, "Memory"). `palisade-agent --runtime` runs a
// node's runtime sensor, as the runtime DaemonSet's lean
// `palisade-runtime` does (cmd/palisade-runtime).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/procmem"
	"github.com/palisade-sec/palisade/internal/runtimenode"
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
	procmem.SetGoMemoryLimit(getenv, log)
	if flags.Runtime {
		return runRuntimeNode(ctx, flags.ResolveRuntime(getenv), cluster.ClientOptions{Kubeconfig: *kubeconfig, Context: *kubeContext}, log, stderr)
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

// runRuntimeNode runs the node's runtime sensor (--runtime): the same
// as the runtime DaemonSet's lean `palisade-runtime`.
func runRuntimeNode(ctx context.Context, cfg runtimenode.Config, kube cluster.ClientOptions, log *slog.Logger, stderr io.Writer) int {
	if err := runtimenode.RunProcess(ctx, cfg, kube, log); err != nil {
		fmt.Fprintf(stderr, "palisade-agent: %v\n", err)
		return 2
	}
	return 0
}
