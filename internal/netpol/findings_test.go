package netpol

import (
	"context"
	"sort"
	"strings"
	"testing"
)

func TestFindings(t *testing.T) {
	doc := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch, namespace: a}
spec:
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
    - from: [{namespaceSelector: {}}]
    - from: [{podSelector: {matchLabels: {app: batch}}}]
      ports: [{port: 80}]
  egress:
    - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: typo, namespace: a}
spec:
  podSelector: {matchLabels: {app: wbe}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: batch-deny-egress, namespace: a}
spec:
  podSelector: {matchLabels: {app: batch}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 443}]
`
	m := loadString(t, doc)
	var got []string
	for _, f := range Findings(m) {
		got = append(got, f.RuleID+" "+f.Object.Namespace+"/"+f.Object.Name)
	}
	sort.Strings(got)
	want := []string{
		"netpol/egress-deny-without-dns a/batch",
		"netpol/egress-to-internet a/web",
		"netpol/exposed-to-all-namespaces a/web",
		"netpol/no-ingress-policy a/batch",
		"netpol/selects-nothing a/typo",
		"netpol/shadowed-rule a/web",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range Findings(m) {
		if f.RuleID == RuleShadowed && !strings.Contains(f.Message, "Ingress rule #2 is shadowed by NetworkPolicy a/web Ingress rule #1") {
			t.Errorf("shadow message: %s", f.Message)
		}
	}
}

func loadString(t *testing.T, doc string) *Model {
	t.Helper()
	m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if p.Level == "error" {
			t.Fatalf("problem: %s", p)
		}
	}
	return m
}

// TestAdminSelectsNothing: an admin policy of any tier whose subject
// matches no workload of the input is reported as selects-nothing (its
// rules decide nothing), naming its subject; one whose subject matches a
// workload is not. Worked out by hand: namespace a is labelled team=a
// and runs web (app=web); the ANP typo-ns selects namespaces team=b (no
// such namespace), the ANP typo-pod pods app=wbe of every namespace, the
// ClusterNetworkPolicy ok namespaces team=a (web).
func TestAdminSelectsNothing(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{name: "AdminNetworkPolicy", doc: `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: typo-ns}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: b}}}
  egress:
    - {name: deny-all, action: Deny, to: [{networks: [0.0.0.0/0]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: typo-pod}
spec:
  priority: 20
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: wbe}}}}
  ingress:
    - {name: deny, action: Deny, from: [{namespaces: {}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ok}
spec:
  priority: 30
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
    - {name: deny, action: Deny, from: [{namespaces: {matchLabels: {team: x}}}]}
`, want: []string{
			`AdminNetworkPolicy typo-ns: its subject (namespaces "team=b") matches no workload of the input: its rules have no effect`,
			`AdminNetworkPolicy typo-pod: its subject (pods "app=wbe" of namespaces "") matches no workload of the input: its rules have no effect`,
		}},
		{name: "BaselineAdminNetworkPolicy", doc: `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {team: b}}}
  ingress:
    - {name: deny, action: Deny, from: [{namespaces: {}}]}
`, want: []string{
			`BaselineAdminNetworkPolicy default: its subject (namespaces "team=b") matches no workload of the input: its rules have no effect`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadString(t, `
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x}]}
---`+tc.doc)
			var got []string
			for _, f := range Findings(m) {
				if f.RuleID == RuleSelectsNothing {
					got = append(got, f.Message)
				}
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("selects-nothing:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
