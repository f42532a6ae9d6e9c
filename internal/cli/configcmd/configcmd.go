// Package configcmd is the configuration scan command, `palisade scan
// config` and `palisade-scan config`, and the run that `palisade scan
// repo` shares with it: one constructor, so both binaries have the same
// flags, defaults, output, exit codes and memory limit.
//
// What needs packages a lean binary leaves out comes in through Env:
// rendering Helm charts and kustomize overlays (Helm, kustomize and
// client-go), policy files (custom CEL rules) and --framework (the catalog
// of every analyser). palisade-scan passes none of them; it still finds
// charts and overlays in its input (internal/render/discover) and refuses
// them, and refuses --policy, --framework and the Helm flags, each with a
// pointer to `palisade scan config` (exit 2), never scanning something
// other than what was asked.
package configcmd

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/baseline"
	"github.com/palisade-sec/palisade/internal/cli"
	"github.com/palisade-sec/palisade/internal/configscan"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/render/discover"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
)

// Policy is what a policy file (--policy) gives a scan.
type Policy struct {
	// Rules are its custom rules.
	Rules []*rule.Rule
	// Exceptions exempt findings.
	Exceptions []rule.Exception
	// AllowedRegistries and DefaultPSSLevel are its settings; the flags
	// override them.
	AllowedRegistries []string
	DefaultPSSLevel   string
}

// Frameworks report compliance per framework (--framework).
type Frameworks interface {
	// Names validates and splits the flag's values.
	Names(values []string) ([]string, error)
	// AssessConfig adds the compliance of the named frameworks to r, the
	// report of a configuration scan that evaluated set's rules.
	AssessConfig(r *finding.Report, names []string, set *rule.Set) error
}

// Env is what a binary links for the command. A nil field leaves the
// feature out: its flags are refused with a pointer to the palisade
// binary, and charts and overlays in the input too when Render is nil.
type Env struct {
	// Program is the binary's name; Path how the command is called
	// ("palisade scan config", "palisade-scan config").
	Program, Path string
	// Namespace is the -n flag of the palisade binary's root; nil adds
	// -n/--namespace to the command itself.
	Namespace *string
	// Render returns the loader that renders charts and overlays with
	// the Helm flags (scan.RenderLoader).
	Render func(RenderFlags) configscan.Loader
	// Policy reads a policy file.
	Policy func(ctx context.Context, file string) (*Policy, error)
	// Frameworks reports compliance.
	Frameworks Frameworks
}

// leftOut names what a binary without a feature refuses, and where to go.
func (e *Env) leftOut(what string) error {
	return fmt.Errorf("%s, which %s does not link: use 'palisade scan config'", what, e.Program)
}

// ScanFlags are the flags shared by every rule engine scan command.
type ScanFlags struct {
	cli.ReportOptions
	Rules             []string
	PolicyFile        string
	AllowedRegistries []string
	PSSLevel          string
	// Frameworks are the --framework values: compliance to report.
	Frameworks []string
}

// AddFlags adds the selection and report flags.
func (o *ScanFlags) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.FailOn, "fail-on", "low", "exit 1 when a finding is at or above this severity: critical, high, medium, low, or none")
	f.StringSliceVar(&o.Rules, "rules", nil, "rules to run, by tag (pss-baseline, pss-restricted, hardening, dockerfile, custom) or ID glob (\"pss/*\"); prefix with - to exclude")
	f.StringVar(&o.PolicyFile, "policy", "", "policy file: custom CEL rules, exceptions, allow-list, default Pod Security level")
	f.StringSliceVar(&o.AllowedRegistries, "allowed-registries", nil, "registries (or registry/repository globs) images may come from; empty allows all")
	f.StringVar(&o.PSSLevel, "pss-level", "", "Pod Security level for namespaces without an enforce label: privileged, baseline or restricted (default restricted)")
	f.BoolVar(&o.ShowSuppressed, "show-suppressed", false, "list exempted findings in table output (other formats always include them, marked)")
	o.AddOutputFileFlag(f)
}

// AddInputErrorFlag adds --ignore-input-errors, for the commands whose
// input can be partly unreadable.
func (o *ScanFlags) AddInputErrorFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.IgnoreInputErrors, "ignore-input-errors", false,
		"still report input errors (objects not understood, unreadable files or resources, nothing to scan) but exit 0 or 1 by the findings alone")
}

