package render

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartdeps "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/strvals"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/render/discover"
)

// values merges --values files, then --set and --set-string, as helm does.
func (o Options) values() (map[string]any, error) {
	base := map[string]any{}
	for _, f := range o.ValuesFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--values %s: %w", f, err)
		}
		var m map[string]any
		if err := sigyaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("--values %s: %w", f, err)
		}
		base = loader.MergeMaps(base, m)
	}
	for _, s := range o.Set {
		if err := strvals.ParseInto(s, base); err != nil {
			return nil, fmt.Errorf("--set %q: %w", s, err)
		}
	}
	for _, s := range o.SetString {
		if err := strvals.ParseIntoString(s, base); err != nil {
			return nil, fmt.Errorf("--set-string %q: %w", s, err)
		}
	}
	return base, nil
}

// templateErrorAt finds the template and line in the errors of Helm's
// engine: "template: app/templates/x.yaml:12:20: executing ...", "parse
// error at (app/templates/x.yaml:9): ...", "execution error at
// (app/templates/x.yaml:8:14): ...".
var templateErrorAt = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:template: |error at \()([^:\s()]+):(\d+)`) })

// renderHelm renders one chart as `helm template` would: values merged,
// dependencies enabled by their conditions and tags, templates rendered,
// partials (_*) and NOTES.txt dropped, CRDs from crds/ included.
func renderHelm(ctx context.Context, src discover.Source, vals map[string]any, opts Options) (streams []manifest.Stream, probs []finding.Problem) {
	fail := func(file string, line int, format string, args ...any) {
		probs = append(probs, finding.Problem{File: file, Line: line, Level: finding.LevelError,
			Message: fmt.Sprintf("helm chart %s: ", src.Path) + fmt.Sprintf(format, args...)})
	}
	defer func() {
		// The template engine runs chart authors' code; a panic in it is
		// this chart's error, not the scan's end.
		if r := recover(); r != nil {
			streams = nil
			fail(src.Path, 0, "render panicked: %v", r)
		}
	}()
	ch, err := loader.Load(src.Path)
	if err != nil {
		fail(src.Path, 0, "load: %v", err)
		return nil, probs
	}
	if missing := missingDependencies(ch); len(missing) > 0 {
		fail(filepath.Join(src.Path, "Chart.yaml"), 0, "dependencies missing from charts/: %s (Palisade renders offline: run `helm dependency build` and commit charts/, or scan the dependency separately)", strings.Join(missing, ", "))
		return nil, probs
	}
	// Every chart gets its own copy: values are mutated while coalescing.
	chartVals := deepCopy(vals)
	if err := chartdeps.ProcessDependencies(ch, chartVals); err != nil {
		fail(src.Path, 0, "dependencies: %v", err)
		return nil, probs
	}
	caps := common.DefaultCapabilities.Copy()
	if opts.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(opts.KubeVersion)
		if err != nil {
			fail(src.Path, 0, "--kube-version: %v", err)
			return nil, probs
		}
		caps.KubeVersion = *kv
	}
	rel := common.ReleaseOptions{Name: opts.ReleaseName, Namespace: opts.Namespace, Revision: 1, IsInstall: true}
	if rel.Name == "" {
		rel.Name = "release-name"
	}
	if rel.Namespace == "" {
		rel.Namespace = "default"
	}
	top, err := chartutil.ToRenderValues(ch, chartVals, rel, caps)
	if err != nil {
		fail(src.Path, 0, "values: %v", err)
		return nil, probs
	}
	if err := ctx.Err(); err != nil {
		return nil, nil
	}
	out, err := engine.Engine{}.RenderWithContext(ctx, ch, top)
	if err != nil {
		file, line := src.Path, 0
		if m := templateErrorAt().FindStringSubmatch(err.Error()); m != nil {
			file = chartFile(src, ch.Name(), m[1])
			line, _ = strconv.Atoi(m[2])
		}
		fail(file, line, "render: %v", err)
		return nil, probs
	}
	sources := templateSources(ch, nil)
	keys := make([]string, 0, len(out))
	for k := range out {
		base := path.Base(k)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" || strings.TrimSpace(out[k]) == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	total := 0
	for _, crd := range ch.CRDObjects() {
		key := path.Join(ch.Name(), crd.Name)
		if crd.Filename != "" {
			key = crd.Filename
		}
		streams = append(streams, manifest.Stream{Name: chartFile(src, ch.Name(), key), Data: withSource(key, crd.File.Data)})
		total += len(crd.File.Data)
	}
	for _, k := range keys {
		data := withSource(k, []byte(out[k]))
		total += len(data)
		if total > opts.MaxOutputBytes {
			fail(src.Path, 0, "rendered output larger than %d MiB; not scanned", opts.MaxOutputBytes>>20)
			return nil, probs
		}
		streams = append(streams, manifest.Stream{Name: chartFile(src, ch.Name(), k), Data: data, Lines: sourceLines(sources[k], out[k])})
	}
	return streams, probs
}

// templateSources maps the keys of rendered output (as the engine names
// them: "app/templates/x.yaml", "app/charts/db/templates/y.yaml") to the
// template text of the chart and its subcharts.
func templateSources(ch *chart.Chart, into map[string]string) map[string]string {
	if into == nil {
		into = map[string]string{}
	}
	for _, t := range ch.Templates {
		into[path.Join(ch.ChartFullPath(), t.Name)] = string(t.Data)
	}
	for _, d := range ch.Dependencies() {
		templateSources(d, into)
	}
	return into
}

// sourceLines maps the lines of a stream made by withSource (the
// "# Source:" header, then the output) to the template's lines; nil when
// the template is unknown or too large to align.
func sourceLines(tmpl, out string) []int {
	if tmpl == "" {
		return nil
	}
	m := templateLineMap(tmpl, out)
	if m == nil {
		return nil
	}
	// The header line stands for the template's first line.
	return append([]int{1}, m...)
}

// withSource prefixes rendered text with Helm's "# Source:" comment, as
// `helm template` prints it, so manifest records it per object.
func withSource(key string, data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + len(key) + 16)
	b.WriteString("# Source: ")
	b.WriteString(key)
	b.WriteByte('\n')
	b.Write(data)
	return b.Bytes()
}

// chartFile maps a template key ("app/templates/x.yaml",
// "app/charts/db/templates/y.yaml") to a path under the chart's source: a
// real file for a chart directory, a path inside the archive for a .tgz.
func chartFile(src discover.Source, chartName, key string) string {
	rel := strings.TrimPrefix(key, chartName+"/")
	return filepath.Join(src.Path, filepath.FromSlash(rel))
}

// missingDependencies lists the dependencies Chart.yaml declares that are
// not in charts/ (by name or alias).
func missingDependencies(ch *chart.Chart) []string {
	if ch.Metadata == nil {
		return nil
	}
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if d == nil || have[d.Name] {
			continue
		}
		desc := d.Name
		if d.Version != "" {
			desc += " " + d.Version
		}
		if d.Repository != "" {
			desc += " from " + d.Repository
		}
		missing = append(missing, desc)
	}
	return missing
}

// deepCopy copies nested maps and slices of values, so that one chart's
// coalescing never leaks into another's.
func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopy(t)
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopyValue(e)
		}
		return s
	}
	return v
}
