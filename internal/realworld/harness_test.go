package realworld

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
)

// deprecatedRule is the finding an object under a removed or wrong
// apiVersion must carry besides being evaluated as its kind.
const deprecatedRule = "hardening/deprecated-api-version"

// realworldDir is testdata/realworld at the repository root.
var realworldDir = filepath.Join("..", "..", "testdata", "realworld")

// corpus is a named set of input files.
type corpus struct {
	Name  string
	Files []string
}

// corpusFiles lists the manifest files under dir, leaving out the
// harness's own files (SOURCE.md, expectations).
func corpusFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		if d.Name() == expectationsFile {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		t.Fatalf("listing corpus %s: %v", dir, err)
	}
	sort.Strings(files)
	return files
}

// expectationsFile, beside a corpus's files, holds the results written by
// hand for some of them.
const expectationsFile = "expectations.yaml"

// moduleDir locates a module of the build list in the module cache.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("locating %s: %v", module, err)
	}
	return strings.TrimSpace(string(out))
}

// allCorpora are the committed corpora (every directory of
// testdata/realworld with a SOURCE.md) and the API's own example objects
// of the k8s.io/api module Palisade builds with: every kind, every
// group-version including removed ones, read where the module cache holds
// them rather than copied.
func allCorpora(t *testing.T) []corpus {
	t.Helper()
	entries, err := os.ReadDir(realworldDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []corpus
	for _, e := range entries {
		dir := filepath.Join(realworldDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "SOURCE.md")); !e.IsDir() || err != nil {
			continue
		}
		out = append(out, corpus{Name: e.Name(), Files: corpusFiles(t, dir)})
	}
	api := filepath.Join(moduleDir(t, "k8s.io/api"), "testdata", "HEAD")
	var apiFiles []string
	for _, f := range corpusFiles(t, api) {
		if strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".json") {
			apiFiles = append(apiFiles, f)
		}
	}
	out = append(out, corpus{Name: apiExamplesCorpus, Files: apiFiles})
	return out
}

// committedWorkload is a workload of a committed corpus.
type committedWorkload struct {
	Corpus, File string
	Obj          oracleObject
}

// committedWorkloads are the workloads of the committed corpora, leaving
// out the API's example objects (filler values, not workloads anyone runs).
func committedWorkloads(t *testing.T) []committedWorkload {
	t.Helper()
	var out []committedWorkload
	for _, c := range allCorpora(t) {
		if c.Name == apiExamplesCorpus {
			continue
		}
		for _, f := range c.Files {
			o, err := decodeFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range o.Objects {
				if isWorkload(obj.ID) {
					out = append(out, committedWorkload{Corpus: c.Name, File: f, Obj: obj})
				}
			}
		}
	}
	return out
}

// apiExamplesCorpus names the k8s.io/api example objects.
const apiExamplesCorpus = "k8s-api-examples"

// builtinRules is the rule set every scan of the harness runs.
var builtinRules = sync.OnceValues(rules.Builtin)

// scanPaths runs scan.Config, the `scan config` entry point, at a Pod
// Security level.
func scanPaths(t *testing.T, paths []string, level string) *finding.Report {
	t.Helper()
	return scanPathsWith(t, paths, rule.Settings{DefaultPSSLevel: level})
}

// scanPathsWith is scanPaths with every setting of the scan.
func scanPathsWith(t *testing.T, paths []string, settings rule.Settings) *finding.Report {
	t.Helper()
	set, err := builtinRules()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := scan.Config(context.Background(), scan.ConfigInput{Paths: paths},
		scan.Options{Rules: set, Settings: settings})
	if err != nil {
		t.Fatalf("scan %v: %v", paths, err)
	}
	return rep
}

// mismatches collects every difference of a run, by corpus and cause, so
// one run shows all gaps with counts instead of stopping at the first.
type mismatches struct {
	// examples is how many details each cause shows; the count says
	// how many there are.
	examples int
	mu       sync.Mutex
	byCause  map[string]map[string][]string // corpus → cause → details
	counted  map[string]map[string]int      // corpus → what → how many checked
}

func newMismatches(examples int) *mismatches {
	return &mismatches{examples: examples, byCause: map[string]map[string][]string{}, counted: map[string]map[string]int{}}
}