// AddFrameworkFlag adds --framework to a command that reports compliance.
func (o *ScanFlags) AddFrameworkFlag(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&o.Frameworks, "framework", nil,
		"also report compliance per control with a score for these frameworks: cis, nsa, mitre, pss-baseline, pss-restricted, edge (see docs/frameworks.md)")
}

// Prepare turns the flags into scan options: rules selected, policy
// applied. Cluster-level rules need a whole cluster's view and run only
// when liveCluster is true.
func (o *ScanFlags) Prepare(ctx context.Context, env *Env, liveCluster bool) (configscan.Options, error) {
	var opts configscan.Options
	builtin, err := rules.Builtin()
	if err != nil {
		return opts, err
	}
	all := builtin
	if o.PolicyFile != "" {
		if env.Policy == nil {
			return opts, env.leftOut("--policy needs custom CEL rules")
		}
		p, err := env.Policy(ctx, o.PolicyFile)
		if err != nil {
			return opts, err
		}
		if all, err = builtin.With(p.Rules...); err != nil {
			return opts, fmt.Errorf("policy %s: %w", o.PolicyFile, err)
		}
		if err := rule.CheckExceptionRules(all, p.Exceptions); err != nil {
			return opts, err
		}
		opts.Exceptions = p.Exceptions
		opts.Settings.AllowedRegistries = p.AllowedRegistries
		opts.Settings.DefaultPSSLevel = p.DefaultPSSLevel
	}
	if len(o.AllowedRegistries) > 0 {
		opts.Settings.AllowedRegistries = o.AllowedRegistries
	}
	if o.PSSLevel != "" {
		switch o.PSSLevel {
		case rule.LevelPrivileged, rule.LevelBaseline, rule.LevelRestricted:
			opts.Settings.DefaultPSSLevel = o.PSSLevel
		default:
			return opts, fmt.Errorf("--pss-level must be privileged, baseline or restricted, not %q", o.PSSLevel)
		}
	}
	if len(o.Frameworks) > 0 {
		if env.Frameworks == nil {
			return opts, env.leftOut("--framework needs the catalog of every analyser")
		}
		if _, err := env.Frameworks.Names(o.Frameworks); err != nil {
			return opts, err
		}
	}
	selectors := rules.DefaultSelectors(o.Rules)
	if !liveCluster {
		selectors = append(append([]string{}, selectors...), "-"+rule.TagCluster)
	}
	if opts.Rules, err = all.Select(selectors); err != nil {
		return opts, err
	}
	// Selecting only cluster-level rules for manifests would scan nothing
	// and exit clean: say so instead.
	if !liveCluster && opts.Rules.Len() == 0 {
		if asked, err := all.Select(rules.DefaultSelectors(o.Rules)); err == nil && asked.Len() > 0 {
			return opts, fmt.Errorf("--rules selects only cluster-level rules (tag %q), which need a whole cluster's view: run 'palisade scan cluster'", rule.TagCluster)
		}
	}
	return opts, nil
}

// RenderFlags are the `helm template`-like flags of configuration scans.
type RenderFlags struct {
	Values      []string
	Set         []string
	SetString   []string
	ReleaseName string
	KubeVersion string
	// Namespace is -n, .Release.Namespace.
	Namespace string
}

func (r *RenderFlags) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVarP(&r.Values, "values", "f", nil, "Helm values file merged over every chart's values.yaml (repeatable)")
	f.StringArrayVar(&r.Set, "set", nil, "Helm value override, key=value[,key=value] (repeatable)")
	f.StringArrayVar(&r.SetString, "set-string", nil, "Helm string value override, key=value (repeatable)")
	f.StringVar(&r.ReleaseName, "release-name", "", "Helm .Release.Name (default release-name)")
	f.StringVar(&r.KubeVersion, "kube-version", "", "Kubernetes version for Helm's .Capabilities.KubeVersion")
}

// renderFlagNames are the flags that only rendering reads.
var renderFlagNames = []string{"values", "set", "set-string", "release-name", "kube-version"}

// baselineFlags are --baseline and --write-baseline.
type baselineFlags struct {
	read, write string
}

func (b *baselineFlags) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&b.read, "baseline", "", "accepted findings (from --write-baseline): report and fail only on findings not in it")
	f.StringVar(&b.write, "write-baseline", "", "write every current finding to this baseline file and exit 0 (unless the input had errors)")
}

