package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/catalog"
	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/scan"
)

func newScanClusterCommand(s *streams, g *globalOptions) *cobra.Command {
	o := &scanOptions{}
	var timeout, requestTimeout time.Duration
	var pageSize int64
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Scan the workloads and settings of a live cluster",
		Long: `Scan a live cluster through the Kubernetes API: every workload (Pods,
Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers,
Jobs, CronJobs), Namespaces and their Pod Security labels, ServiceAccounts,
Services, NetworkPolicies and RBAC objects, with the same rules as
'scan config', plus cluster-level rules (namespaces without an enforced
Pod Security level, default service accounts with token automount,
workloads in namespaces without NetworkPolicies).

Objects controlled by a scanned owner (the Pods of a ReplicaSet, the
ReplicaSets of a Deployment, the Jobs of a CronJob) are reported once,
through their owner. Secrets are never read: deploy/rbac/scanner.yaml is
the least-privilege role the scan needs.

All namespaces are scanned unless -n is given. Works with any kubeconfig
context (kubeadm, K3s, MicroK8s, managed clusters).

Exit codes: 0 no findings at or above --fail-on; 1 findings at or above
--fail-on; 2 usage error, unreachable cluster, or a partial scan (some
resources could not be listed; the report says which, and
--ignore-input-errors decides by the findings alone).`,
		Example: `  palisade scan cluster
  palisade scan cluster --context k3s-edge-17 -n shop -o json
  palisade scan cluster --rules pss-restricted,cluster --fail-on high -o sarif --output-file cluster.sarif
  palisade scan cluster --framework nsa,mitre`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := report.ParseFormat(g.Output)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if _, _, err := o.FailThreshold(); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if g.allNamespaces && g.namespace != "" {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("-n/--namespace and -A/--all-namespaces cannot be used together")}
			}
			opts, err := o.prepare(cmd, true)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			cfg, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: g.kubeconfig, Context: g.context, RequestTimeout: requestTimeout})
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			client, err := cluster.NewClient(cfg)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			read := cluster.ReadOptions{Namespace: g.namespace, PageSize: pageSize}
			progress := cli.NewProgress(s, &g.Global)
			read.Progress = func(resource string, objects int) {
				progress.Update(fmt.Sprintf("reading %s from %s: %d objects", resource, cfg.Host, objects))
			}
			r, _, err := scan.Cluster(ctx, client, read, opts)
			progress.Done()
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if err := o.assessFrameworks(r, opts.Rules, "scan cluster", catalog.AnalyserWorkload, catalog.AnalyserRBAC, catalog.AnalyserCluster); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			return o.writeReport(s, g, format, r)
		},
	}
	o.addFlags(cmd)
	o.addInputErrorFlag(cmd)
	o.addFrameworkFlag(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up on the whole scan after this long")
	cmd.Flags().DurationVar(&requestTimeout, "request-timeout", 30*time.Second, "timeout of each API request")
	cmd.Flags().Int64Var(&pageSize, "page-size", cluster.DefaultPageSize, "objects per list request")
	return cmd
}
