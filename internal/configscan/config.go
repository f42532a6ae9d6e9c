// Package configscan is a configuration scan after loading: it normalises
// the manifests and Dockerfiles a Loader returns, evaluates the selected
// rules and returns a report. It never prints; the command decides the
// output format.
//
// Loading is the caller's: internal/scan passes internal/render (Helm
// charts and kustomize overlays rendered as `helm template` and `kustomize
// build` would), and cmd/palisade-scan a loader of plain manifests that
// refuses charts and overlays. Keeping render (Helm, kustomize, client-go)
// out of this package is what lets palisade-scan scan configuration
// without linking them (its TestLeanDependencies).
package configscan

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
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

// Input is what a configuration scan reads.
type Input struct {
	Paths []string
	Stdin io.Reader
	// DefaultNamespace is where objects without a namespace land (-n).
	DefaultNamespace string
	// Load reads Paths (and Stdin, through mopts).
	Load Loader
}

// A Loader reads a configuration scan's paths into objects and
// Dockerfiles, with the problems of what it could not read among the
// set's problems, and returns the objects that kustomize patches changed
// (none when it does not render overlays). mopts carries Stdin.
type Loader func(ctx context.Context, paths []string, mopts manifest.Options) (*manifest.Set, []Patched, error)

// Patched is an object changed by one kustomize patch, as it would be
// without that patch (render.Patched, without render's types).
type Patched struct {
	// Stream is the name of the rendered stream (the File of the findings)
	// the patched object is in.
	Stream string
	// Unpatched is the object rendered without the patch, as YAML.
	Unpatched []byte
	// File is the patch file, or the kustomization file for an inline patch.
	File string
	// Locate returns the line in File that sets a field, a path such as
	// "spec.template.spec.containers[0].securityContext.privileged".
	Locate func(field string) int
}

// Run scans what in.Load reads: manifests and Dockerfiles, and whatever
// the loader renders.
func Run(ctx context.Context, in Input, opts Options) (*finding.Report, error) {
	set, patched, err := in.Load(ctx, in.Paths, manifest.Options{Stdin: in.Stdin})
	if err != nil {
		return nil, err
	}
	problems := set.Problems
	inv, workloads, decodeProblems := workload.Partition(set, in.DefaultNamespace)
	problems = append(problems, decodeProblems...)
	owners := workload.OwnersOf(workloads, in.DefaultNamespace)
	folded := map[finding.ObjectRef]bool{}
	sources := newOwnerSources(set.Objects, len(workloads))
	var dfs []*dockerfile.File
	for _, d := range set.Dockerfiles {
		f, err := dockerfile.Parse(d.Path, d.Content)
		if err != nil {
			problems = append(problems, finding.Problem{File: d.Path, Level: finding.LevelError, Message: err.Error()})
			continue
		}
		dfs = append(dfs, f)
	}
	unchecked := uncheckedPodTemplates(inv)
	problems = append(problems, unchecked...)
	scanned := len(inv.Objects) - len(unchecked) + len(dfs)
	// Context objects first...
	c := rule.NewContext(inv, opts.Settings, opts.Rules)
	findings, err := opts.Rules.EvaluateObjects(ctx, c)
	if err != nil {
		return nil, err
	}
	now := opts.now()
	problems = append(problems, rule.IdleExceptions(opts.Rules, opts.Exceptions, now)...)
	problems = append(problems, rule.ApplyExemptions(findings, opts.Rules, inv, opts.Exceptions, now)...)
	// ...then workloads in batches, so only one batch of typed objects is
	// in memory at a time: typed workloads are most of a large scan's heap.
	// Of each batch only the pod templates' summary stays, for the
	// inventory-wide rules run last.
	templates := make([]workload.PodTemplate, 0, len(workloads))
	for start := 0; start < len(workloads); start += workloadBatch {
		batch, batchProblems := inv.WithBatch(workloads[start:min(start+workloadBatch, len(workloads))], in.DefaultNamespace)
		problems = append(problems, batchProblems...)
		scanned += len(batch.Objects)
		batch.FoldOwned(owners)
		noteFolded(folded, batch)
		sources.note(batch)
		done, before := min(start+workloadBatch, len(workloads)), len(findings)
		findings, err = opts.Rules.AppendObjects(ctx, c.ForInventory(batch), findings,
			func(fs []finding.Finding, n int) []finding.Finding { return growProjected(fs, n, done, len(workloads)) })
		if err != nil {
			return nil, err
		}
		problems = append(problems, rule.ApplyExemptions(findings[before:], opts.Rules, batch, opts.Exceptions, now)...)
		// Every finding of the batch is located: the rest of the scan
		// (inventory-wide rules, patches, folding) locates none in
		// these objects, so their line indexes (~10 MB on 10,000
		// workloads) need not stay live to the end.
		for _, o := range workloads[start:done] {
			o.ReleaseLines()
		}
		for _, w := range batch.Workloads {
			templates = append(templates, workload.TemplateOf(w))
		}
	}
	// Inventory-wide rules and Dockerfiles, with every workload known.
	inv.Templates = templates
	global, err := opts.Rules.EvaluateGlobal(ctx, c, dfs)
	if err != nil {
		return nil, err
	}
	problems = append(problems, rule.ApplyExemptions(global, opts.Rules, inv, opts.Exceptions, now)...)
	findings = append(findings, global...)
	// Every error so far is an input (object, document, file, overlay)
	// that was not understood; exemption problems are warnings.
	if err := locatePatchedFindings(ctx, findings, patched, inv, in.DefaultNamespace, opts); err != nil {
		return nil, err
	}
	findings = foldFindings(findings, folded, sources.own)
	problems = uniqueProblems(problems)
	notUnderstood := countErrors(problems)
	if scanned == 0 {
		problems = append(problems, nothingToScan(in))
	}
	r := finding.NewReport(findings, problems, scanned, ruleInfos(opts.Rules, findings))
	r.Summary.NotUnderstood = &notUnderstood
	r.Inputs = inputs(inv, len(workloads), dfs)
	return r, nil
}

