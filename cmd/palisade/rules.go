package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
)

func newRulesCommand(s *streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List and describe the built-in rules",
	}
	var selectors []string
	list := &cobra.Command{
		Use:   "list",
		Short: "List rules with their ID, severity, tags and title",
		Example: `  palisade rules list
  palisade rules list --rules pss-restricted -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := rules.Builtin()
			if err != nil {
				return err
			}
			if set, err = set.Select(selectors); err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			var infos []finding.RuleInfo
			for _, r := range set.Rules() {
				infos = append(infos, r.Info())
			}
			switch g.output {
			case "json":
				b, _ := json.MarshalIndent(map[string]any{"rules": infos}, "", "  ")
				fmt.Fprintln(s.out, string(b))
			case "yaml":
				b, _ := yaml.Marshal(map[string]any{"rules": infos})
				fmt.Fprint(s.out, string(b))
			case "table", "":
				tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tTAGS\tTITLE")
				for _, r := range infos {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, strings.Join(r.Tags, ","), r.Title)
				}
				return tw.Flush()
			default:
				return &exitCodeError{code: exitError, err: fmt.Errorf("rules list supports -o table, json or yaml, not %q", g.output)}
			}
			return nil
		},
	}
	list.Flags().StringSliceVar(&selectors, "rules", nil, "only rules matching these tags or ID globs")
	show := &cobra.Command{
		Use:   "show RULE-ID",
		Short: "Describe one rule: why it matters, how to fix it, references",
		Long: `Describe one rule: why it matters, how to fix it, references. Given a
former rule ID (an alias kept after a rename or split), describe every rule
it now stands for.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := rules.Builtin()
			if err != nil {
				return err
			}
			matched := set.ByAlias(args[0])
			if r, ok := set.Get(args[0]); ok {
				matched = []*rule.Rule{r}
			} else if len(matched) > 0 {
				fmt.Fprintf(s.out, "%s is a former rule ID; it now stands for %d rule(s).\n\n", args[0], len(matched))
			}
			if len(matched) == 0 {
				return &exitCodeError{code: exitError, err: fmt.Errorf("no rule %q (see 'palisade rules list')", args[0])}
			}
			for n, r := range matched {
				if n > 0 {
					fmt.Fprintln(s.out)
				}
				i := r.Info()
				fmt.Fprintf(s.out, "%s  [%s]  %s\ntags: %s\n", i.ID, i.Severity, i.Title, strings.Join(i.Tags, ", "))
				if len(i.Aliases) > 0 {
					fmt.Fprintf(s.out, "aliases: %s (still select and exempt this rule)\n", strings.Join(i.Aliases, ", "))
				}
				fmt.Fprintf(s.out, "\n%s\n\nRemediation: %s\n", i.Description, i.Remediation)
				if len(i.References) > 0 {
					fmt.Fprintln(s.out, "\nReferences:")
					for _, ref := range i.References {
						fmt.Fprintf(s.out, "  - %s %s\n", ref.Title, ref.URL)
					}
				}
			}
			return nil
		},
	}
	docs := &cobra.Command{
		Use:   "docs",
		Short: "Print the Markdown rule reference (docs/rules.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := rules.Builtin()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(s.out, rules.Markdown(set))
			return err
		},
	}
	cmd.AddCommand(list, show, docs)
	return cmd
}
