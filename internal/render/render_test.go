package render_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/render"
	"github.com/palisade-sec/palisade/internal/render/discover"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
)

func renderPaths(t *testing.T, opts render.Options, paths ...string) (*manifest.Set, *discover.Plan) {
	t.Helper()
	set, plan, err := render.Load(context.Background(), paths, opts, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set, plan.Plan
}

func objectsByFile(set *manifest.Set) map[string][]string {
	out := map[string][]string{}
	for _, o := range set.Objects {
		out[o.File] = append(out[o.File], o.Kind+"/"+o.Namespace+"/"+o.Name)
	}
	return out
}

func TestDiscoverAndRender(t *testing.T) {
	set, plan := renderPaths(t, render.Options{}, "testdata")
	charts, overlays := plan.Counts()
	if charts != 4 || overlays != 6 {
		t.Errorf("found %d charts and %d overlays, want 4 and 6: %v", charts, overlays, plan.Sources)
	}
	got := objectsByFile(set)
	want := map[string][]string{
		"testdata/charts/web/templates/deployment.yaml": {"Deployment/default/release-name-web"},
		"testdata/charts/web/templates/service.yaml":    {"Service//release-name-web"},
		// The base is rendered on its own, and through the overlay (with
		// the overlay's prefix and namespace), both mapped to its file.
		"testdata/kustomize/base/deployment.yaml":             {"Deployment//api", "Deployment/prod/prod-api"},
		"testdata/kustomize/overlays/prod/kustomization.yaml": {"ConfigMap/prod/prod-settings-hf678c7m2b"},
		"testdata/kustomize/patched/base/deployment.yaml":     {"Deployment//web", "Deployment/shop/web"},
		"testdata/kustomize/patched/base/service.yaml":        {"Service//web", "Service/shop/web"},
	}
	for file, objs := range want {
		if strings.Join(got[file], " ") != strings.Join(objs, " ") {
			t.Errorf("%s: objects %v, want %v", file, got[file], objs)
		}
	}
	for file := range got {
		if _, ok := want[file]; !ok {
			t.Errorf("unexpected objects from %s: %v", file, got[file])
		}
	}
	for _, o := range set.Objects {
		if strings.HasPrefix(o.File, "testdata/charts/") && !strings.HasPrefix(o.HelmSource, "web/templates/") {
			t.Errorf("%s: HelmSource %q", o.File, o.HelmSource)
		}
	}
}

func TestRenderProblems(t *testing.T) {
	set, _ := renderPaths(t, render.Options{}, "testdata")
	tests := []struct {
		file, contains string
		line           int
	}{
		{"testdata/charts/broken/templates/pod.yaml", "helm chart testdata/charts/broken: render: parse error", 9},
		{"testdata/charts/needsvalue/templates/pod.yaml", "image is required", 8},
		{"testdata/charts/missingdep/Chart.yaml", "dependencies missing from charts/: postgresql 15.0.0", 0},
		{"testdata/kustomize/overlays/remote/kustomization.yaml", `remote base "https://github.com/example/app//deploy?ref=v1.0.0" refused`, 0},
		{"testdata/kustomize/overlays/missing/kustomization.yaml", `resource "nothere.yaml" not found`, 0},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(filepath.Dir(tc.file)), func(t *testing.T) {
			for _, p := range set.Problems {
				if p.File == tc.file && strings.Contains(p.Message, tc.contains) {
					if p.Level != finding.LevelError || p.Line != tc.line {
						t.Errorf("problem %s: level %s line %d, want error at line %d", p, p.Level, p.Line, tc.line)
					}
					return
				}
			}
			t.Errorf("no problem for %s containing %q in %v", tc.file, tc.contains, set.Problems)
		})
	}
	// Template sources are never read as plain YAML.
	for _, p := range set.Problems {
		if strings.Contains(p.Message, "invalid YAML") {
			t.Errorf("a chart template was read as YAML: %s", p)
		}
	}
}

func TestValuesAndSet(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte("image: other.example.com/web:2.0\nreplicas: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		opts      render.Options
		wantImage string
		wantNS    string
		wantError string
	}{
		{name: "defaults", wantImage: "registry.example.com/web:1.0", wantNS: "default"},
		{name: "values file", opts: render.Options{ValuesFiles: []string{values}}, wantImage: "other.example.com/web:2.0", wantNS: "default"},
		{name: "set wins over values", opts: render.Options{ValuesFiles: []string{values}, Set: []string{"image=third.example.com/web@sha256:" + strings.Repeat("a", 64)}}, wantImage: "third.example.com/web@sha256:" + strings.Repeat("a", 64), wantNS: "default"},
		{name: "release namespace", opts: render.Options{Namespace: "shop", ReleaseName: "r1"}, wantImage: "registry.example.com/web:1.0", wantNS: "shop"},
		{name: "bad set", opts: render.Options{Set: []string{"a[x]=1"}}, wantError: "--set"},
		{name: "missing values file", opts: render.Options{ValuesFiles: []string{"/nonexistent/values.yaml"}}, wantError: "--values /nonexistent/values.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, _ := renderPaths(t, tc.opts, "testdata/charts/web")
			if tc.wantError != "" {
				for _, p := range set.Problems {
					if p.Level == finding.LevelError && strings.Contains(p.Message, tc.wantError) {
						return
					}
				}
				t.Fatalf("no error containing %q: %v", tc.wantError, set.Problems)
			}
			var found bool
			for _, o := range set.Objects {
				if o.Kind != "Deployment" {
					continue
				}
				found = true
				if !strings.Contains(string(o.JSON), `"image":"`+tc.wantImage+`"`) {
					t.Errorf("image not %s: %s", tc.wantImage, o.JSON)
				}
				if o.Namespace != tc.wantNS {
					t.Errorf("namespace %q, want %q", o.Namespace, tc.wantNS)
				}
			}
			if !found {
				t.Fatalf("no Deployment rendered: %v", set.Problems)
			}
		})
	}
}

