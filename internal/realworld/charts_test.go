package realworld

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/render"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/scan"
)

// chartsDir holds Helm charts, one directory each with a SOURCE.md and an
// expectations.yaml, and either the chart itself (a Chart.yaml) or the
// name of a chart generated at test time (generatedCharts). It is no
// corpus of manifests itself (no SOURCE.md of its own): templates are not
// YAML until rendered.
var chartsDir = filepath.Join(realworldDir, "charts")

// generatedCharts are charts written at test time instead of stored, by
// the directory of chartsDir that holds their expectations. Each writes
// the chart under dir and returns its directory.
var generatedCharts = map[string]func(dir string) (string, error){
	// `helm create helm-create`, from the Helm library pinned by go.mod.
	"helm-create": func(dir string) (string, error) { return chartv2util.Create("helm-create", dir) },
}

// chartExpectations is a chart's expectations.yaml, written by reading its
// templates and values.
type chartExpectations struct {
	// Objects is how many objects each template renders with the
	// chart's default values.
	Objects  map[string]int         `json:"objects"`
	Findings []chartFindingExpected `json:"findings"`
	Absent   []findingExpectation   `json:"absent"`
	// Twins are value overrides (as --set), what each must raise and
	// what it must not.
	Twins []struct {
		Set      []string               `json:"set"`
		Findings []chartFindingExpected `json:"findings"`
		Absent   []findingExpectation   `json:"absent"`
	} `json:"twins"`
}

// chartFindingExpected is a finding that must be reported, optionally at
// a line of a template file (relative to the chart). Bug, when set, names
// a known Palisade bug that puts the finding elsewhere: the mismatch is
// logged instead of failing, and the test fails once the bug is gone so
// the marker is removed.
type chartFindingExpected struct {
	findingExpectation `json:",inline"`
	File               string `json:"file"`
	Line               int    `json:"line"`
	Bug                string `json:"bug"`
}

// TestHelmCharts renders every chart of testdata/realworld/charts (stored
// or generated) as
// `scan config` does on a chart directory and checks, against Helm's own
// engine run independently of internal/render:
//   - every object the chart renders is loaded (as a multiset), and no
//     other;
//   - no ERROR problem;
//   - every finding is located in one of the chart's template files, at
//     a line inside it;
//   - the hand-written expectations (objects per template, findings that
//     must or must not be reported, at which template line);
//   - twins: with value overrides the expected rule fires, at the
//     template line the value lands on.
func TestHelmCharts(t *testing.T) {
	entries, err := os.ReadDir(chartsDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		dir := filepath.Join(chartsDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "SOURCE.md")); !e.IsDir() || err != nil {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			chart := dir
			if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
				gen, ok := generatedCharts[e.Name()]
				if !ok {
					t.Fatalf("%s: no Chart.yaml and no generated chart of that name", dir)
				}
				if chart, err = gen(t.TempDir()); err != nil {
					t.Fatalf("generate %s: %v", e.Name(), err)
				}
			}
			checkChart(t, dir, chart)
		})
	}
	if n == 0 {
		t.Fatal("no chart under " + chartsDir)
	}
}

