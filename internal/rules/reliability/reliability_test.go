package reliability

import (
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/rules/rulestest"
)

// Each rule has testdata/<name>.fail.yaml and <name>.pass.yaml (see
// rulestest.Fixtures); a rule without both fails.
func TestRuleFixtures(t *testing.T) { rulestest.Fixtures(t, Rules(), "reliability/") }

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
