package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/netpol"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/workload"
)

func newNetpolCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netpol",
		Short: "Analyse, compare and generate NetworkPolicies: who can talk to whom",
		Long: `Analyse pod connectivity under networking.k8s.io/v1 NetworkPolicies and
AdminNetworkPolicies (pods of a workload shown as their owner), compare
two configurations, and generate least-privilege policies from a requirements
file, proven exact by re-analysis. See docs/netpol.md.`,
	}
	cmd.AddCommand(newNetpolAnalyzeCommand(s, g), newNetpolDiffCommand(s, g), newNetpolGenerateCommand(s, g))
	return cmd
}

// netpolInput reads manifests or a live cluster into an inventory.
type netpolInput struct {
	cluster bool
	timeout time.Duration
}

func (in *netpolInput) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&in.cluster, "cluster", false, "read workloads, namespaces and policies from the live cluster (kubeconfig, --context)")
	cmd.Flags().DurationVar(&in.timeout, "timeout", 5*time.Minute, "give up reading the cluster after this long")
}

func (in *netpolInput) inventory(ctx context.Context, s *streams, g *globalOptions, paths []string) (*workload.Inventory, []finding.Problem, error) {
	if in.cluster {
		if len(paths) > 0 {
			return nil, nil, fmt.Errorf("give PATHs or --cluster, not both")
		}
		cfg, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: g.kubeconfig, Context: g.context})
		if err != nil {
			return nil, nil, err
		}
		client, err := cluster.NewClient(cfg)
		if err != nil {
			return nil, nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, in.timeout)
		defer cancel()
		snap, err := cluster.Read(ctx, client, cluster.ReadOptions{Namespace: g.namespace})
		if err != nil {
			return nil, nil, err
		}
		// The admin tiers (custom resources) and the Nodes their nodes
		// peers select.
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return nil, nil, err
		}
		probs := netpol.ReadClusterPolicies(ctx, client, dyn, snap.Inventory)
		return snap.Inventory, append(snap.Problems, probs...), nil
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("give at least one PATH (or - for standard input), or --cluster")
	}
	return netpol.LoadInventory(ctx, paths, s.In, g.namespace)
}

// nothingToAnalyse is an error when the input held no object at all: an
// empty directory, a file of notes only, a cluster nothing could be read
// from. Analysing nothing would print an empty connectivity list or "No
// findings" and exit 0, a clean answer about input never read.
func nothingToAnalyse(inv *workload.Inventory, paths []string) error {
	if len(inv.Objects) > 0 || len(inv.Namespaces) > 0 {
		return nil
	}
	where := "the cluster"
	if len(paths) > 0 {
		where = strings.Join(paths, ", ")
	}
	return &exitCodeError{Code: exitError, Err: fmt.Errorf("nothing to analyse: no Kubernetes object read from %s", where)}
}

// reportProblems prints problems to stderr and says whether any is an error.
func reportProblems(s *streams, g *globalOptions, probs []finding.Problem) bool {
	failed := false
	for _, p := range probs {
		if p.Level == finding.LevelError {
			failed = true
		}
		if p.Level == finding.LevelError || !g.Quiet {
			fmt.Fprintf(s.Err, "%s: %s\n", p.Level, p)
		}
	}
	return failed
}

