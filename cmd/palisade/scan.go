package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cli/configcmd"
	"github.com/palisade-sec/palisade/internal/configscan"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/policy"
	"github.com/palisade-sec/palisade/internal/render"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/scan"
)

// scanOptions are the flags shared by every rule engine scan command
// (configcmd.ScanFlags).
type scanOptions struct {
	configcmd.ScanFlags
}

func (o *scanOptions) addFlags(cmd *cobra.Command) { o.AddFlags(cmd) }

// addInputErrorFlag adds --ignore-input-errors, for the commands whose
// input can be partly unreadable.
func (o *scanOptions) addInputErrorFlag(cmd *cobra.Command) { o.AddInputErrorFlag(cmd) }

// prepare turns flags into scan options: rules selected, policy applied.
// Cluster-level rules need a whole cluster's view and run only when
// liveCluster is true.
func (o *scanOptions) prepare(cmd *cobra.Command, liveCluster bool) (scan.Options, error) {
	return o.Prepare(cmd.Context(), &configcmd.Env{Program: "palisade", Policy: loadPolicy, Frameworks: catalogFrameworks{}}, liveCluster)
}

// loadPolicy reads a policy file for configcmd.
func loadPolicy(ctx context.Context, file string) (*configcmd.Policy, error) {
	p, err := policy.Load(ctx, file)
	if err != nil {
		return nil, err
	}
	custom, err := p.CustomRules()
	if err != nil {
		return nil, err
	}
	return &configcmd.Policy{Rules: custom, Exceptions: p.Exceptions(),
		AllowedRegistries: p.Spec.AllowedRegistries, DefaultPSSLevel: p.Spec.PodSecurity.DefaultLevel}, nil
}

// configEnv is what the palisade binary links for scan config and scan
// repo: every renderer, policy files and frameworks.
func configEnv(g *globalOptions, path string) configcmd.Env {
	return configcmd.Env{Program: "palisade", Path: path, Namespace: &g.namespace,
		Render: func(rf configcmd.RenderFlags) configscan.Loader {
			return scan.RenderLoader(render.Options{ValuesFiles: rf.Values, Set: rf.Set, SetString: rf.SetString,
				ReleaseName: rf.ReleaseName, Namespace: rf.Namespace, KubeVersion: rf.KubeVersion})
		},
		Policy: loadPolicy, Frameworks: catalogFrameworks{}}
}

// writeReport renders the report and turns the result into the exit
// code (cli.ReportOptions.WriteReport).
func (o *scanOptions) writeReport(s *streams, g *globalOptions, format report.Format, r *finding.Report) error {
	return o.WriteReport(s, &g.Global, format, r)
}

func newScanCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Scan workload configuration, clusters and images",
	}
	cmd.AddCommand(newScanConfigCommand(s, g), newScanClusterCommand(s, g), newScanImageCommand(s, g), newScanRepoCommand(s, g))
	return cmd
}

func newScanConfigCommand(s *streams, g *globalOptions) *cobra.Command {
	return configcmd.New(s, &g.Global, configEnv(g, "palisade scan config"))
}
