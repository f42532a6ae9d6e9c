package hardening

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
// A "# allowed: a, b" line sets the registry allow-list.
func TestRuleFixtures(t *testing.T) {
	for _, r := range Rules() {
		name := strings.TrimPrefix(r.ID, "hardening/")
		for _, outcome := range []string{"fail", "pass"} {
			file := filepath.Join("testdata", name+"."+outcome+".yaml")
			t.Run(name+"/"+outcome, func(t *testing.T) {
				if _, err := os.Stat(file); err != nil {
					t.Fatalf("rule %s has no %s fixture: %v", r.ID, outcome, err)
				}
				want, allowed := expectations(t, file)
				if outcome == "fail" && len(want) == 0 {
					t.Fatalf("%s marks no expected finding", file)
				}
				got := evaluate(t, r, file, allowed)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

func expectations(t *testing.T, file string) (want []string, allowed []string) {
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

func evaluate(t *testing.T, r *rule.Rule, file string, allowed []string) []string {
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
	c := rule.NewContext(inv, rule.Settings{AllowedRegistries: allowed}, rules)
	fs, err := rules.Evaluate(context.Background(), c, nil)
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
		if !strings.HasPrefix(r.ID, "hardening/") || r.Title == "" || r.Description == "" || r.Remediation == "" || r.RemediationYAML == "" || len(r.References) == 0 || r.Severity == 0 {
			t.Errorf("rule %s lacks metadata: %+v", r.ID, r)
		}
	}
}

func TestSecretValueNeverShown(t *testing.T) {
	want, _ := expectations(t, "testdata/secret-in-env.fail.yaml")
	_ = want
	set, _ := manifest.Load(context.Background(), []string{"testdata/secret-in-env.fail.yaml"}, manifest.Options{})
	inv, _ := workload.FromManifests(set, "")
	rules, _ := rule.NewSet(secretInEnv())
	fs, _ := rules.Evaluate(context.Background(), rule.NewContext(inv, rule.Settings{}, rules), nil)
	for _, f := range fs {
		for _, secretValue := range []string{"Pr0d-s3cret-pa55", "AKIAQWERTYUIOPASDFGH"} {
			if strings.Contains(f.Message, secretValue) {
				t.Errorf("message shows the secret: %s", f.Message)
			}
		}
	}
	if len(fs) != 2 {
		t.Errorf("got %d findings, want 2", len(fs))
	}
}

// TestConfigMapSecretNeverShown: the credentials of a ConfigMap are named
// and masked, never printed.
func TestConfigMapSecretNeverShown(t *testing.T) {
	set, _ := manifest.Load(context.Background(), []string{"testdata/configmap-secret.fail.yaml"}, manifest.Options{})
	inv, _ := workload.FromManifests(set, "")
	rules, _ := rule.NewSet(configMapSecret())
	fs, _ := rules.Evaluate(context.Background(), rule.NewContext(inv, rule.Settings{}, rules), nil)
	if len(fs) != 3 {
		t.Fatalf("got %d findings, want 3", len(fs))
	}
	for _, f := range fs {
		for _, secretValue := range []string{"Pr0d-s3cret-pa55", "AKIAQWERTYUIOPASDFGH", "Sup3rS3cretPw"} {
			if strings.Contains(f.Message, secretValue) {
				t.Errorf("message shows the secret: %s", f.Message)
			}
		}
	}
}