// writeChartArchive packs a chart directory as `helm package` lays it
// out: every file under "<name>/".
func writeChartArchive(t *testing.T, dir, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+"-0.1.0.tgz")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: name + "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() error }{tw, zw, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestPackagedChart(t *testing.T) {
	tgz := writeChartArchive(t, "testdata/charts/web", "web")
	// Named explicitly, and met in a directory walk.
	for _, path := range []string{tgz, filepath.Dir(tgz)} {
		set, plan := renderPaths(t, render.Options{}, path)
		if len(plan.Sources) != 1 || plan.Sources[0].Kind != discover.KindHelmArchive {
			t.Fatalf("%s: sources %v", path, plan.Sources)
		}
		got := objectsByFile(set)
		if objs := got[filepath.Join(tgz, "templates/deployment.yaml")]; len(objs) != 1 {
			t.Errorf("%s: objects %v, problems %v", path, got, set.Problems)
		}
	}
	// A tarball that is not a chart, met in a walk, is not a source.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "backup.tgz"), []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, plan := renderPaths(t, render.Options{}, dir)
	if len(plan.Sources) != 0 {
		t.Errorf("non-chart tarball taken as a source: %v", plan.Sources)
	}
}

func TestLooksRemote(t *testing.T) {
	// Through the public path: an overlay with each reference.
	tests := []struct {
		ref    string
		remote bool
	}{
		{"https://github.com/org/repo//dir?ref=v1", true},
		{"github.com/org/repo/dir?ref=v1", true},
		{"git@github.com:org/repo.git", true},
		{"ssh://git@example.com/org/repo.git", true},
		{"example.com/org/repo/base", true},
		{"../base-that-does-not-exist", false},
		{"missing.yaml", false},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			dir := t.TempDir()
			k := "resources:\n- " + tc.ref + "\n"
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
				t.Fatal(err)
			}
			set, _ := renderPaths(t, render.Options{}, dir)
			if len(set.Problems) != 1 {
				t.Fatalf("problems %v", set.Problems)
			}
			if got := strings.Contains(set.Problems[0].Message, "refused"); got != tc.remote {
				t.Errorf("remote %v, want %v: %s", got, tc.remote, set.Problems[0].Message)
			}
		})
	}
}

// TestScanMapsFindingsToSources checks the whole path: findings of a
// configuration scan name the chart template or the kustomize source.
func TestScanMapsFindingsToSources(t *testing.T) {
	builtin, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	sel, err := builtin.Select([]string{"pss-baseline", "-cluster"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := scan.Config(context.Background(), scan.ConfigInput{
		Paths:  []string{"testdata/charts/web", "testdata/kustomize/overlays/prod"},
		Render: render.Options{Set: []string{"privileged=true"}},
	}, scan.Options{Rules: sel})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"testdata/charts/web/templates/deployment.yaml": "release-name-web",
		// The overlay's patch makes the container privileged: the finding
		// is the patch's, not the base file's.
		"testdata/kustomize/overlays/prod/privileged.yaml": "prod-api",
	}
	for _, f := range r.Findings {
		if !strings.Contains(f.RuleID, "privileged") {
			continue
		}
		if name, ok := want[f.File]; ok && name == f.Object.Name {
			if f.Line < 2 {
				t.Errorf("%s: line %d", f.File, f.Line)
			}
			delete(want, f.File)
		}
	}
	if len(want) > 0 {
		t.Errorf("no privileged finding for %v in %+v", want, r.Findings)
	}
}

// TestScanLocatesFindingsInKustomizePatches: a finding a kustomize patch
// caused is located in the patch (a strategic-merge patch file, a JSON
// 6902 patch file, an inline patch of the kustomization file, a patch of
// a base), at the line that sets the field; a finding the base already
// had stays in the base file.
func TestScanLocatesFindingsInKustomizePatches(t *testing.T) {
	builtin, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	sel, err := builtin.Select([]string{"pss/privileged", "pss/host-namespaces", "pss/capabilities-baseline", "hardening/latest-tag", "hardening/service-exposed"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		overlay string
		want    []string // "rule file:line"
	}{
		{"testdata/kustomize/patched/overlay", []string{
			"hardening/latest-tag testdata/kustomize/patched/base/deployment.yaml:16",            // in the base
			"hardening/service-exposed testdata/kustomize/patched/overlay/kustomization.yaml:14", // inline JSON 6902 patch: its operation
			"pss/capabilities-baseline testdata/kustomize/patched/overlay/host-pid.json6902.yaml:4",
			"pss/host-namespaces testdata/kustomize/patched/overlay/host-pid.json6902.yaml:1", // the hostIPC operation
			"pss/privileged testdata/kustomize/patched/overlay/privileged.yaml:9",             // the patched container
		}},
		{"testdata/kustomize/patched/base", []string{
			"hardening/latest-tag testdata/kustomize/patched/base/deployment.yaml:15", // lines count in the rendered output
			"pss/host-namespaces testdata/kustomize/patched/base/host-network.yaml:8", // hostNetwork, set by the base's own patch
		}},
	}
	for _, tt := range tests {
		t.Run(tt.overlay, func(t *testing.T) {
			r, err := scan.Config(context.Background(), scan.ConfigInput{Paths: []string{tt.overlay}},
				scan.Options{Rules: sel, Settings: rule.Settings{DefaultPSSLevel: rule.LevelBaseline}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range r.Findings {
				got = append(got, fmt.Sprintf("%s %s:%d", f.RuleID, f.File, f.Line))
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
