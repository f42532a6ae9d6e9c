// Package render turns the sources that are not plain manifests — Helm
// charts (directories and packaged .tgz archives) and kustomize overlays —
// into manifest streams, so that `palisade scan config` and `scan repo`
// scan what would actually be applied.
//
// Rendering is offline and needs no helm or kustomize binary: charts go
// through the Helm Go SDK (chart loader and template engine, as
// `helm template` does), overlays through sigs.k8s.io/kustomize/api (as
// `kustomize build` does). Remote kustomize bases and chart dependencies
// missing from charts/ are refused with an error naming the overlay or
// chart; every other source is still rendered.
//
// Each rendered object keeps a path a developer can open: a chart
// template's path inside the chart directory (Helm's "# Source:"), or the
// file a kustomize resource was read from (kustomize's origin), or the
// kustomization file for generated objects. Lines count in the rendered
// output of that template or file.
package render

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
)

// Kind says how a source is rendered.
type Kind string

// The kinds of source.
const (
	KindHelmChart   Kind = "helm-chart"
	KindHelmArchive Kind = "helm-archive"
	KindKustomize   Kind = "kustomize"
)

// Source is one chart or overlay found in the input.
type Source struct {
	Kind Kind
	// Path is the chart directory, the .tgz file or the directory holding
	// the kustomization file, as found (relative when the input was).
	Path string
}

// Options configure rendering, like the flags of `helm template`.
type Options struct {
	// ValuesFiles are merged in order over each chart's values.yaml.
	ValuesFiles []string
	// Set and SetString are --set and --set-string expressions
	// (a.b=c,d[0]=e), applied after the values files.
	Set, SetString []string
	// ReleaseName is .Release.Name; "" means "release-name", as helm template.
	ReleaseName string
	// Namespace is .Release.Namespace; "" means "default".
	Namespace string
	// KubeVersion is .Capabilities.KubeVersion ("1.33.0"); "" means Helm's default.
	KubeVersion string
	// Workers render sources in parallel; 0 means GOMAXPROCS.
	Workers int
	// MaxOutputBytes caps the rendered output of one source; 0 means 64 MiB.
	MaxOutputBytes int
}

const defaultMaxOutput = 64 << 20

// Plan is what Discover found: the sources and which input paths they own.
type Plan struct {
	Sources []Source
	// Problems are sources that were found but cannot be rendered at all.
	Problems []finding.Problem

	charts    map[string]bool // chart directories and archives, cleaned
	kustomize map[string]bool // kustomization directories, cleaned
	explicit  map[string]bool // paths given on the command line, cleaned
}

// Counts reports how many sources of each kind the plan has.
func (p *Plan) Counts() (charts, overlays int) {
	for _, s := range p.Sources {
		if s.Kind == KindKustomize {
			overlays++
		} else {
			charts++
		}
	}
	return charts, overlays
}

// Skip is the manifest.Options.Skip of the plan: chart directories and
// archives are left to the renderer whole; inside a kustomization
// directory, YAML and JSON files are the overlay's input and are left out
// (Dockerfiles there are still read), unless they were named explicitly.
func (p *Plan) Skip(path string, isDir bool) bool {
	c := filepath.Clean(path)
	if p.charts[c] {
		return true
	}
	if isDir || p.explicit[c] || !manifest.IsManifestFile(c) {
		return false
	}
	for dir := filepath.Dir(c); ; dir = filepath.Dir(dir) {
		if p.kustomize[dir] {
			return true
		}
		if p.charts[dir] {
			return true
		}
		next := filepath.Dir(dir)
		if next == dir {
			return false
		}
	}
}

// KustomizationFileNames are the names kustomize reads, in its order.
var kustomizationFileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// kustomizationFile returns the kustomization file of dir, or "".
func kustomizationFile(dir string) string {
	for _, n := range kustomizationFileNames {
		p := filepath.Join(dir, n)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// isChartDir reports whether dir holds a Chart.yaml.
func isChartDir(dir string) bool {
	info, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil && info.Mode().IsRegular()
}

// isArchiveName reports whether a file name is a packaged chart's.
func isArchiveName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".tgz") || strings.HasSuffix(n, ".tar.gz")
}