// checkChart checks the chart in dir against the expectations in expDir.
func checkChart(t *testing.T, expDir, dir string) {
	data, err := os.ReadFile(filepath.Join(expDir, expectationsFile))
	if err != nil {
		t.Fatal(err)
	}
	var exp chartExpectations
	if err := yaml.UnmarshalStrict(data, &exp); err != nil {
		t.Fatalf("%s: %v", expectationsFile, err)
	}
	m := newMismatches(15)
	name := filepath.Base(expDir)

	oracle := renderChartOracle(t, dir, nil)
	perTemplate := map[string]int{}
	for _, f := range oracle {
		perTemplate[f.Path] += len(f.Objects)
	}
	for tmpl, want := range exp.Objects {
		if perTemplate[tmpl] != want {
			// The oracle and the expectation disagree: the expectation
			// or the oracle is wrong, not Palisade.
			t.Errorf("%s: Helm renders %d objects, expectations say %d", tmpl, perTemplate[tmpl], want)
		}
	}
	for tmpl := range perTemplate {
		if _, ok := exp.Objects[tmpl]; !ok {
			t.Errorf("%s renders objects the expectations do not count", tmpl)
		}
	}

	reports := checkChartScan(t, m, name, dir, nil, oracle)
	checkChartFindings(m, name, dir, "default values", reports, exp.Findings)
	checkChartAbsent(m, name, "default values", reports, exp.Absent)
	for _, tw := range exp.Twins {
		label := "--set " + strings.Join(tw.Set, " --set ")
		reports := checkChartScan(t, m, name, dir, tw.Set, renderChartOracle(t, dir, tw.Set))
		checkChartFindings(m, name, dir, label, reports, tw.Findings)
		checkChartAbsent(m, name, label, reports, tw.Absent)
	}
	m.report(t)
}

// checkChartScan loads and scans the chart directory as `scan config` does
// (with --set values) and checks objects, problems and finding locations.
// It returns the reports at baseline and restricted.
func checkChartScan(t *testing.T, m *mismatches, name, dir string, set []string, oracle []oracleFile) map[string]*finding.Report {
	t.Helper()
	label := "default values"
	if len(set) > 0 {
		label = "--set " + strings.Join(set, ",")
	}
	ropts := render.Options{Set: set}
	loaded, _, err := render.Load(context.Background(), []string{dir}, ropts, manifest.Options{SkipDockerfiles: true})
	if err != nil {
		t.Fatalf("%s: render.Load: %v", label, err)
	}
	want := map[string]int{}
	for _, f := range oracle {
		for _, o := range f.Objects {
			// Objects of a chart land in the release namespace
			// when they name none; the loader keeps what is
			// written, as the oracle does.
			want[f.Path+" "+o.ID.String()]++
		}
	}
	got := map[string]int{}
	for _, o := range loaded.Objects {
		rel, err := filepath.Rel(dir, o.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			m.add(name, "object outside the chart", "%s: %s %s in %s", label, o.Kind, o.Name, o.File)
			continue
		}
		got[filepath.ToSlash(rel)+" "+objectID{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}.String()]++
	}
	m.count(name, "rendered objects", len(want))
	for k, n := range want {
		if got[k] < n {
			m.add(name, "rendered object not loaded", "%s: %s (Helm %d, Palisade %d)", label, k, n, got[k])
		}
	}
	for k, n := range got {
		if want[k] < n {
			m.add(name, "object Helm does not render", "%s: %s (Helm %d, Palisade %d)", label, k, want[k], n)
		}
	}

	set2, err := builtinRules()
	if err != nil {
		t.Fatal(err)
	}
	reports := map[string]*finding.Report{}
	for _, level := range []string{rule.LevelBaseline, rule.LevelRestricted} {
		rep, err := scan.Config(context.Background(), scan.ConfigInput{Paths: []string{dir}, Render: ropts},
			scan.Options{Rules: set2, Settings: rule.Settings{DefaultPSSLevel: level}})
		if err != nil {
			t.Fatalf("%s: scan: %v", label, err)
		}
		reports[level] = rep
	}
	rep := reports[rule.LevelRestricted]
	for _, p := range rep.Problems {
		if p.Level == finding.LevelError {
			m.add(name, "ERROR problem on a chart Helm renders", "%s: %s:%d: %s", label, p.File, p.Line, p.Message)
		}
	}
	lines := templateLines(t, dir)
	for _, f := range rep.Findings {
		m.count(name, "findings located", 1)
		rel, err := filepath.Rel(dir, f.File)
		n, ok := lines[filepath.ToSlash(rel)]
		switch {
		case err != nil || !ok:
			m.add(name, "finding not in a template file", "%s: %s on %s %s at %q", label, f.RuleID, f.Object.Kind, f.Object.Name, f.File)
		case f.Line < 1 || f.Line > n:
			m.add(name, "finding line outside its template", "%s: %s on %s %s at %s:%d (%d lines)", label, f.RuleID, f.Object.Kind, f.Object.Name, rel, f.Line, n)
		}
	}
	return reports
}

