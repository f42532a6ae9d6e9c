package runtimenode

import (
	"context"
	"log/slog"

	"k8s.io/client-go/dynamic"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/procmem"
)

// RunProcess runs the node sensor as this process's one job: the runtime
// DaemonSet's `palisade-runtime`, or `palisade-agent --runtime`. Both
// commands call it, so the sensor is wired the same way whichever binary
// runs it. It connects with kube (in-cluster config when it names no
// kubeconfig) and runs until ctx ends. A sensor that cannot load is not
// an error: its degraded state is reported until then.
//
// It drops the binary's code and read-only pages from the resident set
// twice (procmem.ReleaseExecutablePages): on entry, when the package
// initialisers are done, and once start-up (the informers' first lists,
// loading the BPF programs) is over. They are most of the sensor's RSS
// (bench/README.md, "Runtime") and the steady state uses few of them; the
// pages stay in the page cache and come back on their next use.
func RunProcess(ctx context.Context, cfg Config, kube cluster.ClientOptions, log *slog.Logger) error {
	releaseStartupPages(log, "initialised")
	rc, err := cluster.RESTConfig(kube)
	if err != nil {
		return err
	}
	if cfg.Client, err = cluster.NewClient(rc); err != nil {
		return err
	}
	if cfg.Dynamic, err = dynamic.NewForConfig(rc); err != nil {
		return err
	}
	cfg.Logger = log
	started := cfg.Started
	cfg.Started = func() {
		releaseStartupPages(log, "started")
		if started != nil {
			started()
		}
	}
	n, err := New(cfg)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

func releaseStartupPages(log *slog.Logger, after string) {
	n, err := procmem.ReleaseExecutablePages()
	if err != nil {
		log.Warn("binary pages not released", slog.String("after", after), slog.Any("error", err))
		return
	}
	log.Info("binary pages released from the resident set", slog.String("after", after), slog.Int64("mappedBytes", n))
}
