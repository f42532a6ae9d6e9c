// Package rulestest runs the rule packages' fixtures: for each rule, a
// testdata/<name>.fail.yaml whose lines that must carry a finding end in
// "# want: <rule-id>", and a testdata/<name>.pass.yaml that must raise
// nothing. A rule without both fixtures fails its package's test. Only
// tests import it.
package rulestest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Fixtures checks every rule against its fixture pair in testdata; the
// fixture's name is the rule ID without prefix ("hardening/"). A fixture
// line "# allowed: a, b" sets the registry allow-list.
func Fixtures(t *testing.T, rules []*rule.Rule, prefix string) {
	t.Helper()
	for _, r := range rules {
		name := strings.TrimPrefix(r.ID, prefix)
		for _, outcome := range []string{"fail", "pass"} {
			file := filepath.Join("testdata", name+"."+outcome+".yaml")
			t.Run(name+"/"+outcome, func(t *testing.T) {
				if _, err := os.Stat(file); err != nil {
					t.Fatalf("rule %s has no %s fixture: %v", r.ID, outcome, err)
				}
				want, allowed := Expectations(t, file)
				if outcome == "fail" && len(want) == 0 {
					t.Fatalf("%s marks no expected finding", file)
				}
				got := Evaluate(t, r, file, rule.Settings{AllowedRegistries: allowed})
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

// Expectations reads a fixture's "# want: <rule-id>" lines as "<line>
// <rule-id>", and its "# allowed:" registries.
func Expectations(t *testing.T, file string) (want []string, allowed []string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if _, id, ok := strings.Cut(text, "# want: "); ok {
			want = append(want, fmt.Sprintf("%d %s", line, strings.TrimSpace(id)))
		}
		if _, list, ok := strings.Cut(text, "# allowed: "); ok {
			for _, a := range strings.Split(list, ",") {
				allowed = append(allowed, strings.TrimSpace(a))
			}
		}
	}
	return want, allowed
}

// Evaluate runs one rule over a fixture, every object in one inventory
// (as 'scan cluster' and a small 'scan config' see them), and returns its
// findings as "<line> <rule-id>" in line order.
func Evaluate(t *testing.T, r *rule.Rule, file string, settings rule.Settings) []string {
	t.Helper()
	set, err := manifest.Load(context.Background(), []string{file}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := workload.FromManifests(set, "")
	for _, p := range append(set.Problems, probs...) {
		t.Fatalf("fixture problem: %v", p)
	}
	rules, err := rule.NewSet(r)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := rules.Evaluate(context.Background(), rule.NewContext(inv, settings, rules), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		if f.Message == "" || f.Title == "" {
			t.Errorf("finding without message or title: %+v", f)
		}
		got = append(got, fmt.Sprintf("%d %s", f.Line, f.RuleID))
	}
	sort.SliceStable(got, func(i, j int) bool {
		var a, b int
		fmt.Sscan(got[i], &a)
		fmt.Sscan(got[j], &b)
		return a < b
	})
	return got
}
