// Package discover finds what internal/render renders in a configuration
// scan's input: Helm charts (directories with a Chart.yaml, packaged .tgz
// archives) and kustomize overlays (directories with a kustomization
// file). It walks the file system only and links neither Helm nor
// kustomize, so a binary that does not render (cmd/palisade-scan) can
// still tell plain manifests from sources it would misread, and refuse
// them instead of scanning them as something else.
package discover

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

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
var KustomizationFileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// KustomizationFile returns the kustomization file of dir, or "".
func KustomizationFile(dir string) string {
	for _, n := range KustomizationFileNames {
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
				if KustomizationFile(path) != "" {
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

// archiveHasChart reports whether a gzipped tar holds a Chart.yaml among
// its first entries (a packaged chart starts with its directory).
func archiveHasChart(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	zr, err := gzip.NewReader(io.LimitReader(f, 64<<20))
	if err != nil {
		return false
	}
	tr := tar.NewReader(zr)
	for range 64 {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		parts := strings.Split(strings.TrimPrefix(path.Clean(h.Name), "/"), "/")
		if len(parts) == 2 && parts[1] == "Chart.yaml" {
			return true
		}
	}
	return false
}

// Load loads paths as the plan says (Skip), with rendered streams added to
// mopts' and problems (of rendering) added to the set's, all problems in
// file and line order: what a configuration scan reads once its sources
// are rendered. With no sources it is manifest.Load's set, problems
// sorted.
func (p *Plan) Load(ctx context.Context, paths []string, mopts manifest.Options, rendered []manifest.Stream, problems []finding.Problem) (*manifest.Set, error) {
	mopts.Skip = p.Skip
	mopts.Streams = append(mopts.Streams, rendered...)
	set, err := manifest.Load(ctx, paths, mopts)
	if err != nil {
		return nil, err
	}
	set.Problems = append(set.Problems, problems...)
	sort.SliceStable(set.Problems, func(i, j int) bool {
		a, b := set.Problems[i], set.Problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return set, nil
}
