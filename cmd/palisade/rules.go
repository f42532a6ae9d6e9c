package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/catalog"
	"github.com/palisade-sec/palisade/internal/finding"
)

func newRulesCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List and describe every check of every analyser",
		Long: `List and describe the checks of every analyser: workload and Dockerfile
rules, cluster and RBAC rules, node audit checks, audit-log detections,
encryption at rest and network-policy findings, with their CIS, NSA/CISA,
MITRE ATT&CK and Pod Security mappings and the equivalent checks of other
tools (Trivy, Kubescape, Polaris, kube-score, kube-linter, kube-bench).`,
	}
	var selectors []string
	list := &cobra.Command{
		Use:   "list",
		Short: "List checks with their ID, analyser, severity, tags and title",
		Long: `List checks with their ID, analyser, severity, tags and title.

--rules selects by tag, analyser (node, audit, netpol ...), ID glob, former
ID, framework (cis, cis-5.2.*, nsa, nsa:network.*, mitre:T1611,
pss:baseline/*) or a peer tool's check ID (ksv-0017, C-0057,
trivy:KSV-0017), case-insensitively; prefix with - to exclude. A selector
that matches nothing is an error (exit 2).`,
		Example: `  palisade rules list
  palisade rules list --rules pss-restricted -o json
  palisade rules list --rules cis-5.2.*
  palisade rules list --rules mitre:T1611,ksv-0017`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			checks, err := cat.Select(selectors)
			if err != nil {
				return &exitCodeError{Code: exitError, Err: err}
			}
			infos := make([]finding.RuleInfo, 0, len(checks))
			for _, c := range checks {
				infos = append(infos, c.RuleInfo)
			}
			switch g.Output {
			case "json":
				b, _ := json.MarshalIndent(map[string]any{"rules": infos}, "", "  ")
				fmt.Fprintln(s.Out, string(b))
			case "yaml":
				b, _ := yaml.Marshal(map[string]any{"rules": infos})
				fmt.Fprint(s.Out, string(b))
			case "table", "":
				tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tANALYSER\tSEVERITY\tTAGS\tTITLE")
				for _, r := range infos {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Analyser, r.Severity, strings.Join(r.Tags, ","), r.Title)
				}
				return tw.Flush()
			default:
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("rules list supports -o table, json or yaml, not %q", g.Output)}
			}
			return nil
		},
	}
	list.Flags().StringSliceVar(&selectors, "rules", nil, "only checks matching these tags, analysers, ID globs, framework selectors or peer IDs")
	show := &cobra.Command{
		Use:   "show RULE-ID",
		Short: "Describe one check: why it matters, how to fix it, frameworks, peers, references",
		Long: `Describe one check: why it matters, how to fix it, its framework mappings,
the equivalent checks of other tools, and references. Given a former
rule ID (an alias kept after a rename or split), describe every rule it
now stands for.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			matched := cat.ByAlias(args[0])
			if c, ok := cat.Get(args[0]); ok {
				matched = []*catalog.Check{c}
			} else if len(matched) > 0 {
				fmt.Fprintf(s.Out, "%s is a former rule ID; it now stands for %d rule(s).\n\n", args[0], len(matched))
			}
			if len(matched) == 0 {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("no rule %q (see 'palisade rules list')", args[0])}
			}
			for n, c := range matched {
				if n > 0 {
					fmt.Fprintln(s.Out)
				}
				fmt.Fprintf(s.Out, "%s  [%s]  %s\nanalyser: %s\ntags: %s\n", c.ID, c.Severity, c.Title, c.Analyser, strings.Join(c.Tags, ", "))
				if len(c.Aliases) > 0 {
					fmt.Fprintf(s.Out, "aliases: %s (still select and exempt this rule)\n", strings.Join(c.Aliases, ", "))
				}
				for _, l := range catalog.FrameworkLines(c.Frameworks) {
					fmt.Fprintf(s.Out, "framework: %s\n", l)
				}
				if len(c.Peers) > 0 {
					fmt.Fprintf(s.Out, "equivalent: %s\n", catalog.PeerLine(c.Peers))
				}
				rem := c.Remediation
				if c.Fix != "" {
					rem += "\n\n" + c.Fix
				}
				fmt.Fprintf(s.Out, "\n%s\n\nRemediation: %s\n", c.Description, rem)
				if len(c.References) > 0 {
					fmt.Fprintln(s.Out, "\nReferences:")
					for _, ref := range c.References {
						fmt.Fprintf(s.Out, "  - %s %s\n", ref.Title, ref.URL)
					}
				}
			}
			return nil
		},
	}
	docs := &cobra.Command{
		Use:   "docs",
		Short: "Print the Markdown reference of every check (docs/rules.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(s.Out, catalog.Markdown(cat))
			return err
		},
	}
	coverage := &cobra.Command{
		Use:   "coverage",
		Short: "Print, per peer tool, every check it documents and how Palisade covers it (docs/coverage.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(s.Out, catalog.Coverage(cat))
			return err
		},
	}
	cmd.AddCommand(list, show, docs, coverage)
	return cmd
}
