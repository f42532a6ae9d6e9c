// Command palisade-runtime is a node's eBPF runtime sensor alone: the
// runtime DaemonSet's process (deploy/runtime, docs/runtime.md), the same
// sensor as `palisade-agent --runtime` with the same flags. It links only
// internal/runtimenode and what that needs (client-go, the eBPF loader,
// the runtime detections and the policy intent model), not the cluster
// agent's hub client, image scanner and rules, so far fewer of the
// binary's pages are touched at start-up on every node: its RSS goal is
// < 64 MiB with 1,000 pods on the node (bench/README.md, "Runtime").
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

// run parses args and runs the sensor; it returns the exit code (0, or 2
// on a usage or runtime error).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("palisade-runtime", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg runtimenode.Config
	cfg.Bind(fs)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)")
	kubeContext := fs.String("context", "", "kubeconfig context")
	version := fs.Bool("version", false, "print the version and exit")
	// Manifests written for `palisade-agent --runtime` keep working.
	fs.Bool("runtime", true, "accepted for `palisade-agent --runtime` command lines; this binary is always the sensor")
	_ = fs.MarkHidden("runtime")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: palisade-runtime [flags]\n\n"+
			"Runs this node's eBPF runtime sensor (the runtime DaemonSet, docs/runtime.md; the same as\n"+
			"`palisade-agent --runtime`): findings and the sensor's state are written as Kubernetes\n"+
			"Events that the cluster agent forwards to the hub.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "palisade-runtime: %v\n", err)
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.Get().Version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "palisade-runtime: unexpected arguments %q\n", fs.Args())
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	procmem.SetGoMemoryLimit(getenv, log)
	kube := cluster.ClientOptions{Kubeconfig: *kubeconfig, Context: *kubeContext}
	if err := runtimenode.RunProcess(ctx, cfg.Resolve(getenv), kube, log); err != nil {
		fmt.Fprintf(stderr, "palisade-runtime: %v\n", err)
		return 2
	}
	return 0
}
