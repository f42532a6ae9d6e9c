package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cluster"
)

func newAgentCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "agent", Short: "Run the in-cluster agent that reports to a hub"}
	var cfg agent.Config
	var outboxMiB int64
	run := &cobra.Command{
		Use:   "run",
		Short: "Watch the cluster, evaluate changes and report to the hub",
		Long: `Enrols with the hub on first start (single-use --token, hub CA pinned by
--hub-ca-fingerprint), then watches the cluster and reports over mutual TLS
through a durable on-disk outbox (docs/fleet.md). The token is needed only
until the identity is saved in --state-dir.`,
		Example: `  palisade agent run --hub https://hub.example.com:8443 --token "$TOKEN" \
    --hub-ca-fingerprint sha256:… --state-dir /var/lib/palisade-agent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.HubURL == "" || cfg.CAFingerprint == "" {
				return &exitCodeError{code: exitError, err: fmt.Errorf("--hub and --hub-ca-fingerprint are required")}
			}
			if cfg.Token == "" {
				cfg.Token = os.Getenv("PALISADE_AGENT_TOKEN")
			}
			rc, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: g.kubeconfig, Context: g.context})
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			if cfg.Client, err = cluster.NewClient(rc); err != nil {
				return err
			}
			cfg.OutboxMaxBytes = outboxMiB << 20
			cfg.Version = buildinfo.Get().Version
			cfg.Logger = slog.New(slog.NewJSONHandler(s.err, nil))
			a, err := agent.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Run(cmd.Context())
		},
	}
	f := run.Flags()
	f.StringVar(&cfg.HubURL, "hub", "", "hub URL (https://host:port)")
	f.StringVar(&cfg.Token, "token", "", "single-use bootstrap token (or PALISADE_AGENT_TOKEN)")
	f.StringVar(&cfg.CAFingerprint, "hub-ca-fingerprint", "", "sha256:… fingerprint of the hub CA ('palisade hub token create' prints it)")
	f.StringVar(&cfg.StateDir, "state-dir", "/var/lib/palisade-agent", "identity, outbox and bundle cache")
	f.Int64Var(&outboxMiB, "outbox-max-mib", 64, "outbox size limit; the oldest reports are dropped (and counted) beyond it")
	f.DurationVar(&cfg.Debounce, "debounce", 2*time.Second, "wait for changes to settle before evaluating")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 30*time.Second, "heartbeat interval")
	f.IntVar(&cfg.ScanConcurrency, "scan-concurrency", 2, "image scans run in parallel")
	cmd.AddCommand(run)
	return cmd
}
