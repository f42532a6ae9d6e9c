package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/policy"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
)

// scanOptions are the flags shared by every scan command.
type scanOptions struct {
	cli.ReportOptions
	rules             []string
	policyFile        string
	allowedRegistries []string
	pssLevel          string
	// frameworks are the --framework values: compliance to report.
	frameworks []string
}

func (o *scanOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.FailOn, "fail-on", "low", "exit 1 when a finding is at or above this severity: critical, high, medium, low, or none")
	f.StringSliceVar(&o.rules, "rules", nil, "rules to run, by tag (pss-baseline, pss-restricted, hardening, dockerfile, custom) or ID glob (\"pss/*\"); prefix with - to exclude")
	f.StringVar(&o.policyFile, "policy", "", "policy file: custom CEL rules, exceptions, allow-list, default Pod Security level")
	f.StringSliceVar(&o.allowedRegistries, "allowed-registries", nil, "registries (or registry/repository globs) images may come from; empty allows all")
	f.StringVar(&o.pssLevel, "pss-level", "", "Pod Security level for namespaces without an enforce label: privileged, baseline or restricted (default restricted)")
	f.BoolVar(&o.ShowSuppressed, "show-suppressed", false, "list exempted findings in table output (other formats always include them, marked)")
	o.AddOutputFileFlag(f)
}

// addInputErrorFlag adds --ignore-input-errors, for the commands whose
// input can be partly unreadable.
func (o *scanOptions) addInputErrorFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.IgnoreInputErrors, "ignore-input-errors", false,
		"still report input errors (objects not understood, unreadable files or resources, nothing to scan) but exit 0 or 1 by the findings alone")
}

// prepare turns flags into scan options: rules selected, policy applied.
// Cluster-level rules need a whole cluster's view and run only when
// liveCluster is true.
func (o *scanOptions) prepare(cmd *cobra.Command, liveCluster bool) (scan.Options, error) {
	var opts scan.Options
	builtin, err := rules.Builtin()
	if err != nil {
		return opts, err
	}
	all := builtin
	if o.policyFile != "" {
		p, err := policy.Load(cmd.Context(), o.policyFile)
		if err != nil {
			return opts, err
		}
		customRules, err := p.CustomRules()
		if err != nil {
			return opts, err
		}
		if all, err = builtin.With(customRules...); err != nil {
			return opts, fmt.Errorf("policy %s: %w", o.policyFile, err)
		}
		opts.Exceptions = p.Exceptions()
		opts.Settings.AllowedRegistries = p.Spec.AllowedRegistries
		opts.Settings.DefaultPSSLevel = p.Spec.PodSecurity.DefaultLevel
	}
	if len(o.allowedRegistries) > 0 {
		opts.Settings.AllowedRegistries = o.allowedRegistries
	}
	if o.pssLevel != "" {
		switch o.pssLevel {
		case rule.LevelPrivileged, rule.LevelBaseline, rule.LevelRestricted:
			opts.Settings.DefaultPSSLevel = o.pssLevel
		default:
			return opts, fmt.Errorf("--pss-level must be privileged, baseline or restricted, not %q", o.pssLevel)
		}
	}
	if _, err := o.frameworkNames(); err != nil {
		return opts, err
	}
	selectors := rules.DefaultSelectors(o.rules)
	if !liveCluster {
		selectors = append(append([]string{}, selectors...), "-"+rule.TagCluster)
	}
	if opts.Rules, err = all.Select(selectors); err != nil {
		return opts, err
	}
	// Selecting only cluster-level rules for manifests would scan nothing
	// and exit clean: say so instead.
	if !liveCluster && opts.Rules.Len() == 0 {
		if asked, err := all.Select(rules.DefaultSelectors(o.rules)); err == nil && asked.Len() > 0 {
			return opts, fmt.Errorf("--rules selects only cluster-level rules (tag %q), which need a whole cluster's view: run 'palisade scan cluster'", rule.TagCluster)
		}
	}
	return opts, nil
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
	o := &scanOptions{}
	rf, bf, cf := &renderFlags{}, &baselineFlags{}, &ciFlags{}
	cmd := &cobra.Command{
		Use:   "config PATH... | -",
		Short: "Scan Kubernetes manifests and Dockerfiles for insecure configuration",
		Long: `Scan Kubernetes manifests (YAML or JSON, multi-document, kind: List, Helm or
kustomize output) and Dockerfiles against the Pod Security Standards,
hardening rules and your custom CEL rules.

PATH may be a file, a directory (read recursively: *.yaml, *.yml, *.json,
Dockerfile*, *.Dockerfile, Containerfile) or - for standard input. Helm
charts (directories with Chart.yaml, packaged .tgz) and kustomize overlays
found in PATH are rendered first (--values, --set; see docs/ci-cd.md).

Every output says how much of the input was understood ("N objects
scanned, M not understood"). An object Palisade cannot understand (an
apiVersion Kubernetes does not serve for its kind, a document that does
not parse, a field of the wrong type) is an input error naming its file
and line; so is an input with nothing to scan. A built-in kind under a
removed or mistaken apiVersion (extensions/v1beta1 DaemonSet, v1
Deployment) is scanned as that kind and reported by
hardening/deprecated-api-version.

Exit codes: 0 no findings at or above --fail-on; 1 findings at or above
--fail-on; 2 usage or input error (the report still covers the rest;
--ignore-input-errors decides by the findings alone).`,
		Example: `  palisade scan config ./deploy
  helm template my-chart | palisade scan config -
  palisade scan config k8s/ --rules pss-restricted,hardening -o sarif --output-file palisade.sarif
  palisade scan config . --policy policy.yaml --fail-on high
  palisade scan config ./deploy --framework cis,nsa -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("scan config needs at least one PATH (or - for standard input)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigScan(cmd, s, g, o, rf, bf, cf, nil, args, ".")
		},
	}
	o.addFlags(cmd)
	o.addInputErrorFlag(cmd)
	o.addFrameworkFlag(cmd)
	rf.addFlags(cmd)
	bf.addFlags(cmd)
	cf.addFlags(cmd)
	return cmd
}