// apply reads the baseline and marks the findings it accepts as
// suppressed; or writes the baseline. root is what finding paths are made
// relative to. It reports whether the command should stop with success
// (a baseline was written).
func (b *baselineFlags) apply(s *cli.Streams, g *cli.Global, r *finding.Report, root string) (written bool, err error) {
	if b.write != "" {
		bf := baseline.FromReport(r, root)
		if err := bf.WriteFile(b.write); err != nil {
			return false, &cli.ExitError{Code: cli.CodeError, Err: err}
		}
		if !g.Quiet {
			fmt.Fprintf(s.Err, "note: baseline %s written with %d accepted finding(s)\n", b.write, len(r.Findings)-r.Summary.Suppressed)
		}
		return true, nil
	}
	if b.read == "" {
		return false, nil
	}
	bf, err := baseline.Read(b.read)
	if err != nil {
		return false, &cli.ExitError{Code: cli.CodeError, Err: err}
	}
	accepted, stale := bf.Apply(r, root, b.read)
	if !g.Quiet {
		fmt.Fprintf(s.Err, "note: baseline %s accepted %d finding(s); %d new\n", b.read, accepted, r.Summary.Total)
		if stale > 0 {
			fmt.Fprintf(s.Err, "note: %d baseline entr(ies) matched nothing (fixed?): rewrite it with --write-baseline to shrink it\n", stale)
		}
	}
	return false, nil
}

// Options are every flag of scan config and scan repo.
type Options struct {
	ScanFlags
	Render   RenderFlags
	baseline baselineFlags
	ci       ciFlags
}

// AddFlags adds the flags of a configuration scan, besides the ones of
// ScanFlags.AddFlags (added first, with a command's own flags between).
func (o *Options) AddFlags(cmd *cobra.Command) {
	o.AddInputErrorFlag(cmd)
	o.AddFrameworkFlag(cmd)
	o.Render.addFlags(cmd)
	o.baseline.addFlags(cmd)
	o.ci.addFlags(cmd)
}

// Deps are scan repo's dependency scan, added to a configuration scan.
type Deps interface {
	// Check validates the flags.
	Check() error
	// Scanners says whether the configuration scan and the dependency
	// scan are asked for.
	Scanners() (config, deps bool)
	// Scan scans the lock files under root and merges the result into r
	// (nil when the configuration scan did not run).
	Scan(ctx context.Context, root string, r *finding.Report) (*finding.Report, error)
}

// Run is scan config and scan repo: render, scan, baseline, report. root
// is what baseline paths are relative to. deps (scan repo's, nil for scan
// config) adds the dependencies of the lock files under root.
func Run(cmd *cobra.Command, s *cli.Streams, g *cli.Global, env *Env, o *Options, deps Deps, paths []string, root string) error {
	format, err := report.ParseFormat(g.Output)
	if err != nil {
		return &cli.ExitError{Code: cli.CodeError, Err: err}
	}
	if _, _, err := o.FailThreshold(); err != nil {
		return &cli.ExitError{Code: cli.CodeError, Err: err}
	}
	if deps != nil {
		if err := deps.Check(); err != nil {
			return &cli.ExitError{Code: cli.CodeError, Err: err}
		}
	}
	if o.baseline.read != "" && o.baseline.write != "" {
		return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("--baseline and --write-baseline exclude each other")}
	}
	mode, err := o.ci.mode()
	if err != nil {
		return &cli.ExitError{Code: cli.CodeError, Err: err}
	}
	if env.Render == nil {
		for _, name := range renderFlagNames {
			if cmd.Flags().Changed(name) {
				return &cli.ExitError{Code: cli.CodeError, Err: env.leftOut("--" + name + " needs Helm")}
			}
		}
	}
	opts, err := o.Prepare(cmd.Context(), env, false)
	if err != nil {
		return &cli.ExitError{Code: cli.CodeError, Err: err}
	}
	defer withScanMemoryLimit(os.Getenv)()
	namespace := ""
	if env.Namespace != nil {
		namespace = *env.Namespace
	}
	var r *finding.Report
	scanConfig, scanDeps := true, false
	if deps != nil {
		scanConfig, scanDeps = deps.Scanners()
	}
	if scanConfig {
		load := plainLoader(env)
		if env.Render != nil {
			rf := o.Render
			rf.Namespace = namespace
			load = env.Render(rf)
		}
		if r, err = configscan.Run(cmd.Context(), configscan.Input{Paths: paths, Stdin: s.In, DefaultNamespace: namespace, Load: load}, opts); err != nil {
			return &cli.ExitError{Code: cli.CodeError, Err: err}
		}
		// Compliance counts every finding, before a baseline hides accepted ones.
		if env.Frameworks != nil && len(o.Frameworks) > 0 {
			names, err := env.Frameworks.Names(o.Frameworks)
			if err == nil {
				err = env.Frameworks.AssessConfig(r, names, opts.Rules)
			}
			if err != nil {
				return &cli.ExitError{Code: cli.CodeError, Err: err}
			}
		}
	}
	if scanDeps {
		if r, err = deps.Scan(cmd.Context(), root, r); err != nil {
			return &cli.ExitError{Code: cli.CodeError, Err: err}
		}
	}
	written, err := o.baseline.apply(s, g, r, root)
	if err != nil {
		return err
	}
	if written {
		if r.Summary.Errors > 0 && !o.IgnoreInputErrors {
			return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("%d input error(s); the baseline covers the rest of the input", r.Summary.Errors)}
		}
		return nil
	}
	return writeCIReport(s, g, &o.ReportOptions, mode, format, r)
}

