package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/baseline"
	"github.com/palisade-sec/palisade/internal/catalog"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/render"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/scan"
)

// renderFlags are the `helm template`-like flags of configuration scans.
type renderFlags struct {
	values      []string
	set         []string
	setString   []string
	releaseName string
	kubeVersion string
}

func (r *renderFlags) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVarP(&r.values, "values", "f", nil, "Helm values file merged over every chart's values.yaml (repeatable)")
	f.StringArrayVar(&r.set, "set", nil, "Helm value override, key=value[,key=value] (repeatable)")
	f.StringArrayVar(&r.setString, "set-string", nil, "Helm string value override, key=value (repeatable)")
	f.StringVar(&r.releaseName, "release-name", "", "Helm .Release.Name (default release-name)")
	f.StringVar(&r.kubeVersion, "kube-version", "", "Kubernetes version for Helm's .Capabilities.KubeVersion")
}

func (r *renderFlags) options(g *globalOptions) render.Options {
	return render.Options{
		ValuesFiles: r.values, Set: r.set, SetString: r.setString,
		ReleaseName: r.releaseName, Namespace: g.namespace, KubeVersion: r.kubeVersion,
	}
}

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
func (b *baselineFlags) apply(s *streams, g *globalOptions, r *finding.Report, root string) (written bool, err error) {
	if b.write != "" {
		bf := baseline.FromReport(r, root)
		if err := bf.WriteFile(b.write); err != nil {
			return false, &exitCodeError{Code: exitError, Err: err}
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
		return false, &exitCodeError{Code: exitError, Err: err}
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

func newScanRepoCommand(s *streams, g *globalOptions) *cobra.Command {
	o := &scanOptions{}
	rf := &renderFlags{}
	bf := &baselineFlags{}
	cf := &ciFlags{}
	df := &depFlags{}
	cmd := &cobra.Command{
		Use:   "repo DIR",
		Short: "Scan a whole repository: manifests, Helm charts, kustomizations, Dockerfiles and the dependencies of lock files",
		Long: `Scan everything in a repository that ends up in a cluster, in one report:
Kubernetes manifests, Helm charts (directories and packaged .tgz, rendered
with --values/--set as helm template would), kustomize overlays (rendered
offline as kustomize build would; remote bases are refused) and Dockerfiles.
Hidden directories, node_modules and vendor are skipped.

The dependencies pinned by lock files (package-lock.json and
npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock, poetry.lock, uv.lock,
Pipfile.lock, requirements*.txt pins, Gemfile.lock, composer.lock,
packages.lock.json, Cargo.lock, mix.lock, conan.lock, pubspec.lock,
Package.resolved) are matched against the vulnerability database
(palisade db update; --cache-dir): each finding names the lock file and
the package's line, and says when the package is a development
dependency. A lock file that does not parse, a missing database, or an
ecosystem without advisories is an error (exit 2) unless
--allow-missing-data. A dependency vulnerability of unknown severity fails
--fail-on at every level but none, unless --ignore-unknown-severity. --scanners config or --scanners vuln runs one
side only. --vex applies OpenVEX documents as scan image does: a
not_affected or fixed statement whose product names the package by PURL
(pkg:npm/lodash@4.17.20, or pkg:npm/lodash for every version) suppresses
the finding, which stays in the report marked suppressed with the
statement's status and justification; a VEX file that cannot be read is
an error (exit 2) naming the file.

Each finding names the file a developer edits: the manifest, the chart
template, the kustomize resource file (or kustomization file for generated
objects), the Dockerfile.

--baseline FILE reports and fails only on findings not accepted in FILE,
written earlier with --write-baseline. Fingerprints do not depend on line
numbers, and paths are taken relative to DIR.

Exit codes: 0 no findings at or above --fail-on; 1 findings at or above
--fail-on; 2 usage or input error, such as an object not understood or
nothing to scan (the report still covers the rest; --ignore-input-errors
decides by the findings alone).`,
		Example: `  palisade scan repo .
  palisade scan repo . --write-baseline .palisade-baseline.json
  palisade scan repo . --baseline .palisade-baseline.json --fail-on high -o sarif --output-file palisade.sarif
  palisade scan repo . --values ci/values-prod.yaml --set image.tag=1.2.3 --ci
  palisade scan repo . --scanners vuln --vex .vex/app.openvex.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("scan repo needs exactly one DIR")}
			}
			if info, err := os.Stat(args[0]); err != nil || !info.IsDir() {
				return &exitCodeError{Code: exitError, Err: fmt.Errorf("scan repo: %s is not a directory", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigScan(cmd, s, g, o, rf, bf, cf, df, args, args[0])
		},
	}
	o.addFlags(cmd)
	df.addFlags(cmd, o)
	o.addInputErrorFlag(cmd)
	o.addFrameworkFlag(cmd)
	rf.addFlags(cmd)
	bf.addFlags(cmd)
	cf.addFlags(cmd)
	return cmd
}

// runConfigScan is scan config and scan repo: render, scan, baseline,
// report. root is what baseline paths are relative to. df (scan repo's,
// nil for scan config) adds the dependencies of the lock files under root.
func runConfigScan(cmd *cobra.Command, s *streams, g *globalOptions, o *scanOptions, rf *renderFlags, bf *baselineFlags, cf *ciFlags, df *depFlags, paths []string, root string) error {
	format, err := report.ParseFormat(g.Output)
	if err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	if _, _, err := o.FailThreshold(); err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	if df != nil {
		if err := df.check(); err != nil {
			return &exitCodeError{Code: exitError, Err: err}
		}
	}
	if bf.read != "" && bf.write != "" {
		return &exitCodeError{Code: exitError, Err: fmt.Errorf("--baseline and --write-baseline exclude each other")}
	}
	mode, err := cf.mode()
	if err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	opts, err := o.prepare(cmd, false)
	if err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	defer withScanMemoryLimit(os.Getenv)()
	var r *finding.Report
	if df == nil || df.enabled(repoScannerConfig) {
		if r, err = scan.Config(cmd.Context(), scan.ConfigInput{Paths: paths, Stdin: s.In, DefaultNamespace: g.namespace, Render: rf.options(g)}, opts); err != nil {
			return &exitCodeError{Code: exitError, Err: err}
		}
		// Compliance counts every finding, before a baseline hides accepted ones.
		if err := o.assessFrameworks(r, opts.Rules, "scan config", catalog.AnalyserWorkload, catalog.AnalyserDockerfile, catalog.AnalyserRBAC); err != nil {
			return &exitCodeError{Code: exitError, Err: err}
		}
	}
	if df != nil && df.enabled(repoScannerVuln) {
		dep, err := df.scanDependencies(cmd.Context(), root)
		if err != nil {
			return &exitCodeError{Code: exitError, Err: err}
		}
		r = mergeDependencies(r, dep, root)
	}
	written, err := bf.apply(s, g, r, root)
	if err != nil {
		return err
	}
	if written {
		if r.Summary.Errors > 0 && !o.IgnoreInputErrors {
			return &exitCodeError{Code: exitError, Err: fmt.Errorf("%d input error(s); the baseline covers the rest of the input", r.Summary.Errors)}
		}
		return nil
	}
	return writeCIReport(s, g, o, mode, format, r)
}
