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
	"runtime"
	"sync"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/render/discover"
)

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

// The file names and tests of internal/render/discover, used here too.
var (
	kustomizationFileNames = discover.KustomizationFileNames
	kustomizationFile      = discover.KustomizationFile
)

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
func Render(ctx context.Context, plan *discover.Plan, opts Options) (*Result, error) {
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
				case discover.KindKustomize:
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
	*discover.Plan
	Patched []Patched
}

// Load discovers, renders and loads paths in one call: what a
// configuration scan reads. The set holds the plain manifests and
// Dockerfiles of paths and the rendered objects, with rendering problems
// among its problems.
func Load(ctx context.Context, paths []string, opts Options, mopts manifest.Options) (*manifest.Set, *Loaded, error) {
	plan, err := discover.Discover(ctx, paths)
	if err != nil {
		return nil, nil, err
	}
	res, err := Render(ctx, plan, opts)
	if err != nil {
		return nil, nil, err
	}
	set, err := plan.Load(ctx, paths, mopts, res.Streams, res.Problems)
	if err != nil {
		return nil, nil, err
	}
	return set, &Loaded{Plan: plan, Patched: res.Patched}, nil
}