// plainLoader loads plain manifests and Dockerfiles, for a binary that
// does not render: a Helm chart or kustomize overlay in the input is
// refused, naming it, since scanning its files as plain manifests would
// report on templates, not on what would be applied.
func plainLoader(env *Env) configscan.Loader {
	return func(ctx context.Context, paths []string, mopts manifest.Options) (*manifest.Set, []configscan.Patched, error) {
		plan, err := discover.Discover(ctx, paths)
		if err != nil {
			return nil, nil, err
		}
		if len(plan.Sources) > 0 {
			names := make([]string, 0, 3)
			for _, src := range plan.Sources[:min(3, len(plan.Sources))] {
				names = append(names, fmt.Sprintf("%s (%s)", src.Path, src.Kind))
			}
			if len(plan.Sources) > 3 {
				names = append(names, fmt.Sprintf("%d more", len(plan.Sources)-3))
			}
			return nil, nil, env.leftOut("rendering Helm charts and kustomize overlays (" + strings.Join(names, ", ") + ") needs Helm and kustomize")
		}
		set, err := plan.Load(ctx, paths, mopts, nil, plan.Problems)
		return set, nil, err
	}
}

// New returns the scan config command.
func New(s *cli.Streams, g *cli.Global, env Env) *cobra.Command {
	o := &Options{}
	render := `Helm
charts (directories with Chart.yaml, packaged .tgz) and kustomize overlays
found in PATH are rendered first (--values, --set; see docs/ci-cd.md).`
	if env.Render == nil {
		render = `Helm
charts (directories with Chart.yaml, packaged .tgz) and kustomize overlays
found in PATH are refused (exit 2): ` + env.Program + ` does not link Helm or
kustomize to render them, nor CEL for --policy, nor the catalog for
--framework; use 'palisade scan config' for them.`
	}
	example := `  ` + env.Path + ` ./deploy
  helm template my-chart | ` + env.Path + ` -
  ` + env.Path + ` k8s/ --rules pss-restricted,hardening -o sarif --output-file palisade.sarif`
	if env.Policy != nil {
		example += "\n  " + env.Path + " . --policy policy.yaml --fail-on high"
	}
	if env.Frameworks != nil {
		example += "\n  " + env.Path + " ./deploy --framework cis,nsa -o json"
	}
	cmd := &cobra.Command{
		Use:   "config PATH... | -",
		Short: "Scan Kubernetes manifests and Dockerfiles for insecure configuration",
		Long: `Scan Kubernetes manifests (YAML or JSON, multi-document, kind: List, Helm or
kustomize output) and Dockerfiles against the Pod Security Standards,
hardening rules and your custom CEL rules.

PATH may be a file, a directory (read recursively: *.yaml, *.yml, *.json,
Dockerfile*, *.Dockerfile, Containerfile) or - for standard input. ` + render + `

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
		Example: example,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &cli.ExitError{Code: cli.CodeError, Err: fmt.Errorf("scan config needs at least one PATH (or - for standard input)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return Run(cmd, s, g, &env, o, nil, args, ".")
		},
	}
	o.ScanFlags.AddFlags(cmd)
	o.AddFlags(cmd)
	if env.Namespace == nil {
		env.Namespace = new(string)
		cmd.Flags().StringVarP(env.Namespace, "namespace", "n", "", "namespace for manifests without one")
	}
	return cmd
}
