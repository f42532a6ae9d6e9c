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
