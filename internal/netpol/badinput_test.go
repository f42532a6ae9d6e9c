package netpol

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"

	"github.com/palisade-sec/palisade/internal/workload"
)

const badWorkload = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a, labels: {app: p}}
spec: {containers: [{name: c, image: x}]}
`

// TestBadPolicies: every invalid policy gives one error naming the policy
// and the field at fault; the rest of the input is still analysed.
func TestBadPolicies(t *testing.T) {
	for name, tc := range map[string]struct{ spec, want string }{
		"bad selector":       {"podSelector: {matchExpressions: [{key: app, operator: Within, values: [x]}]}", `networkpolicy a/bad: spec.podSelector: "Within" is not a valid label selector operator`},
		"bad label value":    {"podSelector: {matchLabels: {app: 'a b'}}", "networkpolicy a/bad: spec.podSelector"},
		"port out of range":  {"podSelector: {}\ningress: [{ports: [{port: 70000}]}]", "networkpolicy a/bad: spec.ingress[0]: ports[0].port: 70000 is out of range 1-65535"},
		"port zero":          {"podSelector: {}\ningress: [{ports: [{port: 0}]}]", "ports[0].port: 0 is out of range"},
		"endPort below port": {"podSelector: {}\negress: [{ports: [{port: 90, endPort: 80}]}]", "networkpolicy a/bad: spec.egress[0]: ports[0]: endPort 80 is less than port 90"},
		"endPort named":      {"podSelector: {}\ningress: [{ports: [{port: http, endPort: 80}]}]", "endPort cannot be used with named port"},
		"bad port name":      {"podSelector: {}\ningress: [{ports: [{port: 'no_such-port-name-too-long'}]}]", "ports[0].port"},
		"protocol":           {"podSelector: {}\ningress: [{ports: [{protocol: ICMP, port: 1}]}]", `ports[0].protocol: "ICMP" is not TCP, UDP or SCTP`},
		"cidr":               {"podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.0.0.0/40}}]}]", `networkpolicy a/bad: spec.ingress[0]: from[0]: ipBlock cidr "10.0.0.0/40"`},
		"except outside":     {"podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]", `except "11.0.0.0/16" is not inside cidr "10.0.0.0/8"`},
		"except is the cidr": {"podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/8]}}]}]", `except "10.1.0.0/8" is all of cidr "10.0.0.0/8"`},
		"ipBlock and pods":   {"podSelector: {}\negress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]", "ipBlock cannot be combined"},
		"empty peer":         {"podSelector: {}\ningress: [{from: [{}]}]", "peer has no podSelector, namespaceSelector or ipBlock"},
		"policy type":        {"podSelector: {}\npolicyTypes: [Sideways]", `spec.policyTypes[0]: "Sideways" is neither Ingress nor Egress`},
		"does not decode":    {"podSelector: [app]", `NetworkPolicy "bad": field spec.podSelector`},
		// The API server's field names, as strict validation reads them.
		"misspelt field":     {"podSelector: {}\ningres: [{}]", `networkpolicy a/bad: unknown field "spec.ingres": not a field`},
		"capitalised field":  {"podSelector: {}\nIngress: [{}]", `unknown field "spec.Ingress"`},
		"unknown peer field": {"podSelector: {}\ningress: [{from: [{podSelector: {}, namespace: prod}]}]", `unknown field "spec.ingress[0].from[0].namespace"`},
		"unknown port field": {"podSelector: {}\ningress: [{ports: [{port: 80, end: 90}]}]", `unknown field "spec.ingress[0].ports[0].end"`},
	} {
		t.Run(name, func(t *testing.T) {
			doc := badWorkload + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: a}\nspec:\n  " + strings.ReplaceAll(tc.spec, "\n", "\n  ") + "\n"
			m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, p := range probs {
				if p.Level == "error" {
					msgs = append(msgs, p.Message)
					if p.Line == 0 {
						t.Errorf("problem without a line: %s", p)
					}
				}
			}
			if len(msgs) != 1 || !strings.Contains(msgs[0], tc.want) {
				t.Fatalf("errors = %q, want one containing %q", msgs, tc.want)
			}
			if len(m.Policies) != 0 || len(m.Peers) != 1 {
				t.Errorf("bad policy kept or workload lost: %d policies, %d peers", len(m.Policies), len(m.Peers))
			}
			if _, err := Analyze(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPolicyWarnings(t *testing.T) {
	for name, tc := range map[string]struct{ spec, want string }{
		"overlapping excepts": {"podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.1.2.0/24]}}]}]", `except "10.1.2.0/24" overlaps except "10.1.0.0/16"`},
		"overlapping blocks":  {"podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}, {ipBlock: {cidr: 10.1.0.0/16}}]}]", "overlaps another ipBlock"},
		"ignored rules":       {"podSelector: {}\npolicyTypes: [Egress]\ningress: [{}]", "ingress rules are ignored"},
	} {
		t.Run(name, func(t *testing.T) {
			doc := badWorkload + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: odd, namespace: a}\nspec:\n  " + strings.ReplaceAll(tc.spec, "\n", "\n  ") + "\n"
			m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
			if err != nil {
				t.Fatal(err)
			}
			probs = withoutNotes(probs)
			if len(probs) != 1 || probs[0].Level != "warning" || !strings.Contains(probs[0].Message, "networkpolicy a/odd") || !strings.Contains(probs[0].Message, tc.want) {
				t.Fatalf("problems = %v, want a warning naming a/odd with %q", probs, tc.want)
			}
			if len(m.Policies) != 1 {
				t.Error("policy with warnings left out")
			}
		})
	}
}

// TestPolicyInMissingNamespace: a policy in a namespace the input has no
// other object of exists as the API server would have it: a note, and the
// policy is analysed (here it isolates nothing, but namespaceSelectors of
// other policies see the namespace's name label).
func TestPolicyInMissingNamespace(t *testing.T) {
	doc := badWorkload + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: lost, namespace: ghost}\nspec: {podSelector: {}}\n"
	m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, p := range probs {
		if p.Level != finding.LevelNote {
			t.Errorf("unexpected %s: %s", p.Level, p)
			continue
		}
		notes = append(notes, p.Message)
	}
	if !slices.ContainsFunc(notes, func(s string) bool { return strings.Contains(s, `namespace "ghost" has no Namespace object`) }) {
		t.Errorf("notes = %q, want one about namespace ghost", notes)
	}
	if len(m.Policies) != 1 || m.Namespaces["ghost"] == nil || m.Namespaces["ghost"].Labels[NamespaceNameLabel] != "ghost" {
		t.Errorf("policy or implicit namespace missing: %d policies, namespace %+v", len(m.Policies), m.Namespaces["ghost"])
	}
}

func withoutNotes(probs []finding.Problem) []finding.Problem {
	var out []finding.Problem
	for _, p := range probs {
		if p.Level != finding.LevelNote {
			out = append(out, p)
		}
	}
	return out
}

func TestCompilePolicyNil(t *testing.T) {
	if _, _, err := CompilePolicy(nil); err == nil {
		t.Fatal("nil policy accepted")
	}
	_ = workload.NewInventory()
}