// Discover walks the input paths (as manifest.Load will) and finds charts
// and overlays. A directory that is a chart is not walked further: its
// subcharts are rendered with it. Archives met in a walk count only when
// they hold a Chart.yaml; archives named explicitly always count.
func Discover(ctx context.Context, paths []string) (*Plan, error) {
	p := &Plan{charts: map[string]bool{}, kustomize: map[string]bool{}, explicit: map[string]bool{}}
	add := func(kind Kind, path string) {
		c := filepath.Clean(path)
		if kind == KindKustomize {
			if p.kustomize[c] {
				return
			}
			p.kustomize[c] = true
		} else {
			if p.charts[c] {
				return
			}
			p.charts[c] = true
		}
		p.Sources = append(p.Sources, Source{Kind: kind, Path: path})
	}
	for _, root := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if root == manifest.StdinPath {
			continue
		}
		p.explicit[filepath.Clean(root)] = true
		info, err := os.Stat(root)
		if err != nil {
			continue // the loader reports it
		}
		if !info.IsDir() {
			if isArchiveName(root) {
				add(KindHelmArchive, root)
			}
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			name := d.Name()
			if d.IsDir() {
				if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor") {
					return fs.SkipDir
				}
				if isChartDir(path) {
					add(KindHelmChart, path)
					return fs.SkipDir
				}
				if kustomizationFile(path) != "" {
					add(KindKustomize, path)
				}
				return nil
			}
			if d.Type().IsRegular() && isArchiveName(name) && archiveHasChart(path) {
				add(KindHelmArchive, path)
			}
			return nil
		})
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	sort.SliceStable(p.Sources, func(i, j int) bool { return p.Sources[i].Path < p.Sources[j].Path })
	return p, nil
}

// Result is the rendered output of a plan.
type Result struct {
	// Streams are the rendered manifests, one per chart template or
	// kustomize source file, in a deterministic order.
	Streams []manifest.Stream
	// Problems are sources that failed to render (errors naming the chart
	// or overlay, and the template and line where Helm gives them).
	Problems []finding.Problem
	// Rendered counts the sources rendered without error.
	Rendered int
	// Patched are the objects kustomize patches changed, as they would be
	// without each patch.
	Patched []Patched
}

// Render renders every source of the plan. One failing source is a
// problem in the result; the others are still rendered. The error is
// only ctx's.
func Render(ctx context.Context, plan *Plan, opts Options) (*Result, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = defaultMaxOutput
	}
	vals, err := opts.values()
	res := &Result{}
	if err != nil {
		// Bad --values or --set fail every chart the same way: one problem.
		res.Problems = append(res.Problems, finding.Problem{Level: finding.LevelError, Message: err.Error()})
	}
	type out struct {
		streams []manifest.Stream
		patched []Patched
		probs   []finding.Problem
		ok      bool
	}
	outs := make([]out, len(plan.Sources))
	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(plan.Sources), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				src := plan.Sources[i]
				var streams []manifest.Stream
				var patched []Patched
				var probs []finding.Problem
				switch src.Kind {
				case KindKustomize:
					streams, patched, probs = renderKustomize(ctx, src, opts)
				default:
					if err != nil {
						probs = []finding.Problem{{File: src.Path, Level: finding.LevelError, Message: fmt.Sprintf("helm chart %s: not rendered: %v", src.Path, err)}}
						break
					}
					streams, probs = renderHelm(ctx, src, vals, opts)
				}
				outs[i] = out{streams: streams, patched: patched, probs: probs, ok: len(probs) == 0 || !hasError(probs)}
			}
		}()
	}
	for i := range plan.Sources {
		if ctx.Err() != nil {
			break
		}
		idx <- i
	}
	close(idx)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Problems = append(res.Problems, plan.Problems...)
	for _, o := range outs {
		res.Streams = append(res.Streams, o.streams...)
		res.Patched = append(res.Patched, o.patched...)
		res.Problems = append(res.Problems, o.probs...)
		if o.ok {
			res.Rendered++
		}
	}
	return res, nil
}

func hasError(ps []finding.Problem) bool {
	for _, p := range ps {
		if p.Level == finding.LevelError {
			return true
		}
	}
	return false
}

// Loaded is what Load found besides the objects: the plan, and the
// objects kustomize patches changed, as they would be without each patch.
type Loaded struct {
	*Plan
	Patched []Patched
}

// Load discovers, renders and loads paths in one call: what a
// configuration scan reads. The set holds the plain manifests and
// Dockerfiles of paths and the rendered objects, with rendering problems
// among its problems.
func Load(ctx context.Context, paths []string, opts Options, mopts manifest.Options) (*manifest.Set, *Loaded, error) {
	plan, err := Discover(ctx, paths)
	if err != nil {
		return nil, nil, err
	}
	res, err := Render(ctx, plan, opts)
	if err != nil {
		return nil, nil, err
	}
	mopts.Skip = plan.Skip
	mopts.Streams = append(mopts.Streams, res.Streams...)
	set, err := manifest.Load(ctx, paths, mopts)
	if err != nil {
		return nil, nil, err
	}
	set.Problems = append(set.Problems, res.Problems...)
	sort.SliceStable(set.Problems, func(i, j int) bool {
		a, b := set.Problems[i], set.Problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return set, &Loaded{Plan: plan, Patched: res.Patched}, nil
}
