package netpol

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

func cnp(name, tier string, priority int, spec string) string {
	return "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n  tier: " + tier + "\n  priority: " + strconv.Itoa(priority) + "\n  " + strings.ReplaceAll(spec, "\n", "\n  ") + "\n"
}

const (
	npWebFromDB = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: a}\nspec: {podSelector: {matchLabels: {app: web}}, ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]}\n"
	allNS       = "{namespaces: {}}"
)

// TestClusterNetworkPolicyTiers checks the precedence of the v1alpha2
// API, case by case: the Admin tier before NetworkPolicies, the Baseline
// tier after them, priorities, and Pass in either tier.
func TestClusterNetworkPolicyTiers(t *testing.T) {
	const all = "All Connections"
	everyPair := []string{"a/db[Pod] => a/web[Pod] : " + all, "a/db[Pod] => b/api[Pod] : " + all, "a/web[Pod] => a/db[Pod] : " + all,
		"a/web[Pod] => b/api[Pod] : " + all, "b/api[Pod] => a/db[Pod] : " + all, "b/api[Pod] => a/web[Pod] : " + all}
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(everyPair), func(l string) bool { return slices.Contains(drop, l) })
	}
	for name, tc := range map[string]struct {
		policies string
		want     []string
	}{
		"admin deny beats a NetworkPolicy's allow": {
			cnp("no-db-to-web", "Admin", 10, "subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}\ningress: [{action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}]}]") + npWebFromDB,
			without("a/db[Pod] => a/web[Pod] : "+all, "b/api[Pod] => a/web[Pod] : "+all),
		},
		"admin accept beats a NetworkPolicy's isolation": {
			cnp("api-to-web", "Admin", 10, "subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}\ningress: [{action: Accept, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}}], protocols: [{tcp: {destinationPort: {number: 8080}}}]}]") + npWebFromDB,
			append(without("b/api[Pod] => a/web[Pod] : "+all), "b/api[Pod] => a/web[Pod] : TCP 8080"),
		},
		"admin pass falls to the NetworkPolicy, skipping later admin rules": {
			cnp("guard", "Admin", 10, "subject: "+allNS+"\ningress:\n- {name: pass-web, action: Pass, from: [{namespaces: {}}], protocols: [{destinationNamedPort: http}]}\n- {name: deny, action: Deny, from: [{namespaces: {}}]}") + npWebFromDB,
			[]string{"a/db[Pod] => a/web[Pod] : TCP 8080"},
		},
		"lower priority value first": {
			cnp("deny-all", "Admin", 50, "subject: "+allNS+"\ningress: [{action: Deny, from: ["+allNS+"]}]") +
				cnp("accept-udp", "Admin", 5, "subject: "+allNS+"\ningress: [{action: Accept, from: ["+allNS+"], protocols: [{udp: {destinationPort: {range: {start: 50, end: 60}}}}]}]"),
			[]string{"a/db[Pod] => a/web[Pod] : UDP 50-60", "a/db[Pod] => b/api[Pod] : UDP 50-60", "a/web[Pod] => a/db[Pod] : UDP 50-60",
				"a/web[Pod] => b/api[Pod] : UDP 50-60", "b/api[Pod] => a/db[Pod] : UDP 50-60", "b/api[Pod] => a/web[Pod] : UDP 50-60"},
		},
		"baseline applies when no NetworkPolicy selects the pod": {
			cnp("isolate", "Baseline", 1, "subject: "+allNS+"\ningress: [{action: Deny, from: ["+allNS+"]}]") + npWebFromDB,
			[]string{"a/db[Pod] => a/web[Pod] : " + all},
		},
		"baseline priorities, and a baseline pass is allowed by default": {
			cnp("deny-b", "Baseline", 20, "subject: "+allNS+"\negress: [{action: Deny, to: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]") +
				cnp("pass-web", "Baseline", 10, "subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}\negress: [{action: Pass, to: ["+allNS+"]}]"),
			without("a/db[Pod] => b/api[Pod] : " + all),
		},
		"an admin pass reaches the baseline when no NetworkPolicy selects": {
			cnp("pass", "Admin", 1, "subject: "+allNS+"\ningress: [{action: Pass, from: ["+allNS+"]}]") +
				cnp("deny", "Baseline", 1, "subject: "+allNS+"\ningress: [{action: Deny, from: ["+allNS+"]}]"),
			nil,
		},
		"the admin tier decides before the baseline": {
			cnp("accept-api", "Admin", 900, "subject: "+allNS+"\ningress: [{action: Accept, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]") +
				cnp("deny", "Baseline", 0, "subject: "+allNS+"\ningress: [{action: Deny, from: ["+allNS+"]}]"),
			[]string{"b/api[Pod] => a/db[Pod] : " + all, "b/api[Pod] => a/web[Pod] : " + all},
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

const nodes = `---
apiVersion: v1
kind: Node
metadata: {name: cp, labels: {node-role.kubernetes.io/control-plane: ""}}
status: {addresses: [{type: InternalIP, address: 192.0.2.10}, {type: Hostname, address: cp}]}
---
apiVersion: v1
kind: Node
metadata: {name: w1}
status: {addresses: [{type: InternalIP, address: 192.0.2.11}]}
`

// externalLines analyses doc and returns the lines from a/web to
// external ranges, with the problems at warning level or above.
func externalLines(t *testing.T, doc string) (lines, warnings []string) {
	t.Helper()
	m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if p.Level != finding.LevelNote {
			warnings = append(warnings, string(p.Level)+": "+p.Message)
		}
	}
	c, err := Analyze(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Lines() {
		if strings.HasPrefix(l, "a/web[Pod] => ") && strings.Contains(l, "[External]") {
			lines = append(lines, l)
		}
	}
	return lines, warnings
}

// TestNodesAndDomainPeers: nodes peers are judged against Node objects'
// addresses when the input has them; otherwise, and for domain names,
// the connections to external addresses the rule could change are
// unknown, never allowed or denied.
func TestNodesAndDomainPeers(t *testing.T) {
	denyCP := cnp("no-control-plane", "Admin", 1, "subject: "+allNS+"\negress: [{action: Deny, to: [{nodes: {matchExpressions: [{key: node-role.kubernetes.io/control-plane, operator: Exists}]}}], protocols: [{tcp: {destinationPort: {number: 6443}}}]}]")
	allowlist := cnp("allowlist", "Admin", 1, "subject: "+allNS+"\negress:\n- {action: Accept, to: [{domainNames: [\"*.example.com\"]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}\n- {action: Deny, to: [{networks: [0.0.0.0/0]}]}")
	const rest = "SCTP 1-65535,TCP 1-6442,6444-65535,UDP 1-65535"
	for name, tc := range map[string]struct {
		doc      string
		want     []string
		warnings []string
	}{
		"nodes known": {
			adminBase + nodes + denyCP,
			[]string{"a/web[Pod] => 0.0.0.0-192.0.2.9[External] : All Connections",
				"a/web[Pod] => 192.0.2.10-192.0.2.10[External] : " + rest,
				"a/web[Pod] => 192.0.2.11-255.255.255.255[External] : All Connections"},
			nil,
		},
		"nodes unknown": {
			adminBase + denyCP,
			[]string{"a/web[Pod] => 0.0.0.0-255.255.255.255[External] : " + rest + " (unknown: TCP 6443)"},
			[]string{"warning: ClusterNetworkPolicy no-control-plane (Admin tier, priority 1) Egress rule #1: cannot judge: nodes peer needs node addresses"},
		},
		"domain names": {
			adminBase + allowlist,
			// Pods are denied by 0.0.0.0/0; any external address may be
			// one of *.example.com's.
			[]string{"a/web[Pod] => 0.0.0.0-255.255.255.255[External] : No Connections (unknown: TCP 443)"},
			[]string{"warning: ClusterNetworkPolicy allowlist (Admin tier, priority 1) Egress rule #1: domain names resolve at run time"},
		},
		"domain names that change nothing": {
			adminBase + cnp("redundant", "Admin", 1, "subject: "+allNS+"\negress: [{action: Accept, to: [{domainNames: [example.com]}]}]"),
			[]string{"a/web[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections"},
			[]string{"warning: ClusterNetworkPolicy redundant (Admin tier, priority 1) Egress rule #1: domain names resolve at run time"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, warnings := externalLines(t, tc.doc)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if len(warnings) != len(tc.warnings) {
				t.Fatalf("problems %q, want %q", warnings, tc.warnings)
			}
			for i, w := range tc.warnings {
				if !strings.HasPrefix(warnings[i], w) {
					t.Errorf("problem %q, want %q", warnings[i], w)
				}
			}
		})
	}
}

// TestUnknownExplained: the explanation of an unknown connection says
// which rule makes it so, and Allowed never holds it.
func TestUnknownExplained(t *testing.T) {
	doc := adminBase + cnp("allowlist", "Admin", 1, "subject: "+allNS+"\negress:\n- {action: Accept, to: [{domainNames: [api.example.com]}]}\n- {action: Deny, to: [{networks: [0.0.0.0/0]}]}")
	m, _, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	web, _ := m.Peer("a/web")
	e := m.Explain(Endpoint{Peer: web}, AddressEndpoint(mustAddr(t, "198.51.100.7")))
	if !e.Allowed.IsEmpty() || !e.Unknown.IsAll() {
		t.Fatalf("allowed %s, unknown %s", e.Allowed, e.Unknown)
	}
	if len(e.Egress) == 0 || !strings.Contains(e.Egress[0], "may Accept All Connections: domain names api.example.com resolve at run time") {
		t.Errorf("egress reasons %q", e.Egress)
	}
}

// TestBothAdminVersions: v1alpha1 and v1alpha2 admin policies together
// are an error naming them; the v1alpha1 ones are left out.
func TestBothAdminVersions(t *testing.T) {
	doc := adminBase + anp("old", 1, "subject: "+allNS+"\ningress: [{action: Deny, from: ["+allNS+"]}]") +
		cnp("new", "Admin", 1, "subject: "+allNS+"\ningress: [{action: Accept, from: ["+allNS+"]}]")
	m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, p := range probs {
		if p.Level == finding.LevelError {
			errs = append(errs, p.Message)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "AdminNetworkPolicy old and 0 other v1alpha1 admin policies beside 1 ClusterNetworkPolicies") {
		t.Fatalf("errors %q", errs)
	}
	if len(m.Admin) != 1 || m.Admin[0].Kind != KindClusterNetworkPolicy {
		t.Errorf("admin tier %v", m.Admin)
	}
}

// TestBadClusterNetworkPolicies: each invalid ClusterNetworkPolicy is one
// error naming it and the field at fault; it is left out.
func TestBadClusterNetworkPolicies(t *testing.T) {
	sub := "subject: " + allNS + "\n"
	for name, tc := range map[string]struct{ doc, want string }{
		"tier":               {cnp("x", "Developer", 1, sub), `ClusterNetworkPolicy x: spec.tier: "Developer" is not Admin or Baseline`},
		"no priority":        {strings.Replace(cnp("x", "Admin", 1, sub), "  priority: 1\n", "", 1), "ClusterNetworkPolicy x: spec.priority is required"},
		"priority range":     {cnp("x", "Admin", 1001, sub), "spec.priority: 1001 is out of range 0-1000"},
		"v1alpha1 action":    {cnp("x", "Admin", 1, sub+"ingress: [{action: Allow, from: ["+allNS+"]}]"), `spec.ingress[0]: action: "Allow" is not Accept, Deny or Pass`},
		"unknown peer kind":  {cnp("x", "Admin", 1, sub+"egress: [{action: Deny, to: [{serviceAccounts: {}}]}]"), `ClusterNetworkPolicy x: unknown field "spec.egress[0].to[0].serviceAccounts"`},
		"empty peer":         {cnp("x", "Admin", 1, sub+"egress: [{action: Deny, to: [{}]}]"), "spec.egress[0]: to[0]: exactly one of namespaces, pods, networks, nodes and domainNames"},
		"v1alpha1 ports":     {cnp("x", "Admin", 1, sub+"egress: [{action: Deny, to: ["+allNS+"], ports: [{portNumber: {port: 80}}]}]"), `unknown field "spec.egress[0].ports"`},
		"unknown field":      {cnp("x", "Admin", 1, sub+"applyTo: all"), `unknown field "spec.applyTo"`},
		"capitalised field":  {cnp("x", "Admin", 1, sub+"Ingress: [{action: Deny, from: ["+allNS+"]}]"), `unknown field "spec.Ingress"`},
		"two protocols":      {cnp("x", "Admin", 1, sub+"egress: [{action: Deny, to: ["+allNS+"], protocols: [{tcp: {destinationPort: {number: 80}}, udp: {destinationPort: {number: 53}}}]}]"), "spec.egress[0]: protocols[0]: exactly one of tcp, udp, sctp and destinationNamedPort"},
		"no port":            {cnp("x", "Admin", 1, sub+"egress: [{action: Deny, to: ["+allNS+"], protocols: [{tcp: {}}]}]"), "protocols[0]: tcp.destinationPort is required"},
		"range backwards":    {cnp("x", "Admin", 1, sub+"egress: [{action: Deny, to: ["+allNS+"], protocols: [{sctp: {destinationPort: {range: {start: 9, end: 9}}}}]}]"), "sctp.destinationPort.range: start 9 must be less than end 9"},
		"named to networks":  {cnp("x", "Admin", 1, sub+"egress: [{action: Deny, to: [{networks: [10.0.0.0/8]}], protocols: [{destinationNamedPort: http}]}]"), "destinationNamedPort cannot be used with networks, nodes or domainNames peers"},
		"domains in deny":    {cnp("x", "Baseline", 1, sub+"egress: [{action: Deny, to: [{domainNames: [example.com]}]}]"), "to[0].domainNames: only Accept rules may name domains, not Deny"},
		"bad domain":         {cnp("x", "Admin", 1, sub+"egress: [{action: Accept, to: [{domainNames: [\"ex*ample.com\"]}]}]"), `to[0].domainNames[0]: "ex*ample.com": label "ex*ample" is not valid`},
		"nodes in ingress":   {cnp("x", "Admin", 1, sub+"ingress: [{action: Deny, from: [{nodes: {}}]}]"), "from[0]: nodes are egress peers only"},
		"too many rules":     {cnp("x", "Admin", 1, sub+"egress: ["+strings.Repeat("{action: Deny, to: ["+allNS+"]},", 26)+"]"), "spec.egress: 26 rules, at most 25 allowed"},
		"other version":      {strings.Replace(cnp("x", "Admin", 1, sub), "v1alpha2", "v1beta1", 1), `apiVersion "policy.networking.k8s.io/v1beta1" is not policy.networking.k8s.io/v1alpha2`},
		"two subject fields": {cnp("x", "Admin", 1, "subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}"), "spec.subject: exactly one of namespaces and pods"},
	} {
		t.Run(name, func(t *testing.T) {
			m, probs, err := Load(context.Background(), []string{"-"}, strings.NewReader(adminBase+tc.doc), "")
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
			if len(m.Admin) != 0 || len(m.Baselines) != 0 || len(m.Peers) != 3 {
				t.Errorf("bad policy kept or pods lost: %d admin, %d baseline, %d peers", len(m.Admin), len(m.Baselines), len(m.Peers))
			}
		})
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestUnknownInDiffAndJSON: a connection that turns unknown is a change
// in netpol diff, and JSON output carries the unknown connections apart.
func TestUnknownInDiffAndJSON(t *testing.T) {
	analyse := func(doc string) *Connectivity {
		m, _, err := Load(context.Background(), []string{"-"}, strings.NewReader(doc), "")
		if err != nil {
			t.Fatal(err)
		}
		c, err := Analyze(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	deny := cnp("deny", "Admin", 2, "subject: "+allNS+"\negress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]")
	names := cnp("names", "Admin", 1, "subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}\negress: [{action: Accept, to: [{domainNames: [example.com]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}]")
	old, new := analyse(adminBase+deny), analyse(adminBase+deny+names)
	var got []string
	for _, ch := range Diff(old, new) {
		got = append(got, ch.String())
	}
	want := []string{"added: a/web[Pod] => 0.0.0.0-255.255.255.255[External] : No Connections (unknown: TCP 443)"}
	if !slices.Equal(got, want) {
		t.Errorf("diff %q, want %q", got, want)
	}
	var b strings.Builder
	if err := Write(&b, FormatJSON, new); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"conn": "No Connections",
    "unknown": "TCP 443"`) {
		t.Errorf("JSON:\n%s", b.String())
	}
}
