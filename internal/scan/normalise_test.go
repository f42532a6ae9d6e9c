package scan_test

import (
	"slices"
	"strings"
	"testing"
)

// TestConfigReadsAsTheAPIServer scans a Pod whose container's security
// context is written in ways the API server reads differently from a
// naive YAML or JSON reader, and checks pss/privileged is found exactly
// when the cluster would run the container privileged.
func TestConfigReadsAsTheAPIServer(t *testing.T) {
	for _, tt := range []struct {
		name, sc   string
		privileged bool
	}{
		{"plain true", `{privileged: true}`, true},
		{"YAML 1.1 yes", `{privileged: yes}`, true},
		{"YAML 1.1 On", `{privileged: On}`, true},
		{"YAML 1.1 off", `{privileged: off}`, false},
		{"folded name after the real one", `{privileged: true, Privileged: false}`, true},
		{"folded name alone is an unknown field", `{Privileged: true}`, false},
		{"JSON, folded name after the real one", `{"privileged": true, "PRIVILEGED": false}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - name: c\n    image: nginx:1\n    securityContext: " + tt.sc + "\n"
			r, dir := scanFiles(t, map[string]string{"pod.yaml": doc}, "pss/privileged")
			if errs := errorsOf(r); len(errs) > 0 {
				t.Fatalf("input errors: %v", errs)
			}
			got := slices.ContainsFunc(findingsOf(r, dir), func(f string) bool { return strings.HasPrefix(f, "pss/privileged ") })
			if got != tt.privileged {
				t.Errorf("pss/privileged found: %v, the API server runs it privileged: %v (findings %v)", got, tt.privileged, findingsOf(r, dir))
			}
		})
	}
}