func newNetpolAnalyzeCommand(s *streams, g *globalOptions) *cobra.Command {
	in := &netpolInput{}
	var focus, failOn string
	var findings bool
	cmd := &cobra.Command{
		Use:   "analyze (PATH... | --cluster)",
		Short: "List every allowed connection, or findings, or explain one workload",
		Long: `List every allowed workload-to-workload and workload-to/from-external
connection, one line per pair: "<src> => <dst> : <conns>" with peers written
namespace/name[Kind] or first-ip-last-ip[External] and connections
"All Connections" or protocols with merged port ranges ("TCP 8080,UDP 53").

-o txt (default), json, csv, md or dot. With --findings, report risky
policies and unisolated workloads as findings (-o table, json, yaml, sarif,
junit). With --focus WORKLOAD, explain every connection from and to that
workload, allowed or denied, naming the policies and rules responsible.

Exit codes: 0 success; 1 findings at or above --fail-on (with --findings);
2 usage or input error (invalid policies are reported and left out).`,
		Example: `  palisade netpol analyze ./examples/netpol/shop
  palisade netpol analyze --cluster -o dot | dot -Tsvg > connectivity.svg
  palisade netpol analyze ./k8s --focus shop/web
  palisade netpol analyze ./k8s --findings -o sarif`,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, probs, err := in.inventory(cmd.Context(), s, g, args)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if err := nothingToAnalyse(inv, args); err != nil {
				reportProblems(s, g, probs)
				return err
			}
			b := netpol.FromInventory(inv)
			probs = append(probs, b.Problems...)
			if findings {
				format, err := report.ParseFormat(g.Output)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				r := finding.NewReport(netpol.Findings(b.Model), probs, len(inv.Objects), netpol.Rules())
				if err := report.Write(s.Out, format, r, report.Options{Color: g.Color(s)}); err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				if reportProblems(s, g, probs) {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("%d input error(s); the report covers the rest", r.Summary.Errors)}
				}
				if !strings.EqualFold(failOn, "none") {
					sev, err := finding.ParseSeverity(failOn)
					if err != nil {
						return &exitCodeError{Code: exitError, Err: fmt.Errorf("--fail-on: %w", err)}
					}
					if finding.AtOrAbove(r.Findings, sev) {
						return &exitCodeError{Code: exitFindings}
					}
				}
				return nil
			}
			if focus != "" {
				p, err := b.Model.Peer(focus)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("--focus: %w", err)}
				}
				if err := netpol.WriteExplanations(s.Out, b.Model.Focus(p)); err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
			} else {
				format, err := netpol.ParseFormat(g.Output)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				c, err := netpol.Analyze(cmd.Context(), b.Model)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				if err := netpol.Write(s.Out, format, c); err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
			}
			if reportProblems(s, g, probs) {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("input errors: the output covers the rest of the input")}
			}
			return nil
		},
	}
	in.addFlags(cmd)
	cmd.Flags().StringVar(&focus, "focus", "", "explain every connection from and to this workload (namespace/name or namespace/name[Kind])")
	cmd.Flags().BoolVar(&findings, "findings", false, "report findings instead of the connectivity list")
	cmd.Flags().StringVar(&failOn, "fail-on", "none", "with --findings: exit 1 at or above this severity (critical, high, medium, low, none)")
	return cmd
}

func newNetpolDiffCommand(s *streams, g *globalOptions) *cobra.Command {
	in := &netpolInput{}
	observed := &observedSource{}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW | diff (--observed FILE | --hub URL --hub-cluster NAME) (PATH... | --cluster)",
		Short: "Connections added, removed and changed between two configurations, or against observed traffic",
		Long: `Analyse two sets of manifests (files or directories) and list the
connections added, removed and changed, one per line:
  added: <src> => <dst> : <conns>
  removed: <src> => <dst> : <conns>
  changed: <src> => <dst> : <old conns> -> <new conns>
External ranges are compared address by address.

With --observed FILE (the runtime sensors' learned profiles, the hub's
export), compare the traffic observed with what the policies of the input
allow, for the profiled workloads: findings netpol/observed-but-denied and
netpol/allowed-never-used (-o table, json, yaml, sarif). With --hub and
--hub-cluster the profiles are read from the hub's API instead (a viewer
API token in --hub-token-file or $PALISADE_HUB_TOKEN).

Exit codes: 0 no difference; 1 differences (with --observed: an observed
connection the policies deny); 2 usage or input error.`,
		Example: `  palisade netpol diff ./k8s-main ./k8s-branch
  palisade netpol diff --observed profiles.json --cluster -o sarif
  PALISADE_HUB_TOKEN=$(cat token) palisade netpol diff --hub https://hub:8443 --hub-cluster edge-042 --cluster`,
		Args: func(cmd *cobra.Command, args []string) error {
			if observed.set() {
				return nil
			}
			if len(args) != 2 {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("netpol diff needs OLD and NEW")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if observed.set() {
				return runObservedDiff(cmd.Context(), s, g, in, observed, args)
			}
			var conns [2]*netpol.Connectivity
			for i, path := range args {
				m, probs, err := netpol.Load(cmd.Context(), []string{path}, s.In, g.namespace)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				if reportProblems(s, g, probs) {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("%s: input errors", path)}
				}
				if conns[i], err = netpol.Analyze(cmd.Context(), m); err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
			}
			changes := netpol.Diff(conns[0], conns[1])
			for _, c := range changes {
				fmt.Fprintln(s.Out, c)
			}
			if len(changes) > 0 {
				return &exitCodeError{Code: exitFindings}
			}
			return nil
		},
	}
	in.addFlags(cmd)
	observed.addHubFlags(cmd)
	cmd.Flags().StringVar(&observed.file, "observed", "", "learned runtime profiles (the hub's export, JSON; '-' for standard input): compare the observed traffic with the input's policies")
	return cmd
}