// checkChartFindings checks findings that must be reported, and where.
func checkChartFindings(m *mismatches, name, dir, label string, reports map[string]*finding.Report, want []chartFindingExpected) {
	for _, e := range want {
		m.count(name, "finding expectations", 1)
		var got []finding.Finding
		for _, f := range reports[e.level()].Findings {
			if e.matches(f) {
				got = append(got, f)
			}
		}
		if len(got) == 0 {
			m.add(name, "expectation: finding missing", "%s: %s", label, e)
			continue
		}
		if e.File == "" {
			continue
		}
		wantFile := filepath.Join(dir, filepath.FromSlash(e.File))
		at := false
		var where []string
		for _, f := range got {
			at = at || f.File == wantFile && f.Line == e.Line
			where = append(where, fmt.Sprintf("%s:%d", f.File, f.Line))
		}
		switch {
		case !at && e.Bug == "":
			m.add(name, "expectation: finding not at its template line", "%s: %s: want %s:%d, got %s", label, e, e.File, e.Line, strings.Join(where, ", "))
		case !at:
			m.count(name, "known location bugs still present", 1)
		case e.Bug != "":
			m.add(name, "known bug fixed: remove its marker", "%s: %s: now at %s:%d (%s)", label, e, e.File, e.Line, e.Bug)
		}
	}
}

// checkChartAbsent checks findings that must not be reported.
func checkChartAbsent(m *mismatches, name, label string, reports map[string]*finding.Report, absent []findingExpectation) {
	for _, e := range absent {
		m.count(name, "absent expectations", 1)
		for _, f := range reports[e.level()].Findings {
			if e.matches(f) {
				m.add(name, "expectation: finding must be absent", "%s: %s: got %s at %s:%d", label, e, f.RuleID, f.File, f.Line)
			}
		}
	}
}

// renderChartOracle renders a chart with Helm's loader and engine
// directly, as `helm template` does (release "release-name" in
// "default"), and decodes each template's output with the harness's
// independent YAML reader. Paths are template files relative to the
// chart.
func renderChartOracle(t *testing.T, dir string, set []string) []oracleFile {
	t.Helper()
	ch, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("helm load %s: %v", dir, err)
	}
	vals := map[string]any{}
	for _, s := range set {
		if err := strvals.ParseInto(s, vals); err != nil {
			t.Fatalf("--set %s: %v", s, err)
		}
	}
	top, err := chartutil.ToRenderValues(ch, vals,
		common.ReleaseOptions{Name: "release-name", Namespace: "default", Revision: 1, IsInstall: true},
		common.DefaultCapabilities.Copy())
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Engine{}.RenderWithContext(context.Background(), ch, top)
	if err != nil {
		t.Fatalf("helm render %s: %v", dir, err)
	}
	var files []oracleFile
	for key, text := range out {
		if strings.HasPrefix(path.Base(key), "_") || path.Base(key) == "NOTES.txt" {
			continue
		}
		rel := strings.TrimPrefix(key, ch.Name()+"/")
		f := decodeBytes(rel, []byte(text))
		if len(f.Unreadable) > 0 {
			t.Fatalf("Helm's output of %s is not readable: %v", rel, f.Unreadable)
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

// templateLines counts the lines of each template file of a chart,
// templates/tests/ and other subdirectories included.
func templateLines(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := filepath.WalkDir(filepath.Join(dir, "templates"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = strings.Count(string(data), "\n") + 1
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
