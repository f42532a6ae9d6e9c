package pss

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// fixtureRoot finds the Pod Security fixtures shipped in the
// k8s.io/pod-security-admission module, at the version go.mod pins.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/pod-security-admission").Output()
	if err != nil {
		t.Fatalf("locating k8s.io/pod-security-admission: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "test", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("pod-security-admission fixtures: %v", err)
	}
	return dir
}

// newestVersionDir returns the newest v1.N directory of a level.
func newestVersionDir(t *testing.T, levelDir string) string {
	t.Helper()
	entries, err := os.ReadDir(levelDir)
	if err != nil {
		t.Fatal(err)
	}
	best, bestMinor := "", -1
	for _, e := range entries {
		var minor int
		if n, _ := fmtSscanf(e.Name(), &minor); n == 1 && minor > bestMinor {
			best, bestMinor = e.Name(), minor
		}
	}
	if best == "" {
		t.Fatalf("no version directory in %s", levelDir)
	}
	return filepath.Join(levelDir, best)
}

func evaluate(t *testing.T, rules *rule.Set, files []string, level string) []finding.Finding {
	t.Helper()
	set, err := manifest.Load(context.Background(), files, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := workload.FromManifests(set, "fixtures")
	for _, p := range append(set.Problems, probs...) {
		if p.Level == finding.LevelError {
			t.Fatalf("fixture did not load: %v", p)
		}
	}
	c := rule.NewContext(inv, rule.Settings{DefaultPSSLevel: level}, rules)
	fs, err := rules.Evaluate(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestUpstreamFixtures is the oracle: every "fail" fixture of the newest
// version must raise the Pod Security finding it is named after (or the
// stricter control that overrides it at that level) and every "pass"
// fixture none at all.
func TestUpstreamFixtures(t *testing.T) {
	all, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := rule.NewSet(all...)
	if err != nil {
		t.Fatal(err)
	}
	overriders := map[string][]string{}
	for _, c := range policy.DefaultChecks() {
		for _, o := range c.Versions[len(c.Versions)-1].OverrideCheckIDs {
			overriders[strings.ToLower(string(o))] = append(overriders[strings.ToLower(string(o))], RuleID(c.ID))
		}
	}
	byLowerID := map[string]string{}
	for _, c := range policy.DefaultChecks() {
		byLowerID[strings.ToLower(string(c.ID))] = RuleID(c.ID)
	}
	root := fixtureRoot(t)
	for _, level := range []string{rule.LevelBaseline, rule.LevelRestricted} {
		dir := newestVersionDir(t, filepath.Join(root, level))
		t.Logf("%s fixtures: %s", level, dir)
		for _, outcome := range []string{"pass", "fail"} {
			files, _ := filepath.Glob(filepath.Join(dir, outcome, "*.yaml"))
			if len(files) == 0 {
				t.Fatalf("no fixtures in %s/%s", dir, outcome)
			}
			for _, file := range files {
				name := strings.TrimSuffix(filepath.Base(file), ".yaml")
				t.Run(level+"/"+outcome+"/"+name, func(t *testing.T) {
					got := map[string]bool{}
					for _, f := range evaluate(t, rules, []string{file}, level) {
						got[f.RuleID] = true
					}
					if outcome == "pass" {
						if len(got) > 0 {
							t.Errorf("pass fixture raised %v", keys(got))
						}
						return
					}
					checkID := strings.TrimRight(name, "0123456789")
					want, ok := byLowerID[checkID]
					if !ok {
						t.Fatalf("fixture %s names no known check", name)
					}
					accepted := append([]string{want}, overriders[checkID]...)
					if level == rule.LevelBaseline {
						accepted = []string{want}
					}
					for _, id := range accepted {
						if got[id] {
							return
						}
					}
					t.Errorf("fail fixture raised %v, want one of %v", keys(got), accepted)
				})
			}
		}
	}
}

// TestAgreesWithLibraryEvaluator checks that running the controls one by
// one gives the same verdict as the library's own aggregate evaluator.
func TestAgreesWithLibraryEvaluator(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Rules()
	rules, _ := rule.NewSet(all...)
	root := fixtureRoot(t)
	for _, level := range []string{rule.LevelBaseline, rule.LevelRestricted} {
		dir := newestVersionDir(t, filepath.Join(root, level))
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*.yaml"))
		for _, file := range files {
			set, _ := manifest.Load(context.Background(), []string{file}, manifest.Options{})
			inv, _ := workload.FromManifests(set, "fixtures")
			if len(inv.Workloads) != 1 {
				t.Fatalf("%s: %d workloads", file, len(inv.Workloads))
			}
			w := inv.Workloads[0]
			lv := api.LevelVersion{Level: api.Level(level), Version: api.LatestVersion()}
			agg := policy.AggregateCheckResults(evaluator.EvaluatePod(lv, w.PodMeta, w.Spec))
			fs := evaluate(t, rules, []string{file}, level)
			if agg.Allowed != (len(fs) == 0) {
				t.Errorf("%s at %s: library allowed=%v, Palisade findings=%d", file, level, agg.Allowed, len(fs))
			}
		}
	}
}

func TestLevelFromNamespaceLabel(t *testing.T) {
	all, _ := Rules()
	rules, _ := rule.NewSet(all...)
	inv := workload.NewInventory()
	inv.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "relaxed", Labels: map[string]string{api.EnforceLevelLabel: "privileged"}}},
		finding.ObjectRef{Kind: "Namespace", Name: "relaxed"}, nil)
	pod := func(ns string) *corev1.Pod {
		yes := true
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "x", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}
	}
	inv.Add(pod("relaxed"), finding.ObjectRef{Kind: "Pod", Namespace: "relaxed", Name: "p"}, nil)
	inv.Add(pod("other"), finding.ObjectRef{Kind: "Pod", Namespace: "other", Name: "p"}, nil)
	c := rule.NewContext(inv, rule.Settings{DefaultPSSLevel: rule.LevelBaseline}, rules)
	fs, err := rules.Evaluate(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Object.Namespace+" "+f.RuleID+" "+f.Container)
	}
	sort.Strings(got)
	if strings.Join(got, ";") != "other pss/privileged c" {
		t.Errorf("findings = %v; want only the privileged pod outside the privileged namespace", got)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