// nothingToScan is the error of an input with no object and no
// Dockerfile: a scan of nothing must never pass as a clean scan.
func nothingToScan(in Input) finding.Problem {
	what := strings.Join(in.Paths, ", ")
	if what == "-" {
		what = "standard input"
	}
	return finding.Problem{Level: finding.LevelError,
		Message: fmt.Sprintf("nothing to scan: no Kubernetes object or Dockerfile found in %s", what)}
}

func countErrors(ps []finding.Problem) int {
	n := 0
	for _, p := range ps {
		if p.Level == finding.LevelError {
			n++
		}
	}
	return n
}

// growProjected makes room for a batch of n more findings, done of total
// workloads evaluated with it. The slice grows to the total that the
// findings per workload so far project for all workloads (plus a
// twentieth), instead of doubling: a large scan's findings are its
// largest live data, and each doubling copied them all and held both
// copies at once.
func growProjected(findings []finding.Finding, n, done, total int) []finding.Finding {
	if need := len(findings) + n; need > cap(findings) && done > 0 {
		projected := need * max(total, done) / done
		return slices.Grow(findings, max(projected+projected/20-len(findings), n))
	}
	return slices.Grow(findings, n)
}

// workloadBatch is how many workloads are decoded and evaluated at once.
// Decoding the next batch while one is evaluated was tried and dropped
// (bench/README.md, 2026-12-07 16:40): the output was the same, but the
// extra batch in memory raised palisade's peak RSS by ~3.5 MiB, over the
// 150 MiB goal, and halving the batch to pay for it gave outliers of
// +11 MiB.
const workloadBatch = 512

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// uniqueProblems drops repeated problems (an expired exception is reported
// by every batch that applies exceptions).
func uniqueProblems(ps []finding.Problem) []finding.Problem {
	seen := make(map[finding.Problem]bool, len(ps))
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// Evaluate runs the rules over an inventory (from manifests or a live
// cluster) and builds the report.
func Evaluate(ctx context.Context, inv *workload.Inventory, dfs []*dockerfile.File, objects int, problems []finding.Problem, opts Options) (*finding.Report, error) {
	c := rule.NewContext(inv, opts.Settings, opts.Rules)
	findings, err := opts.Rules.Evaluate(ctx, c, dfs)
	if err != nil {
		return nil, err
	}
	problems = append(problems, rule.IdleExceptions(opts.Rules, opts.Exceptions, opts.now())...)
	problems = append(problems, rule.ApplyExemptions(findings, opts.Rules, inv, opts.Exceptions, opts.now())...)
	r := finding.NewReport(findings, problems, objects, ruleInfos(opts.Rules, findings))
	r.Inputs = inputs(inv, 0, dfs)
	return r, nil
}

// FoldOwned names the findings of objects that inv folded into their
// owners (inv.FoldOwned) after the owner, once per owner, as a
// configuration scan does, and recounts the summary.
func FoldOwned(r *finding.Report, inv *workload.Inventory) {
	folded := map[finding.ObjectRef]bool{}
	noteFolded(folded, inv)
	r.Findings = foldFindings(r.Findings, folded, nil)
	r.Summary = recount(r.Summary, r.Findings)
}

// ruleInfos describes the rules that produced findings, for SARIF.
func ruleInfos(set *rule.Set, findings []finding.Finding) []finding.RuleInfo {
	seen := map[string]bool{}
	var out []finding.RuleInfo
	last := ""
	for _, f := range findings {
		// Findings of one rule mostly come in runs: the comparison with
		// the previous ID spares most of the map look-ups (120,000 on
		// 10,000 workloads, on one core).
		if f.RuleID == last || seen[f.RuleID] {
			continue
		}
		last = f.RuleID
		seen[f.RuleID] = true
		if r, ok := set.Get(f.RuleID); ok {
			out = append(out, r.Info())
		}
	}
	return out
}
