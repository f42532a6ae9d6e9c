package netpol

import (
	"context"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// undecidedBase: namespace a is declared (team=a); b is named only by its
// workload b/cli, so its labels other than the name are unknown.
const undecidedBase = `apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cli, namespace: b, labels: {app: cli}}
spec: {containers: [{name: c, image: x}]}
`

func netpolDoc(spec string) string {
	return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  " + strings.ReplaceAll(spec, "\n", "\n  ") + "\n"
}

// TestNamespaceLabelsUnknown: a selector whose verdict on an undeclared
// namespace depends on labels the input does not show is an error naming
// the policy, the selector and the namespace; a verdict the name label
// alone decides, or one no workload depends on, is not.
func TestNamespaceLabelsUnknown(t *testing.T) {
	for name, tc := range map[string]struct {
		extra string
		want  string // "" for no error
	}{
		// b/cli may or may not be in a prod namespace.
		"matchLabels on another label": {netpolDoc("podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}}]}]"),
			`NetworkPolicy a/p Ingress rule #1: peer #1 namespaceSelector "env=prod" may or may not select namespace "b"`},
		// NotIn holds for a namespace without the label, not for env=prod.
		"NotIn on another label": {netpolDoc("podSelector: {}\negress: [{to: [{namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}}]}]"),
			`NetworkPolicy a/p Egress rule #1: peer #1 namespaceSelector "env notin (prod)" may or may not select namespace "b"`},
		"DoesNotExist with pods": {netpolDoc("podSelector: {}\ningress: [{from: [{namespaceSelector: {matchExpressions: [{key: env, operator: DoesNotExist}]}, podSelector: {matchLabels: {app: cli}}}]}]"),
			`may or may not select namespace "b"`},
		// The Namespace object decides.
		"namespace declared": {netpolDoc("podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}}]}]") +
			"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n", ""},
		// The name label is known for every namespace.
		"by name":              {netpolDoc("podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]"), ""},
		"name rules it out":    {netpolDoc("podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: c, env: prod}}}]}]"), ""},
		"all namespaces":       {netpolDoc("podSelector: {}\ningress: [{from: [{namespaceSelector: {}}]}]"), ""},
		"pods match none in b": {netpolDoc("podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchLabels: {app: web}}}]}]"), ""},
		"policy selects none":  {netpolDoc("podSelector: {matchLabels: {app: none}}\ningress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}}]}]"), ""},
		// Ingress rules of an Egress-only policy are ignored.
		"rule ignored": {netpolDoc("podSelector: {}\npolicyTypes: [Egress]\ningress: [{from: [{namespaceSelector: {matchLabels: {env: prod}}}]}]"), ""},
		// The admin tiers select namespaces the same way.
		"admin subject": {anp("tenant", 10, "subject: {namespaces: {matchLabels: {tenant: x}}}\negress: [{action: Deny, to: [{namespaces: {}}]}]"),
			`AdminNetworkPolicy tenant: subject namespace selector "tenant=x" may or may not select namespace "b"`},
		"admin peer": {anp("tenant", 10, "subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: a}}}\ningress: [{action: Deny, from: [{pods: {namespaceSelector: {matchLabels: {tenant: x}}, podSelector: {}}}]}]"),
			`AdminNetworkPolicy tenant (priority 10) Ingress rule #1: peer #1 namespace selector "tenant=x" may or may not select namespace "b"`},
		"admin subject none": {anp("tenant", 10, "subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: z}}}\ningress: [{action: Deny, from: [{namespaces: {matchLabels: {tenant: x}}}]}]"), ""},
	} {
		t.Run(name, func(t *testing.T) {
			m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(undecidedBase+tc.extra), "")
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, p := range probs {
				if p.Level == finding.LevelError {
					errs = append(errs, p.Message)
					if p.Line == 0 {
						t.Errorf("problem without a line: %s", p)
					}
				}
			}
			switch {
			case tc.want == "" && len(errs) != 0:
				t.Fatalf("errors %q, want none", errs)
			case tc.want != "" && (len(errs) != 1 || !strings.Contains(errs[0], tc.want)):
				t.Fatalf("errors %q, want one containing %q", errs, tc.want)
			}
			// The analysis still runs on the assumption the error names.
			if _, err := Analyze(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		})
	}
}
