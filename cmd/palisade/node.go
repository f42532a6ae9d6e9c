package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/catalog"
	"github.com/palisade-sec/palisade/internal/catalog/frameworks"
	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/cli/configcmd"
	"github.com/palisade-sec/palisade/internal/nodeaudit"
	"github.com/palisade-sec/palisade/internal/report"
)

func newNodeCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Audit the Kubernetes components and files of a node",
	}
	cmd.AddCommand(newNodeAuditCommand(s, g))
	return cmd
}

func newNodeAuditCommand(s *streams, g *globalOptions) *cobra.Command {
	var root, distribution, failOn, outputFile string
	var selectors, fws []string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check a control-plane or worker node against the CIS Kubernetes Benchmark",
		Long: `Audit the node this runs on (or the host tree under --root) against the
CIS Kubernetes Benchmark v1.12 and the K3s and RKE2 CIS self-assessments:
API server, etcd, controller manager, scheduler, kubelet and kube-proxy
settings, and the permissions and ownership of manifests, kubeconfigs, PKI
and configuration files.

The distribution (kubeadm, K3s, RKE2, MicroK8s) is detected from the
host's layout and processes; each component's effective settings are read
as that component resolves them: static Pod manifests, k3s config files and
the "Running kube-apiserver" line of its log, RKE2's pod manifests and
config, MicroK8s args files, the kubelet's KubeletConfiguration file and
drop-ins (command-line flags override them), the API server's
authorization, authentication and audit policy files; a running process's
command line (under /proc) replaces what the files say. Flags are parsed as
the components parse them: repeated list flags accumulate, the last scalar
wins, defaults are Kubernetes 1.37's.

CIS items that need judgement are reported as MANUAL notes with what was
observed. Checks that do not concern this node (no API server on a worker,
no etcd under MicroK8s) are reported as not applicable, never as failures.
A root where nothing of Kubernetes is found (an empty or unmounted --root)
is an error: auditing nothing is not a clean node.

Exit codes: 0 no findings at or above --fail-on; 1 findings at or above
--fail-on; 2 usage error, unreadable host files, or nothing to audit.`,
		Example: `  sudo palisade node audit
  palisade node audit --root /host -o json        # in a DaemonSet with the host mounted
  palisade node audit --root ./fixture --distribution k3s --fail-on high
  palisade node audit --framework cis -o json
  palisade node audit --rules cis-1.2.*,-node/apiserver-profiling`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := report.ParseFormat(g.Output)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			o := &scanOptions{configcmd.ScanFlags{ReportOptions: cli.ReportOptions{FailOn: failOn, OutputFile: outputFile}, Frameworks: fws}}
			if _, _, err := o.FailThreshold(); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			names, err := o.frameworkNames()
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			checks, err := selectNodeChecks(selectors)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			d, err := nodeaudit.ParseDistribution(distribution)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			n, err := nodeaudit.Load(cmd.Context(), nodeaudit.Options{Root: root, Distribution: d})
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			outcomes := nodeaudit.Evaluate(n, checks)
			r := nodeaudit.Report(n, outcomes)
			if len(names) > 0 {
				if err := assess(r, names, nodeRun(outcomes)); err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
			}
			return o.writeReport(s, g, format, r)
		},
	}
	f := cmd.Flags()
	f.StringVar(&root, "root", "/", "root directory of the host to audit (a mounted host file system or a fixture tree)")
	f.StringVar(&distribution, "distribution", "auto", "auto, kubeadm, k3s, rke2 or microk8s")
	f.StringVar(&failOn, "fail-on", "low", "exit 1 when a finding is at or above this severity: critical, high, medium, low, or none")
	f.StringVar(&outputFile, "output-file", "", "write the report to this file instead of standard output")
	f.StringSliceVar(&selectors, "rules", nil, "checks to run, by ID glob, framework (cis-1.2.*) or peer ID; prefix with - to exclude")
	f.StringSliceVar(&fws, "framework", nil, "also report compliance per control with a score: cis, nsa, mitre, edge (see docs/frameworks.md)")
	return cmd
}

// selectNodeChecks applies --rules to the node checks through the
// catalogue, so that selectors mean the same as for every other analyser.
func selectNodeChecks(selectors []string) ([]nodeaudit.Check, error) {
	all := nodeaudit.Checks()
	if len(selectors) == 0 {
		return all, nil
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	picked, err := cat.Select(selectors)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, c := range picked {
		keep[c.ID] = true
	}
	var out []nodeaudit.Check
	for _, c := range all {
		if keep[c.ID] {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--rules %s selects no node check (see 'palisade rules list --rules node')", strings.Join(selectors, ","))
	}
	return out, nil
}

// nodeRun describes a node audit for a compliance report.
func nodeRun(outcomes []nodeaudit.Outcome) catalog.Run {
	run := catalog.Run{Command: "node audit", Scope: frameworks.ScopeNode, Analysers: []string{catalog.AnalyserNode},
		Evaluated: map[string]bool{}, NotApplicable: map[string]string{}}
	for _, o := range outcomes {
		run.Evaluated[o.Check.ID] = true
		if o.Status == nodeaudit.NotApplicable {
			why := "does not concern this node"
			if len(o.Results) > 0 {
				why = o.Results[0].Message
			}
			run.NotApplicable[o.Check.ID] = why
		}
	}
	return run
}
