// Package scan runs Palisade's scans end to end: it loads the input,
// normalises it, evaluates the selected rules and returns a report. It never
// prints; the command decides the output format. The configuration scan
// after loading is internal/configscan's, which links no renderer.
package scan

import (
	"context"
	"io"

	"github.com/palisade-sec/palisade/internal/configscan"
	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/render"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Options configure a scan (configscan.Options).
type Options = configscan.Options

// ConfigInput is what a configuration scan reads.
type ConfigInput struct {
	Paths []string
	Stdin io.Reader
	// DefaultNamespace is where objects without a namespace land (-n).
	DefaultNamespace string
	// Render configures how Helm charts and kustomize overlays found in
	// Paths are rendered before scanning (internal/render).
	Render render.Options
}

// Config scans manifests and Dockerfiles, and Helm charts and kustomize
// overlays rendered as `helm template` and `kustomize build` would.
func Config(ctx context.Context, in ConfigInput, opts Options) (*finding.Report, error) {
	return configscan.Run(ctx, configscan.Input{Paths: in.Paths, Stdin: in.Stdin, DefaultNamespace: in.DefaultNamespace,
		Load: RenderLoader(in.Render)}, opts)
}

// RenderLoader is the configscan.Loader that renders Helm charts and
// kustomize overlays with ropts (render.Load).
func RenderLoader(ropts render.Options) configscan.Loader {
	return func(ctx context.Context, paths []string, mopts manifest.Options) (*manifest.Set, []configscan.Patched, error) {
		set, loaded, err := render.Load(ctx, paths, ropts, mopts)
		if err != nil {
			return nil, nil, err
		}
		patched := make([]configscan.Patched, 0, len(loaded.Patched))
		for _, p := range loaded.Patched {
			patched = append(patched, configscan.Patched{Stream: p.Stream, Unpatched: p.Unpatched, File: p.Patch.File, Locate: p.Patch.Locate})
		}
		return set, patched, nil
	}
}

// Evaluate runs the rules over an inventory (from manifests or a live
// cluster) and builds the report (configscan.Evaluate).
func Evaluate(ctx context.Context, inv *workload.Inventory, dfs []*dockerfile.File, objects int, problems []finding.Problem, opts Options) (*finding.Report, error) {
	return configscan.Evaluate(ctx, inv, dfs, objects, problems, opts)
}