func (m *mismatches) add(corpus, cause, format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byCause[corpus] == nil {
		m.byCause[corpus] = map[string][]string{}
	}
	m.byCause[corpus][cause] = append(m.byCause[corpus][cause], fmt.Sprintf(format, args...))
}

func (m *mismatches) count(corpus, what string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counted[corpus] == nil {
		m.counted[corpus] = map[string]int{}
	}
	m.counted[corpus][what] += n
}

// report logs what was checked and fails once per corpus and cause with
// the count and the first examples.
func (m *mismatches) report(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range sortedKeys(m.counted) {
		var parts []string
		for _, w := range sortedKeys(m.counted[c]) {
			parts = append(parts, fmt.Sprintf("%s=%d", w, m.counted[c][w]))
		}
		t.Logf("corpus %s: checked %s", c, strings.Join(parts, " "))
	}
	for _, c := range sortedKeys(m.byCause) {
		for _, cause := range sortedKeys(m.byCause[c]) {
			details := m.byCause[c][cause]
			sort.Strings(details)
			shown := details[:min(len(details), m.examples)]
			t.Errorf("corpus %s: %d× %s:\n  %s%s", c, len(details), cause, strings.Join(shown, "\n  "), more(len(details)-len(shown)))
		}
	}
}

func more(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("\n  … and %d more", n)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// forEachFile runs fn over the files of a corpus on two workers (the
// scans parallelise inside too).
func forEachFile(files []string, fn func(string)) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for f := range work {
				fn(f)
			}
		})
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
}

// findingsOn returns the findings a report names on an object. An object
// with a controller owner may be named as that owner (workloads, not
// replicas: a Pod as its ReplicaSet, a ReplicaSet as its Deployment).
func findingsOn(rep *finding.Report, o oracleObject) []finding.Finding {
	ownerKind, ownerName := controllerOwner(o.Content)
	var out []finding.Finding
	for _, f := range rep.Findings {
		if matchesRef(f.Object, o.ID) || (ownerKind != "" && f.Object.Kind == ownerKind && f.Object.Name == ownerName) {
			out = append(out, f)
		}
	}
	return out
}

func matchesRef(ref finding.ObjectRef, id objectID) bool {
	return ref.Kind == id.Kind && ref.Name == id.Name && (id.Namespace == "" || ref.Namespace == id.Namespace)
}

// controllerOwner returns the controller ownerReference of an object.
func controllerOwner(obj map[string]any) (kind, name string) {
	md, _ := obj["metadata"].(map[string]any)
	refs, _ := md["ownerReferences"].([]any)
	for _, r := range refs {
		rm, _ := r.(map[string]any)
		if c, _ := rm["controller"].(bool); c {
			k, _ := rm["kind"].(string)
			n, _ := rm["name"].(string)
			return k, n
		}
	}
	return "", ""
}

// errorProblems are the ERROR problems of a report about a file. With
// located set, only those at a line of the file count: a scan of one file
// without any object also (rightly) says there was nothing to scan, a
// verdict on the whole input rather than on a place in it.
func errorProblems(rep *finding.Report, file string, located bool) []string {
	var out []string
	for _, p := range rep.Problems {
		if located && p.Line == 0 {
			continue
		}
		if p.Level == finding.LevelError && (p.File == file || p.File == "") {
			out = append(out, fmt.Sprintf("line %d: %s", p.Line, p.Message))
		}
	}
	return out
}

func ruleIDs(fs []finding.Finding, prefix string) []string {
	seen := map[string]bool{}
	for _, f := range fs {
		if strings.HasPrefix(f.RuleID, prefix) {
			seen[f.RuleID] = true
		}
	}
	return sortedKeys(seen)
}

// corpusExpectations is a corpus's expectations.yaml: results for some of
// its files written by reading them, not mechanical like the differential
// checks.
type corpusExpectations struct {
	Files []struct {
		File string `json:"file"`
		// Objects, when set, is how many objects the loader must see.
		Objects *int `json:"objects"`
		// Errors is how many ERROR problems located at a line of the
		// file it must give (0 when unset), and ErrorLines their lines
		// when set.
		Errors     int                  `json:"errors"`
		ErrorLines []int                `json:"errorLines"`
		Findings   []findingExpectation `json:"findings"`
		Absent     []findingExpectation `json:"absent"`
	} `json:"files"`
}

