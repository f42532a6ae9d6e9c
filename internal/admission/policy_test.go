package admission

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePolicy(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const policyHeader = "apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\nmetadata:\n  name: t\n"

func TestLoadPolicyErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"wrong version", "apiVersion: palisade.io/v2\nkind: AdmissionPolicy\nspec: {}\n", `unsupported apiVersion "palisade.io/v2"`},
		{"no policy", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "no object with apiVersion palisade.io/v1alpha1 and kind AdmissionPolicy"},
		{"unknown field", policyHeader + "spec:\n  mode: enforce\n  bogus: 1\n", `unknown field "bogus"`},
		{"bad mode", policyHeader + "spec:\n  mode: block\n", `:6: spec.mode: must be enforce, warn or audit, not "block"`},
		{"bad level", policyHeader + "spec:\n  podSecurity:\n    level: strict\n", "spec.podSecurity.level: must be privileged"},
		{"bad selector", policyHeader + "spec:\n  rules: [no-such-rule]\n", `rule selector "no-such-rule" matches no rule`},
		{"override without effect", policyHeader + "spec:\n  overrides:\n  - namespaces: [a]\n", "sets neither mode nor podSecurityLevel"},
		{"level with rules", policyHeader + "spec:\n  overrides:\n  - rules: [pss/privileged]\n    podSecurityLevel: baseline\n", "applies to namespaces"},
		{"exception without reason", policyHeader + "spec:\n  exceptions:\n  - rules: [pss/privileged]\n", "reason is required"},
		{"signatures without keys", policyHeader + "spec:\n  images:\n    signatures: {keys: []}\n", "at least one key is required"},
		{"bad key", policyHeader + "spec:\n  images:\n    signatures:\n      keys:\n      - name: k\n        pem: nope\n", "key k: no PEM block"},
		{"missing key file", policyHeader + "spec:\n  images:\n    signatures:\n      keys:\n      - name: k\n        file: missing.pem\n", "missing.pem"},
		{"bad severity", policyHeader + "spec:\n  images:\n    vulnerabilities: {severity: huge}\n", "spec.images.vulnerabilities.severity"},
		{"bad failure policy", policyHeader + "spec:\n  images:\n    registry: {failurePolicy: Maybe}\n", "must be Fail or Ignore"},
		{"bad duration", policyHeader + "spec:\n  images:\n    registry: {timeout: soon}\n", "invalid duration"},
		{"bad CEL", policyHeader + "spec:\n  customRules:\n  - id: x\n    validations:\n    - expression: 'object.('\n", "custom rule x"},
		{"not YAML", "\x00\x01\x02", "admission policy"},
		{"break-glass for everyone", policyHeader + "spec:\n  exemptions:\n    breakGlass: true\n", "spec.exemptions.breakGlassGroups: must name the groups"},
		{"empty break-glass group", policyHeader + "spec:\n  exemptions:\n    breakGlass: true\n    breakGlassGroups: [\"\"]\n", "spec.exemptions.breakGlassGroups[0]"},
		{"empty annotation group", policyHeader + "spec:\n  exemptions:\n    annotationGroups: [\"\"]\n", "spec.exemptions.annotationGroups[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writePolicy(t, tt.body)
			_, err := LoadPolicy(context.Background(), path)
			if err == nil {
				t.Fatalf("loaded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q, want it to name %s and contain %q", err, path, tt.want)
			}
		})
	}
}

func TestExamplePolicyLoads(t *testing.T) {
	p, err := LoadPolicy(context.Background(), "../../examples/admission-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.level != "baseline" || p.mode != ModeEnforce || len(p.settings.AllowedRegistries) != 2 {
		t.Errorf("level %s mode %s allow-list %v", p.level, p.mode, p.settings.AllowedRegistries)
	}
	// The example still names hardening/resources, the former ID of the
	// four resource rules: it selects and overrides all four.
	for _, id := range []string{"pss/privileged", "hardening/registry-not-allowed", "hardening/image-not-pinned",
		"hardening/cpu-requests", "hardening/cpu-limits", "hardening/memory-requests", "hardening/memory-limits"} {
		if _, ok := p.Rules().Get(id); !ok {
			t.Errorf("rule %s not selected", id)
		}
	}
	if got := p.modeFor("hardening/cpu-limits", "prod"); got != ModeWarn {
		t.Errorf("override by former ID: mode %s, want warn", got)
	}
	if _, ok := p.Rules().Get("cluster/namespace-no-pss-enforce"); ok {
		t.Error("cluster rules must never be selected for admission")
	}
}

func TestModesAndLevels(t *testing.T) {
	path := writePolicy(t, policyHeader+`spec:
  mode: enforce
  podSecurity: {level: baseline}
  rules: [pss-restricted, hardening]
  overrides:
  - rules: [hardening]
    mode: warn
  - namespaces: ["lab-*"]
    mode: audit
  - namespaces: [secure]
    podSecurityLevel: restricted
  - rules: [pss/privileged]
    namespaces: ["lab-*"]
    mode: enforce
`)
	p, err := LoadPolicy(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule, ns string
		want     Mode
	}{
		{"pss/host-ports", "prod", ModeEnforce},
		{"hardening/memory-limits", "prod", ModeWarn},
		{"hardening/memory-limits", "lab-1", ModeAudit},
		{"pss/privileged", "lab-1", ModeEnforce},
		{"pss/host-ports", "lab-1", ModeAudit},
		{"admission/image-signature", "prod", ModeEnforce},
	}
	for _, tt := range tests {
		if got := p.modeFor(tt.rule, tt.ns); got != tt.want {
			t.Errorf("modeFor(%s, %s) = %s, want %s", tt.rule, tt.ns, got, tt.want)
		}
	}
	if p.levelFor("secure") != "restricted" || p.levelFor("prod") != "baseline" {
		t.Errorf("levels: secure %s prod %s", p.levelFor("secure"), p.levelFor("prod"))
	}
	if !exemptBy(p.exemptNS, "kube-system") || !exemptBy(p.exemptNS, DefaultNamespace) {
		t.Errorf("default exempt namespaces %v", p.exemptNS)
	}
}

// FuzzLoadPolicy loads arbitrary policy files: nothing panics, every
// error names the file, and no policy that loads enables break-glass
// without naming the groups that may use it (issue #16). Seeds in
// testdata/fuzz/FuzzLoadPolicy.
func FuzzLoadPolicy(f *testing.F) {
	f.Add([]byte(decidePolicy))
	f.Fuzz(func(t *testing.T, body []byte) {
		path := writePolicy(t, string(body))
		p, err := LoadPolicy(context.Background(), path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			return
		}
		if p.breakGlass && len(p.breakGlassGroup) == 0 {
			t.Fatalf("break-glass enabled for no named group:\n%s", body)
		}
	})
}
