package reliability

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

// Each rule has testdata/<name>.fail.yaml and <name>.pass.yaml. In a fail
// fixture, every line that must carry a finding ends in "# want: <rule-id>";
// the test requires exactly those findings of that rule, at those lines.
// A rule without both fixtures fails.
func TestRuleFixtures(t *testing.T) {
	for _, r := range Rules() {
		name := strings.TrimPrefix(r.ID, "reliability/")
		for _, outcome := range []string{"fail", "pass"} {
			file := filepath.Join("testdata", name+"."+outcome+".yaml")
			t.Run(name+"/"+outcome, func(t *testing.T) {
				if _, err := os.Stat(file); err != nil {
					t.Fatalf("rule %s has no %s fixture: %v", r.ID, outcome, err)
				}
				want := expectations(t, file)
				if outcome == "fail" && len(want) == 0 {
					t.Fatalf("%s marks no expected finding", file)
				}
				if got := evaluate(t, r, file); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

func expectations(t *testing.T, file string) []string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if _, id, ok := strings.Cut(sc.Text(), "# want: "); ok {
			want = append(want, fmt.Sprintf("%d %s", line, strings.TrimSpace(id)))
		}
	}
	return want
}

// evaluate runs one rule over a fixture the way 'scan config' does for a
// small input: every object in one inventory.
func evaluate(t *testing.T, r *rule.Rule, file string) []string {
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
	fs, err := rules.Evaluate(context.Background(), rule.NewContext(inv, rule.Settings{}, rules), nil)
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
	sort.Slice(got, func(i, j int) bool {
		var a, b int
		fmt.Sscan(got[i], &a)
		fmt.Sscan(got[j], &b)
		return a < b
	})
	return got
}

func TestRuleMetadata(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("duplicate rule %s", r.ID)
		}
		seen[r.ID] = true
		if !strings.HasPrefix(r.ID, "reliability/") || r.Title == "" || r.Description == "" || r.Remediation == "" ||
			r.RemediationYAML == "" || len(r.References) == 0 || r.Severity == 0 {
			t.Errorf("rule %s lacks metadata: %+v", r.ID, r)
		}
		if len(r.Tags) != 1 || r.Tags[0] != Tag {
			t.Errorf("rule %s: tags %v, want only %q (reliability rules stay out of the security gate)", r.ID, r.Tags, Tag)
		}
	}
}