// findingExpectation names findings on one object: Rule is an ID or a
// prefix glob ("pss/*"), Level the Pod Security level of the scan
// (restricted when empty). Count, when set, is how many findings there
// must be; MinSeverity the least severity of the most severe one.
type findingExpectation struct {
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Rule        string `json:"rule"`
	Level       string `json:"level"`
	Count       int    `json:"count"`
	MinSeverity string `json:"minSeverity"`
}

func (e findingExpectation) String() string {
	return fmt.Sprintf("%s %s %s at %s", e.Kind, e.Name, e.Rule, e.level())
}

func (e findingExpectation) level() string {
	if e.Level == "" {
		return rule.LevelRestricted
	}
	return e.Level
}

func (e findingExpectation) matches(f finding.Finding) bool {
	if f.Suppressed || f.Object.Kind != e.Kind || f.Object.Name != e.Name {
		return false
	}
	if p, ok := strings.CutSuffix(e.Rule, "*"); ok {
		return strings.HasPrefix(f.RuleID, p)
	}
	return f.RuleID == e.Rule
}

// readStrictYAML decodes a hand-written YAML file of the harness into v,
// refusing unknown fields, or fails the test naming the file.
func readStrictYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkExpectations checks the files of dir against an expectations file.
func checkExpectations(t *testing.T, m *mismatches, corpus, dir, expectations string) {
	t.Helper()
	var exp corpusExpectations
	readStrictYAML(t, expectations, &exp)
	for _, fe := range exp.Files {
		file := filepath.Join(dir, fe.File)
		m.count(corpus, "hand-written expectations", 1)
		set, err := manifest.Load(context.Background(), []string{file}, manifest.Options{SkipDockerfiles: true})
		if err != nil {
			m.add(corpus, "expectation: file not loaded", "%s: %v", file, err)
			continue
		}
		if fe.Objects != nil && len(set.Objects) != *fe.Objects {
			m.add(corpus, "expectation: object count", "%s: want %d objects, loader saw %d", file, *fe.Objects, len(set.Objects))
		}
		reports := map[string]*finding.Report{
			rule.LevelBaseline:   scanPaths(t, []string{file}, rule.LevelBaseline),
			rule.LevelRestricted: scanPaths(t, []string{file}, rule.LevelRestricted),
		}
		// Errors located in the file; "nothing to scan" (line 0) is
		// the whole input's verdict.
		var lines []int
		for _, p := range reports[rule.LevelRestricted].Problems {
			if p.Level == finding.LevelError && p.Line > 0 {
				lines = append(lines, p.Line)
			}
		}
		if len(lines) != fe.Errors || fe.ErrorLines != nil && fmt.Sprint(lines) != fmt.Sprint(fe.ErrorLines) {
			m.add(corpus, "expectation: ERROR problems", "%s: want %d at lines %v, got %d at lines %v: %s",
				file, fe.Errors, fe.ErrorLines, len(lines), lines, strings.Join(errorProblems(reports[rule.LevelRestricted], file, true), "; "))
		}
		for _, e := range fe.Findings {
			var got []finding.Finding
			for _, f := range reports[e.level()].Findings {
				if e.matches(f) {
					got = append(got, f)
				}
			}
			switch {
			case len(got) == 0:
				m.add(corpus, "expectation: finding missing", "%s: %s", file, e)
			case e.Count > 0 && len(got) != e.Count:
				m.add(corpus, "expectation: finding count", "%s: %s: want %d, got %d", file, e, e.Count, len(got))
			}
			if e.MinSeverity != "" {
				want, err := finding.ParseSeverity(e.MinSeverity)
				if err != nil {
					t.Fatalf("%s: %v", expectations, err)
				}
				best := finding.SeverityUnknown
				for _, f := range got {
					best = max(best, f.Severity)
				}
				if best < want {
					m.add(corpus, "expectation: severity", "%s: %s: want at least %s, got %s", file, e, want, best)
				}
			}
		}
		for _, e := range fe.Absent {
			for _, f := range reports[e.level()].Findings {
				if e.matches(f) {
					m.add(corpus, "expectation: finding must be absent", "%s: %s: got %s", file, e, f.RuleID)
				}
			}
		}
	}
}
