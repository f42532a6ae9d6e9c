package netpol

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// adminBase has two namespaces: a/web, a/db and b/api.
const adminBase = `apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: a, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: b, labels: {app: api}}
spec: {containers: [{name: c, image: x}]}
`

func anp(name string, priority int, spec string) string {
	return "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n  priority: " + strconv.Itoa(priority) + "\n  " + strings.ReplaceAll(spec, "\n", "\n  ") + "\n"
}

func banp(spec string) string {
	return "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  " + strings.ReplaceAll(spec, "\n", "\n  ") + "\n"
}

// podLines are the analysis lines between pods, without external ones.
func podLines(t *testing.T, doc string) []string {
	t.Helper()
	m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if p.Level != finding.LevelNote {
			t.Fatalf("problem: %s", p)
		}
	}
	c, err := Analyze(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range c.Lines() {
		if !strings.Contains(l, "[External]") {
			out = append(out, l)
		}
	}
	return out
}

// TestAdminTiers checks the precedence the network-policy-api
// specification defines, case by case.
func TestAdminTiers(t *testing.T) {
	const all = "All Connections"
	for name, tc := range map[string]struct {
		policies string
		want     []string
	}{
		"deny from other namespaces": {
			anp("deny-b", 5, "subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: a}}}\ningress: [{action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]"),
			[]string{"a/db[Pod] => a/web[Pod] : " + all, "a/db[Pod] => b/api[Pod] : " + all, "a/web[Pod] => a/db[Pod] : " + all, "a/web[Pod] => b/api[Pod] : " + all},
		},
		"lower priority value first: allow beats a later deny": {
			anp("deny-all", 50, "subject: {namespaces: {}}\ningress: [{action: Deny, from: [{namespaces: {}}]}]") +
				anp("allow-http", 10, "subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}\ningress: [{action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}}], ports: [{namedPort: http}]}]"),
			[]string{"b/api[Pod] => a/web[Pod] : TCP 8080"},
		},
		"pass hands over to NetworkPolicies, skipping later admin rules": {
			anp("guard", 10, "subject: {namespaces: {}}\negress:\n- {name: pass-dns, action: Pass, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}], ports: [{namedPort: dns}]}\n- {name: deny, action: Deny, to: [{namespaces: {}}]}") +
				"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: a}\nspec: {podSelector: {matchLabels: {app: web}}, ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]}\n",
			// web's ingress NetworkPolicy admits only db: api's passed UDP 53 is refused there.
			[]string{"a/db[Pod] => a/web[Pod] : UDP 53"},
		},
		"baseline applies only where no NetworkPolicy isolates": {
			banp("subject: {namespaces: {}}\ningress: [{action: Deny, from: [{namespaces: {}}]}]") +
				"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: a}\nspec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{namespaceSelector: {}}], ports: [{port: 5432}]}]}\n",
			[]string{"a/web[Pod] => a/db[Pod] : TCP 5432", "b/api[Pod] => a/db[Pod] : TCP 5432"},
		},
		"baseline first match, then allowed by default": {
			banp("subject: {namespaces: {}}\ningress:\n- {action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}}], ports: [{portRange: {start: 8000, end: 8999}}]}\n- {action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}]}"),
			[]string{"a/db[Pod] => a/web[Pod] : " + all, "a/web[Pod] => a/db[Pod] : " + all, "b/api[Pod] => a/db[Pod] : TCP 8000-8999", "b/api[Pod] => a/web[Pod] : TCP 8000-8999", "a/db[Pod] => b/api[Pod] : " + all, "a/web[Pod] => b/api[Pod] : " + all},
		},
		"networks of the whole address space match pods too": {
			anp("no-egress", 1, "subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}\negress: [{action: Deny, to: [{networks: [0.0.0.0/0]}], ports: [{portNumber: {protocol: TCP, port: 8080}}]}]"),
			[]string{"a/db[Pod] => a/web[Pod] : SCTP 1-65535,TCP 1-8079,8081-65535,UDP 1-65535", "a/db[Pod] => b/api[Pod] : SCTP 1-65535,TCP 1-8079,8081-65535,UDP 1-65535", "a/web[Pod] => a/db[Pod] : " + all, "a/web[Pod] => b/api[Pod] : " + all, "b/api[Pod] => a/db[Pod] : " + all, "b/api[Pod] => a/web[Pod] : " + all},
		},
		"other networks never match pods": {
			anp("no-egress", 1, "subject: {namespaces: {}}\negress: [{action: Deny, to: [{networks: [10.0.0.0/8]}]}]"),
			[]string{"a/db[Pod] => a/web[Pod] : " + all, "a/db[Pod] => b/api[Pod] : " + all, "a/web[Pod] => a/db[Pod] : " + all, "a/web[Pod] => b/api[Pod] : " + all, "b/api[Pod] => a/db[Pod] : " + all, "b/api[Pod] => a/web[Pod] : " + all},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := podLines(t, adminBase+tc.policies)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestAdminExternal: admin egress networks cut external destinations;
// admin ingress rules never match external sources.
func TestAdminExternal(t *testing.T) {
	doc := adminBase + anp("egress", 1, "subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}\ningress: [{action: Deny, from: [{namespaces: {}}]}]\negress: [{action: Deny, to: [{networks: [203.0.113.0/24]}], ports: [{portNumber: {protocol: TCP, port: 443}}]}]")
	m, _, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Analyze(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	lines := c.Lines()
	for _, want := range []string{
		"0.0.0.0-255.255.255.255[External] => b/api[Pod] : All Connections",
		"b/api[Pod] => 203.0.113.0-203.0.113.255[External] : SCTP 1-65535,TCP 1-442,444-65535,UDP 1-65535",
		"b/api[Pod] => 203.0.114.0-255.255.255.255[External] : All Connections",
		"a/web[Pod] => 203.0.113.0-203.0.113.255[External] : All Connections",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("missing %q in\n%s", want, strings.Join(lines, "\n"))
		}
	}
	api, _ := m.Peer("b/api")
	web, _ := m.Peer("a/web")
	e := m.Explain(Endpoint{Peer: web}, Endpoint{Peer: api})
	if !e.Allowed.IsEmpty() || len(e.Ingress) == 0 || !strings.Contains(e.Ingress[0], `AdminNetworkPolicy egress (priority 1) Ingress rule #1: Deny All Connections`) {
		t.Errorf("explanation: allowed %s, ingress %q", e.Allowed, e.Ingress)
	}
}

// TestBadAdminPolicies: each invalid admin policy is one error naming it
// and the field at fault; the policy is left out and the rest analysed.
func TestBadAdminPolicies(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"no priority":          {"---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: x}\nspec: {subject: {namespaces: {}}}\n", "AdminNetworkPolicy x: spec.priority is required"},
		"priority range":       {anp("x", 999, "subject: {namespaces: {}}"), ""},
		"two subjects":         {anp("x", 1, "subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}"), "AdminNetworkPolicy x: spec.subject: exactly one of namespaces and pods"},
		"action":               {anp("x", 1, "subject: {namespaces: {}}\ningress: [{action: Reject, from: [{namespaces: {}}]}]"), `spec.ingress[0]: action: "Reject" is not Allow, Deny or Pass`},
		"pass in baseline":     {banp("subject: {namespaces: {}}\ningress: [{action: Pass, from: [{namespaces: {}}]}]"), `BaselineAdminNetworkPolicy default: spec.ingress[0]: action: "Pass" is not allowed`},
		"baseline name":        {strings.Replace(banp("subject: {namespaces: {}}"), "name: default", "name: mine", 1), `BaselineAdminNetworkPolicy mine: metadata.name must be "default"`},
		"no peers":             {anp("x", 1, "subject: {namespaces: {}}\negress: [{action: Deny, to: []}]"), "spec.egress[0]: to: needs 1 to 100 peers, has 0"},
		"networks in ingress":  {anp("x", 1, "subject: {namespaces: {}}\ningress: [{action: Deny, from: [{networks: [10.0.0.0/8]}]}]"), "networks are egress peers only"},
		"nodes in ingress":     {anp("x", 1, "subject: {namespaces: {}}\ningress: [{action: Deny, from: [{nodes: {}}]}]"), "spec.ingress[0]: from[0]: nodes are egress peers only"},
		"domain names deny":    {anp("x", 1, "subject: {namespaces: {}}\negress: [{action: Deny, to: [{domainNames: [example.com]}]}]"), "spec.egress[0]: to[0].domainNames: only Allow rules may name domains, not Deny"},
		"cluster domain":       {anp("x", 1, "subject: {namespaces: {}}\negress: [{action: Allow, to: [{domainNames: [db.a.svc.cluster.local]}]}]"), "spec.egress[0]: to[0].domainNames[0]: \"db.a.svc.cluster.local\" names the cluster's own DNS"},
		"two peer fields":      {anp("x", 1, "subject: {namespaces: {}}\negress: [{action: Deny, to: [{namespaces: {}, networks: [10.0.0.0/8]}]}]"), "to[0]: exactly one of"},
		"bad cidr":             {anp("x", 1, "subject: {namespaces: {}}\negress: [{action: Deny, to: [{networks: [10.0.0.0/33]}]}]"), "to[0].networks[0]"},
		"port range backwards": {anp("x", 1, "subject: {namespaces: {}}\negress: [{action: Deny, to: [{namespaces: {}}], ports: [{portRange: {start: 90, end: 80}}]}]"), "ports[0]: portRange: start 90 must be less than end 80"},
		"two port fields":      {anp("x", 1, "subject: {namespaces: {}}\negress: [{action: Deny, to: [{namespaces: {}}], ports: [{namedPort: http, portNumber: {port: 80}}]}]"), "ports[0]: exactly one of portNumber, portRange and namedPort"},
		"protocol":             {anp("x", 1, "subject: {namespaces: {}}\negress: [{action: Deny, to: [{namespaces: {}}], ports: [{portNumber: {protocol: ICMP, port: 1}}]}]"), `ports[0]: protocol: "ICMP" is not TCP, UDP or SCTP`},
		"unknown field":        {anp("x", 1, "subject: {namespaces: {}}\ntier: Admin"), `AdminNetworkPolicy x: unknown field "spec.tier"`},
		// Field names are case-sensitive, as the API server reads them.
		"capitalised field": {anp("x", 1, "subject: {namespaces: {}}\ningress: [{Action: Deny, from: [{namespaces: {}}]}]"), `AdminNetworkPolicy x: unknown field "spec.ingress[0].Action"`},
		"bad selector":      {anp("x", 1, "subject: {namespaces: {matchExpressions: [{key: a, operator: Within}]}}"), "AdminNetworkPolicy x: spec.subject"},
	} {
		t.Run(name, func(t *testing.T) {
			doc := strings.Replace(tc.doc, "priority: 999", "priority: 1001", 1)
			if tc.want == "" {
				tc.want = "spec.priority: 1001 is out of range 0-1000"
			}
			m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(adminBase+doc), "")
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, p := range probs {
				if p.Level == finding.LevelError {
					errs = append(errs, p.Message)
					if p.Line == 0 {
						t.Errorf("error without a line: %s", p)
					}
				}
			}
			if len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
				t.Fatalf("errors %q, want one containing %q", errs, tc.want)
			}
			if len(m.Admin) != 0 || m.Baseline != nil || len(m.Peers) != 3 {
				t.Errorf("bad policy kept or pods lost: %d admin, baseline %v, %d peers", len(m.Admin), m.Baseline, len(m.Peers))
			}
		})
	}
}
