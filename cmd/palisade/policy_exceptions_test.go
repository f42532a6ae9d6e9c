package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyExceptionRules: a policy exception whose rule ID is a typo
// is an input error (exit 2) naming the policy file, its line and the ID,
// as --rules refuses a typo; before, the exception was accepted and
// exempted nothing. An exception for rules the scan does not run is a
// warning naming the file and line, and the exit code stays the
// findings'.
func TestPolicyExceptionRules(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  containers:\n  - {name: c, image: nginx}\n"
	dir := t.TempDir()
	write := func(name, exceptions string) string {
		file := filepath.Join(dir, name)
		doc := "apiVersion: palisade.io/v1alpha1\nkind: Policy\nmetadata: {name: t}\nspec:\n  exceptions:\n" + exceptions
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	typo := write("typo.yaml", "  - rules: [hardening/latest-tag]\n    reason: ok\n  - rules: [hardening/latest-tags]\n    reason: typo\n")
	_, stderr, code := palisade(t, pod, "scan", "config", "-", "--policy", typo)
	if code != exitError || !strings.Contains(stderr, typo+":8") || !strings.Contains(stderr, `"hardening/latest-tags"`) {
		t.Errorf("typo: exit %d, stderr %q; want %d naming %s:8 and the rule", code, stderr, exitError, typo)
	}

	idle := write("idle.yaml", "  - rules: [hardening/latest-tag]\n    reason: not selected\n")
	out, stderr, code := palisade(t, pod, "scan", "config", "-", "--policy", idle, "--rules", "pss-baseline", "--ci", "off")
	if code != exitClean || !strings.Contains(out+stderr, idle+":6: spec.exceptions[0] (rules hardening/latest-tag) matches no rule this scan runs") {
		t.Errorf("idle: exit %d, want %d and a warning naming %s:6; out %q stderr %q", code, exitClean, idle, out, stderr)
	}
}