func newNetpolGenerateCommand(s *streams, g *globalOptions) *cobra.Command {
	in := &netpolInput{}
	var reqFile, outFile string
	observed := &observedSource{}
	var infer bool
	cmd := &cobra.Command{
		Use:   "generate (--requirements FILE | --from-observed FILE | --hub URL --hub-cluster NAME) (PATH... | --cluster)",
		Short: "Write least-privilege NetworkPolicies, proven exact by re-analysis",
		Long: `Generate NetworkPolicies from a requirements file (schema in docs/netpol.md):
for every namespace in scope a default deny of ingress and egress, DNS
egress, and per workload exactly the traffic the requirements allow.
With --infer, connections to Services named in environment variables and
ConfigMaps are added to the requirements.

The generated policies are then fed back into the analyser: the command
fails (exit 1, nothing written) if the allowed connectivity differs in any
way from the requirements, printing each difference.

With --from-observed, the requirements are the runtime sensors' learned
workload profiles (the hub's GET /api/v1/runtime/profiles?cluster=ID, or
palisade hub profiles, saved to a file): every observed connection is
allowed, nothing else; --requirements then only adds to them. With --hub
and --hub-cluster the profiles are read from the hub's API directly (a
viewer API token in --hub-token-file or $PALISADE_HUB_TOKEN; the hub CA in
--hub-ca-file unless the hub serves a certificate the system trusts). A profile still learning, or
one whose workload the input lacks, is reported (see docs/runtime.md).

Output is YAML (default) or JSON (-o json).`,
		Example: `  palisade netpol generate --requirements examples/netpol/requirements.yaml examples/netpol/shop > policies.yaml
  palisade netpol generate --from-observed profiles.json --cluster > policies.yaml
  palisade netpol generate --hub https://hub:8443 --hub-cluster edge-042 --hub-token-file token \
    --hub-ca-file hub-ca.crt --cluster > policies.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if reqFile == "" && !observed.set() {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("--requirements, --from-observed or --hub is required")}
			}
			var req *netpol.Requirements
			if reqFile != "" {
				var err error
				if req, err = netpol.ReadRequirements(reqFile); err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
			}
			inv, probs, err := in.inventory(cmd.Context(), s, g, args)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if reportProblems(s, g, probs) {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("input errors: fix them before generating policies")}
			}
			if err := nothingToAnalyse(inv, args); err != nil {
				return err
			}
			if observed.set() {
				x, _, err := observed.read(cmd.Context(), s)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				var oprobs []finding.Problem
				req, oprobs = netpol.ObservedRequirements(x, inv, req)
				if reportProblems(s, g, oprobs) {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("the profiles cannot tell the traffic to allow: nothing written")}
				}
			}
			if infer {
				inferred := netpol.InferRequirements(inv)
				for _, a := range inferred {
					if !g.Quiet {
						fmt.Fprintf(s.Err, "note: inferred %s -> %s %v\n", a.From, a.To, a.Ports)
					}
				}
				req.Allow = append(req.Allow, inferred...)
			}
			plan, err := netpol.Generate(inv, req)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			proof, err := plan.Prove(cmd.Context(), inv)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if !proof.OK() {
				for _, d := range proof.Differences {
					fmt.Fprintln(s.Err, "proof:", d)
				}
				for _, d := range proof.Unmet {
					fmt.Fprintln(s.Err, "proof: required but denied:", d)
				}
				return &exitCodeError{Code: exitFindings, Err: fmt.Errorf("the generated policies do not allow exactly the required connectivity (%d differences); nothing written", len(proof.Differences)+len(proof.Unmet))}
			}
			var out io.Writer = s.Out
			if outFile != "" {
				f, err := os.Create(outFile)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				defer f.Close()
				out = f
			}
			if err := writePolicies(out, g.Output, plan); err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			if !g.Quiet {
				fmt.Fprintf(s.Err, "proof: %d policies in %d namespaces allow exactly the %d required connections\n", len(plan.Policies), len(plan.Scope), len(proof.Actual.Connections))
			}
			return nil
		},
	}
	in.addFlags(cmd)
	cmd.Flags().StringVar(&reqFile, "requirements", "", "requirements file (see docs/netpol.md)")
	observed.addHubFlags(cmd)
	cmd.Flags().StringVar(&observed.file, "from-observed", "", "learned runtime profiles (the hub's export, JSON; '-' for standard input) to allow exactly the observed traffic")
	cmd.Flags().StringVar(&outFile, "output-file", "", "write the policies to this file")
	cmd.Flags().BoolVar(&infer, "infer", false, "also allow connections to Services referenced in env vars and ConfigMaps")
	return cmd
}

func writePolicies(w io.Writer, format string, plan *netpol.Plan) error {
	switch strings.ToLower(format) {
	case "json":
		data, err := netpol.PoliciesJSON(plan.Policies)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	case "yaml", "table", "":
		for i, p := range plan.Policies {
			data, err := yaml.Marshal(netpol.Clean(p))
			if err != nil {
				return err
			}
			if i > 0 {
				io.WriteString(w, "---\n")
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("netpol generate writes yaml or json, not %q", format)
}
