package cluster

import (
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules/rulestest"
)

// Each rule has testdata/<name>.fail.yaml and <name>.pass.yaml (see
// rulestest.Fixtures), evaluated as 'scan cluster' sees a cluster: every
// object in one inventory.
func TestRuleFixtures(t *testing.T) { rulestest.Fixtures(t, Rules(), "cluster/") }

func TestRuleMetadata(t *testing.T) {
	for _, r := range Rules() {
		if !strings.HasPrefix(r.ID, "cluster/") || r.Title == "" || r.Description == "" || r.Remediation == "" ||
			r.RemediationYAML == "" || len(r.References) == 0 || r.Severity == 0 || !r.HasTag(rule.TagCluster) {
			t.Errorf("rule %s lacks metadata or the cluster tag: %+v", r.ID, r)
		}
	}
}
