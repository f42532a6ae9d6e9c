package hardening

import (
	"context"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules/rulestest"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Each rule has testdata/<name>.fail.yaml and <name>.pass.yaml (see
// rulestest.Fixtures). A "# allowed: a, b" line sets the registry
// allow-list.
func TestRuleFixtures(t *testing.T) { rulestest.Fixtures(t, Rules(), "hardening/") }

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
