// Package scan runs Palisade's scans end to end: it loads the input,
// normalises it, evaluates the selected rules and returns a report. It never
// prints; the command decides the output format.
package scan

import (
	"context"
	"io"
	"time"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Options configure a scan.
type Options struct {
	// Rules are the selected rules, built-in and custom.
	Rules *rule.Set
	// Settings are what rules read (PSS default level, allow-list).
	Settings rule.Settings
	// Exceptions come from the policy file.
	Exceptions []rule.Exception
	// Now decides whether exceptions have expired; zero means time.Now.
	Now time.Time
}

// ConfigInput is what a configuration scan reads.
type ConfigInput struct {
	Paths []string
	Stdin io.Reader
	// DefaultNamespace is where objects without a namespace land (-n).
	DefaultNamespace string
}

// Config scans manifests and Dockerfiles.
func Config(ctx context.Context, in ConfigInput, opts Options) (*finding.Report, error) {
	set, err := manifest.Load(ctx, in.Paths, manifest.Options{Stdin: in.Stdin})
	if err != nil {
		return nil, err
	}
	problems := set.Problems
	inv, decodeProblems := workload.FromManifests(set, in.DefaultNamespace)
	problems = append(problems, decodeProblems...)
	var dfs []*dockerfile.File
	for _, d := range set.Dockerfiles {
		f, err := dockerfile.Parse(d.Path, d.Content)
		if err != nil {
			problems = append(problems, finding.Problem{File: d.Path, Level: finding.LevelError, Message: err.Error()})
			continue
		}
		dfs = append(dfs, f)
	}
	return Evaluate(ctx, inv, dfs, len(inv.Objects)+len(dfs), problems, opts)
}

// Evaluate runs the rules over an inventory (from manifests or a live
// cluster) and builds the report.
func Evaluate(ctx context.Context, inv *workload.Inventory, dfs []*dockerfile.File, objects int, problems []finding.Problem, opts Options) (*finding.Report, error) {
	c := rule.NewContext(inv, opts.Settings, opts.Rules)
	findings, err := opts.Rules.Evaluate(ctx, c, dfs)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	problems = append(problems, rule.ApplyExemptions(findings, opts.Rules, inv, opts.Exceptions, now)...)
	return finding.NewReport(findings, problems, objects, ruleInfos(opts.Rules, findings)), nil
}

// ruleInfos describes the rules that produced findings, for SARIF.
func ruleInfos(set *rule.Set, findings []finding.Finding) []finding.RuleInfo {
	seen := map[string]bool{}
	var out []finding.RuleInfo
	for _, f := range findings {
		if seen[f.RuleID] {
			continue
		}
		seen[f.RuleID] = true
		if r, ok := set.Get(f.RuleID); ok {
			out = append(out, r.Info())
		}
	}
	return out
}
