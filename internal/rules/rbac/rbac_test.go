package rbac

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

// TestRiskyGrants: in each testdata file, every line ending in
// "# want: id..." must carry exactly those findings, and no other line
// any; system subjects, built-in roles and named-Secret grants are not
// reported.
func TestRiskyGrants(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { checkWants(t, file) })
	}
}

func checkWants(t *testing.T, file string) {
	var want []string
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if _, ids, ok := strings.Cut(sc.Text(), "# want: "); ok {
			for _, id := range strings.Fields(ids) {
				want = append(want, fmt.Sprintf("%d %s", n, id))
			}
		}
	}
	f.Close()
	set, err := manifest.Load(context.Background(), []string{file}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := workload.FromManifests(set, "")
	if len(probs)+len(set.Problems) > 0 {
		t.Fatal(probs, set.Problems)
	}
	rules, err := rule.NewSet(Rules()...)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := rules.Evaluate(context.Background(), rule.NewContext(inv, rule.Settings{}, rules), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%d %s", f.Line, f.RuleID))
		if f.Object.Kind == "" || f.Message == "" {
			t.Errorf("finding without object or message: %+v", f)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEveryRuleHasFixtures: each rule is expected ("# want:") somewhere in
// testdata, whose unmarked objects are its passing twins; a rule added
// without a failing fixture fails here.
func TestEveryRuleHasFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	wanted := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if _, ids, ok := strings.Cut(line, "# want: "); ok {
				for _, id := range strings.Fields(ids) {
					wanted[id] = true
				}
			}
		}
	}
	for _, r := range Rules() {
		if !wanted[r.ID] {
			t.Errorf("rule %s has no fixture in testdata (a line marked \"# want: %s\")", r.ID, r.ID)
		}
	}
}
