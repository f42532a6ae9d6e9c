package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

func TestLoad(t *testing.T) {
	p, err := Load(context.Background(), "testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.PodSecurity.DefaultLevel != "baseline" || len(p.Spec.AllowedRegistries) != 1 {
		t.Errorf("spec = %+v", p.Spec)
	}
	rules, err := p.CustomRules()
	if err != nil || len(rules) != 2 || rules[0].ID != "custom/team-label" || rules[0].Severity != finding.SeverityLow {
		t.Fatalf("custom rules = %v, %v", rules, err)
	}
	ex := p.Exceptions()
	if len(ex) != 3 || ex[0].Expires == nil || ex[0].Expires.Year() != 2099 {
		t.Errorf("exceptions = %+v", ex)
	}
	// Warnings and errors about an exception name its file and line.
	if len(ex) == 3 && (ex[0].Source != "policy testdata/policy.yaml:28: spec.exceptions[0]" || ex[1].Source != "policy testdata/policy.yaml:32: spec.exceptions[1]") {
		t.Errorf("exception sources %q, %q", ex[0].Source, ex[1].Source)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"wrong version", "apiVersion: palisade.io/v9\nkind: Policy\nspec: {}\n", `unsupported apiVersion "palisade.io/v9"`},
		{"no policy", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "no object with apiVersion"},
		{"unknown field", "apiVersion: palisade.io/v1alpha1\nkind: Policy\nspec:\n  allowedRegistry: [x]\n", `unknown field "allowedRegistry"`},
		{"bad level", "apiVersion: palisade.io/v1alpha1\nkind: Policy\nspec:\n  podSecurity:\n    defaultLevel: strict\n", "policy.yaml:5: spec.podSecurity.defaultLevel"},
		{"no reason", "apiVersion: palisade.io/v1alpha1\nkind: Policy\nspec:\n  exceptions:\n  - rules: [x]\n", "reason is required"},
		{"bad expiry", "apiVersion: palisade.io/v1alpha1\nkind: Policy\nspec:\n  exceptions:\n  - rules: [x]\n    reason: r\n    expires: tomorrow\n", "policy.yaml:7"},
		{"bad CEL", "apiVersion: palisade.io/v1alpha1\nkind: Policy\nspec:\n  rules:\n  - id: x\n    validations:\n    - expression: \"object.metadata.name ==\"\n", "custom rule x: validations[0]"},
		{"CEL not bool", "apiVersion: palisade.io/v1alpha1\nkind: Policy\nspec:\n  rules:\n  - id: x\n    validations:\n    - expression: \"'a' + 'b'\"\n", "must evaluate to bool"},
		{"bad severity", "apiVersion: palisade.io/v1alpha1\nkind: Policy\nspec:\n  rules:\n  - id: x\n    severity: urgent\n    validations:\n    - expression: \"true\"\n", `unknown severity "urgent"`},
		{"wrong type", "apiVersion: palisade.io/v1alpha1\nkind: Policy\nspec:\n  allowedRegistries: registry.example.com\n", "allowedRegistries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestCustomRulesAndExceptions runs the policy's CEL rules and exceptions
// over objects end to end.
func TestCustomRulesAndExceptions(t *testing.T) {
	p, err := Load(context.Background(), "testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	custom, _ := p.CustomRules()
	rules, err := rule.NewSet(custom...)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	manifests := filepath.Join(dir, "m.yaml")
	os.WriteFile(manifests, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: prod-eu, labels: {team: core}}
spec: {replicas: 1, template: {spec: {containers: [{name: a, image: "x:1"}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod-eu}
spec: {replicas: 3, template: {spec: {containers: [{name: a, image: "x:1"}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy
  namespace: dev
  annotations: {palisade.io/exempt: "custom/team-label: owned by nobody yet"}
spec: {replicas: 1, template: {spec: {containers: [{name: a, image: "x:1"}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-matched, namespace: prod-eu}
`), 0o600)
	set, _ := manifest.Load(context.Background(), []string{manifests}, manifest.Options{})
	inv, probs := workload.FromManifests(set, "")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	fs, err := rules.Evaluate(context.Background(), rule.NewContext(inv, rule.Settings{}, rules), nil)
	if err != nil {
		t.Fatal(err)
	}
	warnings := rule.ApplyExemptions(fs, rules, inv, p.Exceptions(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var got []string
	finding.Sort(fs)
	for _, f := range fs {
		s := f.RuleID + " " + f.Object.Name + ": " + f.Message
		if f.Suppressed {
			s += " [suppressed by " + f.Suppression.Kind + ": " + f.Suppression.Reason + "]"
		}
		got = append(got, s)
	}
	want := []string{
		"custom/replicas api: production deployments need at least two replicas",
		"custom/team-label web: deployment web has no team label",
		"custom/team-label legacy: deployment legacy has no team label [suppressed by annotation: owned by nobody yet]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0].Message, "expired on 2020-01-01") {
		t.Errorf("warnings = %v", warnings)
	}
}
