package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cli/configcmd"
	"github.com/palisade-sec/palisade/internal/depscan"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// Scanners of scan repo.
const (
	repoScannerConfig = "config"
	repoScannerVuln   = "vuln"
)

// depFlags are scan repo's flags for the dependencies of lock files.
type depFlags struct {
	scanners      []string
	cacheDir      string
	allowMissing  bool
	ignoreUnfixed bool
	ignoreStatus  []string
	vexFiles      []string
	// vex holds the --vex documents, read by check.
	vex *vulnmatch.VEX
}

func (d *depFlags) addFlags(cmd *cobra.Command, o *configcmd.ScanFlags) {
	f := cmd.Flags()
	f.BoolVar(&o.IgnoreUnknownSeverity, "ignore-unknown-severity", false, "do not let dependency vulnerabilities of unknown severity fail --fail-on (they still appear in the report)")
	f.StringSliceVar(&d.scanners, "scanners", []string{repoScannerConfig, repoScannerVuln}, "what to scan: config (manifests, charts, kustomizations, Dockerfiles), vuln (dependencies pinned by lock files, matched against the vulnerability database)")
	f.StringVar(&d.cacheDir, "cache-dir", "", "cache directory holding the vulnerability database (default $"+vulndb.EnvCacheDir+" or the user cache directory)")
	f.BoolVar(&d.allowMissing, "allow-missing-data", false, "do not exit 2 when dependencies cannot be checked (no database, or no advisories for their ecosystem); reported as warnings")
	f.BoolVar(&d.ignoreUnfixed, "ignore-unfixed", false, "leave out vulnerabilities of dependencies without a fixed version")
	f.StringSliceVar(&d.ignoreStatus, "ignore-status", nil, "leave out vulnerabilities in these fix states: "+strings.Join(finding.FixStates, ", "))
	f.StringArrayVar(&d.vexFiles, "vex", nil, "OpenVEX document whose not_affected and fixed statements suppress dependency findings (repeatable; products name packages by PURL)")
}

// Check validates the flags (configcmd.Deps).
func (d *depFlags) Check() error {
	if len(d.scanners) == 0 {
		return fmt.Errorf("--scanners: name at least one of config, vuln")
	}
	for _, s := range d.scanners {
		if s != repoScannerConfig && s != repoScannerVuln {
			return fmt.Errorf("--scanners: unknown scanner %q (config, vuln)", s)
		}
	}
	for _, s := range d.ignoreStatus {
		if !slices.Contains(finding.FixStates, s) {
			return fmt.Errorf("--ignore-status: unknown state %q (%s)", s, strings.Join(finding.FixStates, ", "))
		}
	}
	// A VEX document is read before anything is scanned: one that cannot
	// be read would otherwise let findings through that it meant to
	// suppress, or hide that it suppresses nothing.
	if len(d.vexFiles) > 0 {
		vex, err := vulnmatch.LoadVEX(d.vexFiles...)
		if err != nil {
			return fmt.Errorf("--vex: %w", err)
		}
		d.vex = vex
	}
	return nil
}

// Scanners says which of config and vuln --scanners asks for
// (configcmd.Deps).
func (d *depFlags) Scanners() (config, deps bool) {
	return slices.Contains(d.scanners, repoScannerConfig), slices.Contains(d.scanners, repoScannerVuln)
}

// Scan scans the dependencies of the lock files under root and merges
// them into the configuration scan's report r (configcmd.Deps).
func (d *depFlags) Scan(ctx context.Context, root string, r *finding.Report) (*finding.Report, error) {
	dep, err := d.scanDependencies(ctx, root)
	if err != nil {
		return nil, err
	}
	return mergeDependencies(r, dep, root), nil
}

// scanDependencies finds the lock files under root and matches their
// dependencies; paths in the result are joined to root, as the
// configuration scan's are. The database is opened only when there is
// something to match.
func (d *depFlags) scanDependencies(ctx context.Context, root string) (*depscan.Result, error) {
	files, problems, err := depscan.Find(ctx, root, catalog.LockFiles())
	if err != nil {
		return nil, err
	}
	var src vulnmatch.Source
	n := 0
	for _, f := range files {
		n += len(f.Dependencies)
	}
	if n > 0 {
		dir, err := vulndb.CacheDir(d.cacheDir, os.Getenv)
		if err != nil {
			return nil, err
		}
		db, err := vulndb.Cache{Dir: dir}.Open(ctx)
		switch {
		case errors.Is(err, vulndb.ErrNoDatabase):
		case err != nil:
			return nil, err
		default:
			defer db.Close()
			src = db
		}
	}
	res, err := depscan.Match(ctx, files, problems, src, vulnmatch.Options{AllowMissingData: d.allowMissing,
		IgnoreUnfixed: d.ignoreUnfixed, IgnoreStatus: d.ignoreStatus, VEX: d.vex})
	if err != nil {
		return nil, err
	}
	for i := range res.Findings {
		res.Findings[i].File = filepath.Join(root, filepath.FromSlash(res.Findings[i].File))
	}
	for i := range res.Problems {
		if res.Problems[i].File != "" {
			res.Problems[i].File = filepath.Join(root, filepath.FromSlash(res.Problems[i].File))
		}
	}
	return res, nil
}

// mergeDependencies adds the dependency scan to the configuration scan's
// report r (nil when the config scanner did not run). Lock files are
// something to scan: a repository holding only lock files is not "nothing
// to scan", and one holding neither is, whichever scanners ran.
func mergeDependencies(r *finding.Report, dep *depscan.Result, root string) *finding.Report {
	if r == nil {
		zero := 0
		r = finding.NewReport(nil, nil, 0, nil)
		r.Summary.NotUnderstood = &zero
		if len(dep.Files) == 0 && len(dep.Problems) == 0 {
			r.Problems = []finding.Problem{{Level: finding.LevelError, Message: "nothing to scan: no lock file found in " + root}}
		}
	}
	problems := r.Problems
	if len(dep.Files) > 0 || len(dep.Problems) > 0 {
		problems = slices.DeleteFunc(slices.Clone(problems), func(p finding.Problem) bool {
			return p.File == "" && strings.HasPrefix(p.Message, "nothing to scan:")
		})
	}
	merged := finding.NewReport(append(slices.Clone(r.Findings), dep.Findings...), append(problems, dep.Problems...),
		r.Summary.Objects+len(dep.Files), r.Rules)
	merged.Summary.NotUnderstood = r.Summary.NotUnderstood
	merged.Summary.Partial = r.Summary.Partial
	merged.Compliance, merged.Inputs = r.Compliance, r.Inputs
	return merged
}
