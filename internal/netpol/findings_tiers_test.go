package netpol

import (
	"slices"
	"strings"
	"testing"
)

// TestFindingsWithAdminTiers: each finding rule judged through the admin
// tiers, a v1alpha1 (AdminNetworkPolicy/BaselineAdminNetworkPolicy) and a
// v1alpha2 (ClusterNetworkPolicy) twin of each case, beside the
// NetworkPolicy-only verdict it changes.
func TestFindingsWithAdminTiers(t *testing.T) {
	const pods = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: b, labels: {app: api}}
spec: {containers: [{name: c, image: x}]}
`
	const (
		subjA     = "subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: a}}}\n"
		denyAllV1 = "egress: [{action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}]"
		dnsToB    = "{namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}"
		// npEgressDNS isolates web for egress, allowing only port 53.
		npEgressDNS = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: dns, namespace: a}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 53, protocol: UDP}]}]}\n"
	)
	noPolicies := []string{
		"netpol/no-egress-policy Pod a/web", "netpol/no-egress-policy Pod b/api",
		"netpol/no-ingress-policy Pod a/web", "netpol/no-ingress-policy Pod b/api",
	}
	for name, tc := range map[string]struct {
		policies string
		want     []string
		// msg is a substring of the finding of rule (on web, or on the policy).
		rule, msg string
	}{
		"no policies": {"", noPolicies, RuleNoEgress, "a/web[Pod]: no NetworkPolicy selects it for Egress; it may connect anywhere"},
		"v1alpha1 admin deny isolates for egress": {
			anp("iso", 10, subjA+denyAllV1),
			[]string{"netpol/egress-deny-without-dns Pod a/web", "netpol/no-egress-policy Pod b/api", "netpol/no-ingress-policy Pod a/web", "netpol/no-ingress-policy Pod b/api"},
			RuleEgressDenyNoDNS, "a/web[Pod] is isolated for egress by the rules of AdminNetworkPolicy iso and may not reach port 53",
		},
		"v1alpha2 baseline deny isolates for egress": {
			cnp("iso", "Baseline", 10, subjA+"egress: [{action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}]"),
			[]string{"netpol/egress-deny-without-dns Pod a/web", "netpol/no-egress-policy Pod b/api", "netpol/no-ingress-policy Pod a/web", "netpol/no-ingress-policy Pod b/api"},
			RuleEgressDenyNoDNS, "isolated for egress by the rules of ClusterNetworkPolicy iso",
		},
		"v1alpha1 baseline deny of IPv4 only leaves IPv6 open": {
			banp(subjA + "egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]"),
			noPolicies,
			RuleNoEgress, "under the rules of BaselineAdminNetworkPolicy default the default still lets it reach ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff[External] (All Connections)",
		},
		"v1alpha2 admin deny of pods only leaves the internet open": {
			cnp("pods", "Admin", 10, subjA+"egress: [{action: Deny, to: [{namespaces: {}}]}]"),
			noPolicies,
			RuleNoEgress, "under the rules of ClusterNetworkPolicy pods the default still lets it reach 0.0.0.0-255.255.255.255[External] (All Connections)",
		},
		"v1alpha2 pass to nodes without Node objects: isolation unknown": {
			cnp("nodes", "Admin", 10, subjA+"egress:\n- {action: Pass, to: [{nodes: {}}]}\n- {action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}"),
			noPolicies,
			RuleNoEgress, "whether the rules of ClusterNetworkPolicy nodes isolate it is unknown",
		},
		"v1alpha1 admin allow of DNS under an isolating deny": {
			anp("iso", 10, subjA+"egress:\n- {action: Allow, to: ["+dnsToB+"], ports: [{portNumber: {protocol: UDP, port: 53}}]}\n- {action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}"),
			[]string{"netpol/no-egress-policy Pod b/api", "netpol/no-ingress-policy Pod a/web", "netpol/no-ingress-policy Pod b/api"},
			"", "",
		},
		"v1alpha2 admin accept of DNS under an isolating deny": {
			cnp("iso", "Admin", 10, subjA+"egress:\n- {action: Accept, to: ["+dnsToB+"], protocols: [{udp: {destinationPort: {number: 53}}}]}\n- {action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}"),
			[]string{"netpol/no-egress-policy Pod b/api", "netpol/no-ingress-policy Pod a/web", "netpol/no-ingress-policy Pod b/api"},
			"", "",
		},
		"v1alpha1 pass to nodes without Node objects: isolation unknown": {
			anp("nodes", 10, subjA+"egress:\n- {action: Pass, to: [{nodes: {}}]}\n- {action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}"),
			noPolicies,
			RuleNoEgress, "whether the rules of AdminNetworkPolicy nodes isolate it is unknown",
		},
		"NetworkPolicy allows DNS only": {
			npEgressDNS,
			[]string{"netpol/egress-to-internet NetworkPolicy a/dns", "netpol/no-egress-policy Pod b/api", "netpol/no-ingress-policy Pod a/web", "netpol/no-ingress-policy Pod b/api"},
			"", "",
		},
		"v1alpha1 admin deny of DNS beats the NetworkPolicy's allow": {
			npEgressDNS + anp("nodns", 10, subjA+"egress: [{action: Deny, to: ["+dnsToB+", {networks: [0.0.0.0/0]}], ports: [{portNumber: {protocol: UDP, port: 53}}]}]"),
			[]string{"netpol/egress-deny-without-dns Pod a/web", "netpol/egress-to-internet NetworkPolicy a/dns", "netpol/no-egress-policy Pod b/api", "netpol/no-ingress-policy Pod a/web", "netpol/no-ingress-policy Pod b/api"},
			RuleEgressDenyNoDNS, "a/web[Pod] is isolated for egress and, with the rules of AdminNetworkPolicy nodns, may not reach port 53",
		},
		"v1alpha2 admin deny of DNS beats the NetworkPolicy's allow": {
			npEgressDNS + cnp("nodns", "Admin", 10, subjA+"egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}], protocols: [{udp: {destinationPort: {number: 53}}}]}]"),
			[]string{"netpol/egress-deny-without-dns Pod a/web", "netpol/egress-to-internet NetworkPolicy a/dns", "netpol/no-egress-policy Pod b/api", "netpol/no-ingress-policy Pod a/web", "netpol/no-ingress-policy Pod b/api"},
			RuleEgressDenyNoDNS, "with the rules of ClusterNetworkPolicy nodns",
		},
		"v1alpha1 admin allow to the internet": {
			anp("out", 10, subjA+"egress: [{action: Allow, to: [{networks: [0.0.0.0/0]}]}]"),
			append([]string{"netpol/egress-to-internet AdminNetworkPolicy /out"}, noPolicies...),
			RuleEgressInternet, "AdminNetworkPolicy out (priority 10) Egress rule #1: Allow egress to every external address (All Connections)",
		},
		"v1alpha1 admin allow to a private network is not the internet": {
			anp("out", 10, subjA+"egress: [{action: Allow, to: [{networks: [10.0.0.0/8]}]}]"),
			noPolicies, "", "",
		},
		"v1alpha2 baseline accept to the IPv6 internet": {
			cnp("out6", "Baseline", 10, subjA+"egress: [{action: Accept, to: [{networks: ['::/0']}], protocols: [{tcp: {destinationPort: {number: 443}}}]}]"),
			append([]string{"netpol/egress-to-internet ClusterNetworkPolicy /out6"}, noPolicies...),
			RuleEgressInternet, "ClusterNetworkPolicy out6 (Baseline tier, priority 10) Egress rule #1: Accept egress to every external address (TCP 443)",
		},
		"v1alpha1 baseline allow from every namespace": {
			banp(subjA + "ingress: [{action: Allow, from: [{namespaces: {}}]}]"),
			append([]string{"netpol/exposed-to-all-namespaces BaselineAdminNetworkPolicy /default"}, noPolicies...),
			RuleAllNamespaces, "BaselineAdminNetworkPolicy default Ingress rule #1: Allow from every pod of every namespace",
		},
		"v1alpha2 admin accept from every namespace": {
			cnp("in", "Admin", 3, subjA+"ingress: [{action: Accept, from: [{pods: {namespaceSelector: {}, podSelector: {}}}]}]"),
			append([]string{"netpol/exposed-to-all-namespaces ClusterNetworkPolicy /in"}, noPolicies...),
			RuleAllNamespaces, "Accept from every pod of every namespace",
		},
		"v1alpha2 admin accept from one namespace is not every namespace": {
			cnp("in", "Admin", 3, subjA+"ingress: [{action: Accept, from: ["+dnsToB+"]}]"),
			noPolicies, "", "",
		},
		// Admin ingress peers are pods only: a Deny of every namespace
		// still leaves external sources to the default.
		"v1alpha1 admin deny of every pod source leaves external sources": {
			anp("in", 3, subjA+"ingress: [{action: Deny, from: [{namespaces: {}}]}]"),
			noPolicies,
			RuleNoIngress, "a/web[Pod]: no NetworkPolicy selects it for Ingress and under the rules of AdminNetworkPolicy in the default still admits every external address",
		},
		"v1alpha2 baseline deny of one namespace leaves the others": {
			cnp("in", "Baseline", 3, "subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}\ningress: [{action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: c}}}]}]"),
			noPolicies,
			RuleNoIngress, "b/api[Pod]: no NetworkPolicy selects it for Ingress and under the rules of ClusterNetworkPolicy in the default still admits a/web[Pod] (All Connections)",
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := loadString(t, pods+tc.policies)
			var got []string
			found := tc.rule == ""
			for _, f := range Findings(m) {
				got = append(got, f.RuleID+" "+f.Object.Kind+" "+f.Object.Namespace+"/"+f.Object.Name)
				if f.RuleID == tc.rule && strings.Contains(f.Message, tc.msg) {
					found = true
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if !found {
				for _, f := range Findings(m) {
					t.Logf("%s: %s", f.RuleID, f.Message)
				}
				t.Errorf("no %s finding saying %q", tc.rule, tc.msg)
			}
		})
	}
}
