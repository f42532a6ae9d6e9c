package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/cluster"
)

// newAgentCommand is `palisade agent run`. The slim cmd/palisade-agent
// binary runs the same agent with the same flags and links far less (see
// docs/fleet.md, "Memory"); deploy/agent uses that one.
func newAgentCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "agent", Short: "Run the in-cluster agent that reports to a hub"}
	var flags agent.Flags
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
			cfg := flags.Resolve(os.Getenv)
			if cfg.HubURL == "" || cfg.CAFingerprint == "" {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--hub and --hub-ca-fingerprint are required")}
			}
			rc, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: g.kubeconfig, Context: g.context})
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if cfg.Client, err = cluster.NewClient(rc); err != nil {
				return err
			}
			cfg.Version = buildinfo.Get().Version
			cfg.Logger = slog.New(slog.NewJSONHandler(s.Err, nil))
			a, err := agent.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Run(cmd.Context())
		},
	}
	flags.Bind(run.Flags())
	cmd.AddCommand(run)
	return cmd
}
