package reliability

import (
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/rules/rulestest"
)

// Each rule has testdata/<name>.fail.yaml and <name>.pass.yaml (see
// rulestest.Fixtures); a rule without both fails.
func TestRuleFixtures(t *testing.T) {
	rulestest.Fixtures(t, append(Rules(), KubeLinterRules()...), "reliability/")
}

func TestRuleMetadata(t *testing.T) {
	seen := map[string]bool{}
	optIn := map[string]bool{}
	for _, r := range KubeLinterRules() {
		optIn[r.ID] = true
	}
	for _, r := range append(Rules(), KubeLinterRules()...) {
		if seen[r.ID] {
			t.Errorf("duplicate rule %s", r.ID)
		}
		seen[r.ID] = true
		if !strings.HasPrefix(r.ID, "reliability/") || r.Title == "" || r.Description == "" || r.Remediation == "" ||
			r.RemediationYAML == "" || len(r.References) == 0 || r.Severity == 0 {
			t.Errorf("rule %s lacks metadata: %+v", r.ID, r)
		}
		want := Tag
		if optIn[r.ID] {
			want = TagKubeLinter // outside --rules reliability too
		}
		if len(r.Tags) != 1 || r.Tags[0] != want {
			t.Errorf("rule %s: tags %v, want only %q (reliability and opt-in rules stay out of the security gate)", r.ID, r.Tags, want)
		}
	}
}
