package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/configscan"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rbac"
	"github.com/palisade-sec/palisade/internal/render"
	"github.com/palisade-sec/palisade/internal/report"
	rbacrules "github.com/palisade-sec/palisade/internal/rules/rbac"
	"github.com/palisade-sec/palisade/internal/scan"
	"github.com/palisade-sec/palisade/internal/workload"
)

func newRBACCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Find risky RBAC grants and answer who can do what",
	}
	cmd.AddCommand(newRBACAnalyzeCommand(s, g), newRBACWhoCanCommand(s, g))
	return cmd
}

// rbacSource reads RBAC objects from manifests or, with --cluster, the API.
type rbacSource struct {
	live bool
}

func (r *rbacSource) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&r.live, "cluster", false, "read the live cluster (--kubeconfig, --context) instead of manifests")
}

func (r *rbacSource) check(args []string) error {
	if r.live == (len(args) > 0) {
		return &exitCodeError{Code: exitError, Err: fmt.Errorf("give manifest paths or --cluster, not both or neither")}
	}
	return nil
}

func newRBACAnalyzeCommand(s *streams, g *globalOptions) *cobra.Command {
	o := &scanOptions{}
	src := &rbacSource{}
	cmd := &cobra.Command{
		Use:   "analyze (PATH... | --cluster)",
		Short: "Report risky grants: Secrets, exec, escalation, tokens, nodes/proxy, webhooks, CSR approval, RBAC and workload writes, wildcards, cluster-admin, anonymous bindings",
		Long: `Report RBAC grants that let their holders read credentials, run code in
other workloads or raise their own privileges, from manifests or a live
cluster. These are the rules tagged rbac; 'palisade scan config' and
'palisade scan cluster' run them too.

A Role or ClusterRole with a risky grant is reported at the rule that gives
it, bound or not (a chart's ClusterRole is often bound elsewhere); a
binding in the input adds who receives it. The roles Kubernetes ships
(cluster-admin, admin, edit, view, system:*) are reported only through
their bindings. System subjects (system: users and groups, kube-system
service accounts) are not reported; broad groups (system:authenticated,
system:unauthenticated, system:serviceaccounts) are.

Exit codes: 0 no finding at or above --fail-on; 1 findings; 2 usage error,
unreadable input, or input without any Role, ClusterRole or binding
(nothing to audit).`,
		Example: `  palisade rbac analyze ./manifests
  palisade rbac analyze --cluster -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := src.check(args); err != nil {
				return err
			}
			format, err := report.ParseFormat(g.Output)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			o.Rules = []string{rbacrules.TagRBAC}
			opts, err := o.prepare(cmd, src.live)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			var r *finding.Report
			if src.live {
				client, err := liveClient(g)
				if err != nil {
					return err
				}
				r, _, err = scan.Cluster(cmd.Context(), client, cluster.ReadOptions{}, opts)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
			} else {
				// The bindings whose role the rules cannot judge are
				// found as the objects are loaded (the scan releases
				// them as it goes).
				var unresolved []string
				load := scan.RenderLoader(render.Options{})
				r, err = configscan.Run(cmd.Context(), configscan.Input{Paths: args, Stdin: s.In, DefaultNamespace: g.namespace,
					Load: func(ctx context.Context, paths []string, mopts manifest.Options) (*manifest.Set, []configscan.Patched, error) {
						set, patched, err := load(ctx, paths, mopts)
						if err == nil && set != nil {
							unresolved = unresolvedBindings(set, g.namespace)
						}
						return set, patched, err
					}}, opts)
				if err != nil {
					return &exitCodeError{Code: exitError, Err: err}
				}
				// No RBAC object read: "No findings" would be a false
				// clean (the rules had nothing to look at).
				if r.Inputs["rbac"] == 0 {
					return &exitCodeError{Code: exitError, Err: fmt.Errorf("no Role, ClusterRole, RoleBinding or ClusterRoleBinding in %s: nothing to audit", strings.Join(args, ", "))}
				}
				addUnresolvedBindings(r, unresolved)
			}
			return o.writeReport(s, g, format, r)
		},
	}
	cmd.Flags().StringVar(&o.FailOn, "fail-on", "low", "exit 1 when a finding is at or above this severity, or none")
	cmd.Flags().StringVar(&o.OutputFile, "output-file", "", "write the report to this file")
	cmd.Flags().StringVar(&o.PolicyFile, "policy", "", "policy file (exceptions)")
	src.addFlags(cmd)
	return cmd
}

// unresolvedBindings decodes copies of the set's RBAC objects (decoding
// releases an object's JSON, which the scan still needs) and lists the
// bindings whose role cannot be judged (rbac.Model.Unresolved).
func unresolvedBindings(set *manifest.Set, namespace string) []string {
	var objs []*manifest.Object
	for _, o := range set.Objects {
		switch o.Kind {
		case "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
			if strings.HasPrefix(o.APIVersion, "rbac.authorization.k8s.io/") {
				cp := *o
				objs = append(objs, &cp)
			}
		}
	}
	inv, _ := workload.FromManifests(&manifest.Set{Objects: objs}, namespace)
	return rbac.NewModel(inv.RBAC, true).Unresolved()
}

// addUnresolvedBindings adds an error to the report for each binding of
// the manifests whose role is not in the input (nor shipped by every
// cluster) or is an aggregated ClusterRole whose rules the input does not
// hold (rbac.Model.Unresolved): what such a binding gives its subjects
// cannot be judged, so "No findings" would be a false clean (exit 2).
func addUnresolvedBindings(r *finding.Report, unresolved []string) {
	for _, u := range unresolved {
		r.Problems = append(r.Problems, finding.Problem{Level: finding.LevelError,
			Message: u + ": the role is not in the input, so what the binding grants cannot be judged (add the file holding the role, or use --cluster)"})
		r.Summary.Errors++
	}
}

func newRBACWhoCanCommand(s *streams, g *globalOptions) *cobra.Command {
	src := &rbacSource{}
	var name string
	cmd := &cobra.Command{
		Use:   "who-can VERB RESOURCE (PATH... | --cluster)",
		Short: "List the subjects that may do VERB on RESOURCE, with the binding and role that allow it",
		Long: `List the users, groups and service accounts that may do VERB on RESOURCE
(kubectl spelling: pods, pods/exec, deployments.apps, roles.rbac.authorization.k8s.io)
in the namespace given with -n (cluster-wide bindings only without -n),
evaluated like the API server's RBAC authorizer: wildcards, subresources,
resourceNames (which only match with --name), RoleBindings to
ClusterRoles. Members of system:masters always may. In manifests,
ClusterRoles with an aggregationRule are aggregated first.

From manifests the answer comes only from the RBAC read: input without any
Role, ClusterRole or binding is an error, and a binding to a role not in
the input (nor built in) is named on stderr with exit 2, as its subjects
may hold grants the input does not show.

Exit codes: 0 answered; 2 usage error, unreadable input, or an answer that
may be incomplete.`,
		Example: `  palisade rbac who-can get secrets -n shop --cluster
  palisade rbac who-can create pods/exec -n prod ./rbac/
  palisade rbac who-can get secrets --name tls -n shop --cluster -o json`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			verb, resource, paths := args[0], args[1], args[2:]
			if err := src.check(paths); err != nil {
				return err
			}
			inv, err := loadRBAC(cmd.Context(), s, g, src.live, paths)
			if err != nil {
				return err
			}
			r := inv.RBAC
			if !src.live && len(r.Roles)+len(r.ClusterRoles)+len(r.RoleBindings)+len(r.ClusterRoleBindings) == 0 {
				// Only system:masters would be listed: an answer from no
				// RBAC at all is not "nobody else may".
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("no Role, ClusterRole, RoleBinding or ClusterRoleBinding in %s: nothing to answer from", strings.Join(paths, ", "))}
			}
			group, res, sub := rbac.ParseResource(resource)
			req := rbac.Request{Verb: verb, Group: group, Resource: res, Subresource: sub, Namespace: g.namespace, Name: name}
			model := rbac.NewModel(r, !src.live)
			grants := model.WhoCan(req)
			var incomplete error
			if unresolved := model.Unresolved(); !src.live && len(unresolved) > 0 {
				// The subjects of these bindings may hold the grant
				// through a role the input lacks: the list printed is a
				// lower bound, so the exit code says it is not the answer.
				incomplete = &exitCodeError{Code: exitError, Err: fmt.Errorf("the answer may be incomplete: %d binding(s) refer to a role not in the input: %s", len(unresolved), strings.Join(unresolved, "; "))}
			}
			if err := writeWhoCan(s, g.Output, req, grants); err != nil {
				return err
			}
			return incomplete
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the object's name, for roles that use resourceNames")
	src.addFlags(cmd)
	return cmd
}

// writeWhoCan prints who-can's answer in the output format.
func writeWhoCan(s *streams, output string, req rbac.Request, grants []rbac.Grant) error {
	switch output {
	case "json":
		b, _ := json.MarshalIndent(map[string]any{"request": req, "subjects": grants}, "", "  ")
		fmt.Fprintln(s.Out, string(b))
	case "yaml":
		b, _ := yaml.Marshal(map[string]any{"request": req, "subjects": grants})
		fmt.Fprint(s.Out, string(b))
	case "table", "":
		tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tSUBJECT\tBINDING\tROLE")
		for _, gr := range grants {
			subj := gr.Subject.Name
			if gr.Subject.Namespace != "" {
				subj = gr.Subject.Namespace + "/" + subj
			}
			role := gr.Role
			if role == "" {
				role = "(superuser: bypasses RBAC)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", gr.Subject.Kind, subj, gr.Binding, role)
		}
		return tw.Flush()
	default:
		return &exitCodeError{Code: exitError, Err: fmt.Errorf("who-can supports -o table, json or yaml, not %q", output)}
	}
	return nil
}

func liveClient(g *globalOptions) (kubernetes.Interface, error) {
	cfg, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: g.kubeconfig, Context: g.context})
	if err != nil {
		return nil, &exitCodeError{Code: exitError, Err: err}
	}
	c, err := cluster.NewClient(cfg)
	if err != nil {
		return nil, &exitCodeError{Code: exitError, Err: err}
	}
	return c, nil
}

func loadRBAC(ctx context.Context, s *streams, g *globalOptions, live bool, paths []string) (*workload.Inventory, error) {
	if live {
		c, err := liveClient(g)
		if err != nil {
			return nil, err
		}
		snap, err := cluster.Read(ctx, c, cluster.ReadOptions{})
		if err != nil {
			return nil, &exitCodeError{Code: exitError, Err: err}
		}
		return snap.Inventory, nil
	}
	set, err := manifest.Load(ctx, paths, manifest.Options{Stdin: s.In, SkipDockerfiles: true})
	if err != nil {
		return nil, &exitCodeError{Code: exitError, Err: err}
	}
	inv, probs := workload.FromManifests(set, g.namespace)
	for _, p := range append(set.Problems, probs...) {
		if p.Level == "error" {
			return nil, &exitCodeError{Code: exitError, Err: fmt.Errorf("%s", p)}
		}
	}
	return inv, nil
}
