package netpol

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Rule IDs of the network policy findings.
const (
	RuleNoIngress       = "netpol/no-ingress-policy"
	RuleNoEgress        = "netpol/no-egress-policy"
	RuleEgressInternet  = "netpol/egress-to-internet"
	RuleAllNamespaces   = "netpol/exposed-to-all-namespaces"
	RuleSelectsNothing  = "netpol/selects-nothing"
	RuleShadowed        = "netpol/shadowed-rule"
	RuleEgressDenyNoDNS = "netpol/egress-deny-without-dns"
	// Observed traffic against the policies (ObservedDiff).
	RuleObservedDenied = "netpol/observed-but-denied"
	RuleAllowedUnused  = "netpol/allowed-never-used"
)

// ruleList describes every finding this package produces (Rules adds the
// framework mappings).
func ruleList() []finding.RuleInfo {
	return []finding.RuleInfo{
		{ID: RuleNoIngress, Severity: finding.SeverityMedium, Title: "Workload not isolated for ingress",
			Description: "No NetworkPolicy selects the workload for Ingress, so whatever the admin tiers (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) do not decide may connect to it: external addresses always, since admin ingress rules match pods only.",
			Remediation: "Add a default-deny ingress policy to the namespace and allow only the required sources (palisade netpol generate).",
			Tags:        []string{"netpol"}},
		{ID: RuleNoEgress, Severity: finding.SeverityLow, Title: "Workload not isolated for egress",
			Description: "No NetworkPolicy selects the workload for Egress and the admin tiers (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) leave some destination undecided, so it may open connections there (edge whitepaper 6.7: unauthorised outbound traffic).",
			Remediation: "Add a default-deny egress policy with DNS egress and allow only the required destinations.",
			Tags:        []string{"netpol"}},
		{ID: RuleEgressInternet, Severity: finding.SeverityHigh, Title: "Egress to the whole internet allowed by a policy",
			Description: "A NetworkPolicy rule, or an admin-tier Allow/Accept rule, allows egress to every external address (0.0.0.0/0, ::/0 or an empty 'to').",
			Remediation: "Restrict the rule's 'to' to the CIDRs the workload needs.",
			Tags:        []string{"netpol"}},
		{ID: RuleAllNamespaces, Severity: finding.SeverityMedium, Title: "Workload exposed to all namespaces",
			Description: "An ingress rule admits every pod of every namespace (namespaceSelector: {} without a podSelector, or an empty 'from'; an admin-tier Allow/Accept rule from namespaces: {} or from pods of every namespace).",
			Remediation: "Name the source namespaces and pods explicitly.",
			Tags:        []string{"netpol"}},
		{ID: RuleSelectsNothing, Severity: finding.SeverityLow, Title: "NetworkPolicy selects no workload",
			Description: "The policy's podSelector matches no workload of its namespace: it has no effect, often because of a label typo.",
			Remediation: "Fix the podSelector or delete the policy.",
			Tags:        []string{"netpol"}},
		{ID: RuleShadowed, Severity: finding.SeverityLow, Title: "Rule shadowed by another rule",
			Description: "Everything the rule allows is already allowed by another rule for the same workloads: it is redundant, and a later edit of it will have no effect.",
			Remediation: "Delete the redundant rule or merge the two rules.",
			Tags:        []string{"netpol"}},
		{ID: RuleEgressDenyNoDNS, Severity: finding.SeverityMedium, Title: "Egress denied without DNS",
			Description: "The workload is isolated for egress and may not reach any DNS port (UDP/TCP 53), so name resolution fails.",
			Remediation: "Allow egress to the cluster DNS on UDP and TCP 53.",
			Tags:        []string{"netpol"}},
		{ID: RuleObservedDenied, Severity: finding.SeverityMedium, Title: "Observed connection the policies deny",
			Description: "The runtime sensors saw the workload make or accept a connection that the NetworkPolicies deny: either the CNI does not enforce the policies (common on edge clusters), or the policies will break the workload once enforced.",
			Remediation: "Check that the CNI enforces NetworkPolicies; if the connection is needed, allow it (palisade netpol generate --from-observed).",
			Tags:        []string{"netpol", "runtime"}},
		{ID: RuleAllowedUnused, Severity: finding.SeverityLow, Title: "Allowed connection never observed",
			Description: "The NetworkPolicies allow a connection of a profiled workload that its learned profile never made: least privilege would deny it.",
			Remediation: "Narrow the policies to the observed traffic (palisade netpol generate --from-observed), after checking the profile covers every code path.",
			Tags:        []string{"netpol", "runtime"}},
	}
}

// Findings evaluates the model: unisolated workloads, broad rules,
// ineffective and redundant rules, and egress isolation without DNS.
func Findings(m *Model) []finding.Finding {
	info := map[string]finding.RuleInfo{}
	for _, r := range Rules() {
		info[r.ID] = r
	}
	var out []finding.Finding
	add := func(id string, ref finding.ObjectRef, file string, line int, msg string) {
		r := info[id]
		out = append(out, finding.Finding{RuleID: id, Severity: r.Severity, Title: r.Title, Message: msg, Object: ref, File: file, Line: line, Remediation: r.Remediation})
	}
	dns := ConnsOf("UDP", PortSet{{53, 53}}).Union(ConnsOf("TCP", PortSet{{53, 53}}))
	for _, p := range m.Peers {
		switch {
		case m.ingressIsolated[p.Index]:
		case len(m.adminIn[p.Index])+len(m.baseIn[p.Index]) == 0:
			add(RuleNoIngress, p.Ref, p.File, p.Line, fmt.Sprintf("%s: no NetworkPolicy selects it for Ingress; every source may connect", p))
		default:
			open, _ := m.tierIsolation(p, DirIngress)
			add(RuleNoIngress, p.Ref, p.File, p.Line, fmt.Sprintf("%s: no NetworkPolicy selects it for Ingress and under the rules of %s the default still admits %s", p, m.tierNames(p, DirIngress), open))
		}
		byTiers := false
		switch {
		case m.egressIsolated[p.Index]:
		case len(m.adminOut[p.Index])+len(m.baseOut[p.Index]) == 0:
			add(RuleNoEgress, p.Ref, p.File, p.Line, fmt.Sprintf("%s: no NetworkPolicy selects it for Egress; it may connect anywhere", p))
			continue
		default:
			open, unknown := m.tierIsolation(p, DirEgress)
			if open != "" {
				add(RuleNoEgress, p.Ref, p.File, p.Line, fmt.Sprintf("%s: no NetworkPolicy selects it for Egress and under the rules of %s the default still lets it reach %s", p, m.tierNames(p, DirEgress), open))
				continue
			}
			if unknown != "" {
				add(RuleNoEgress, p.Ref, p.File, p.Line, fmt.Sprintf("%s: no NetworkPolicy selects it for Egress and whether the rules of %s isolate it is unknown: the default may let it reach %s", p, m.tierNames(p, DirEgress), unknown))
				continue
			}
			byTiers = true
		}
		reach := NoConns()
		for _, q := range m.Peers {
			if q != p {
				reach = reach.Union(m.egressConns(p, q).Intersect(dns))
			}
		}
		for _, a := range m.egressAtoms {
			c, unknown := m.egressToExternal(p, a)
			reach = reach.Union(c.Union(unknown).Intersect(dns))
		}
		if reach.IsEmpty() {
			msg := fmt.Sprintf("%s is isolated for egress and may not reach port 53 anywhere: DNS lookups will fail", p)
			if names := m.tierNames(p, DirEgress); byTiers {
				msg = fmt.Sprintf("%s is isolated for egress by the rules of %s and may not reach port 53 anywhere: DNS lookups will fail", p, names)
			} else if names != "" {
				msg = fmt.Sprintf("%s is isolated for egress and, with the rules of %s, may not reach port 53 anywhere: DNS lookups will fail", p, names)
			}
			add(RuleEgressDenyNoDNS, p.Ref, p.File, p.Line, msg)
		}
	}
	for _, pol := range m.Policies {
		ref := finding.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: pol.Namespace, Name: pol.Name}
		if len(pol.selected) == 0 {
			add(RuleSelectsNothing, ref, pol.File, pol.Line, fmt.Sprintf("NetworkPolicy %s: podSelector %q matches no workload in namespace %s", pol, pol.Selector.String(), pol.Namespace))
		}
		if pol.AffectsEgress {
			for _, r := range pol.Egress {
				if r.AllPeers || coversUniverse(r.ips) {
					add(RuleEgressInternet, ref, pol.File, pol.Line, fmt.Sprintf("%s allows egress to every external address (%s)", r, r.conns(nil)))
				}
			}
		}
		if pol.AffectsIngress {
			for _, r := range pol.Ingress {
				if r.AllPeers {
					add(RuleAllNamespaces, ref, pol.File, pol.Line, fmt.Sprintf("%s has no 'from': every pod of every namespace and every external address may connect", r))
					continue
				}
				for _, rp := range r.Peers {
					if rp.NamespaceSelector != nil && rp.NamespaceSelector.Empty() && (rp.PodSelector == nil || rp.PodSelector.Empty()) {
						add(RuleAllNamespaces, ref, pol.File, pol.Line, fmt.Sprintf("%s admits every pod of every namespace (namespaceSelector: {})", r))
						break
					}
				}
			}
		}
	}
	adminBroad(m, add)
	out = append(out, shadowed(m)...)
	for i := range out {
		if out[i].RuleID == RuleShadowed {
			r := info[RuleShadowed]
			out[i].Severity, out[i].Title, out[i].Remediation = r.Severity, r.Title, r.Remediation
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	return out
}

func coversUniverse(s IPSet) bool {
	for _, r := range s {
		if r == universe4 {
			return true
		}
	}
	return false
}

// shadowed finds rules whose every allowed connection another rule of the
// same direction also allows, for every workload the first applies to.
func shadowed(m *Model) []finding.Finding {
	var rules []ruleSel
	for _, pol := range m.Policies {
		sel := newBitset(len(m.Peers))
		for _, i := range pol.selected {
			sel.set(i)
		}
		if len(pol.selected) == 0 {
			continue
		}
		if pol.AffectsIngress {
			for _, r := range pol.Ingress {
				rules = append(rules, ruleSel{r, sel})
			}
		}
		if pol.AffectsEgress {
			for _, r := range pol.Egress {
				rules = append(rules, ruleSel{r, sel})
			}
		}
	}
	var out []finding.Finding
	for i, a := range rules {
		for j, b := range rules {
			if i == j || a.r.Direction != b.r.Direction || !a.sel.subsetOf(b.sel) {
				continue
			}
			if !b.r.AllPeers && (a.r.AllPeers || !a.r.matched.subsetOf(b.r.matched) || !ipSubset(a.r.ips, b.r.ips)) {
				continue
			}
			if !portsCovered(m, a, b) {
				continue
			}
			// Identical rules shadow each other: report only the later one.
			if j > i && a.sel.subsetOf(b.sel) && b.sel.subsetOf(a.sel) && b.r.matched.subsetOf(a.r.matched) && ipSubset(b.r.ips, a.r.ips) && portsCovered(m, b, a) && a.r.AllPeers == b.r.AllPeers {
				continue
			}
			pol := a.r.Policy
			out = append(out, finding.Finding{RuleID: RuleShadowed, Object: finding.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: pol.Namespace, Name: pol.Name}, File: pol.File, Line: pol.Line,
				Message: fmt.Sprintf("%s is shadowed by %s: it allows nothing more", a.r, b.r)})
			break
		}
	}
	return out
}

// ruleSel is a rule and the workloads its policy applies to.
type ruleSel struct {
	r   *Rule
	sel bitset
}

func portsCovered(m *Model, a, b ruleSel) bool {
	for i := range m.Peers {
		if !a.sel.has(i) {
			continue
		}
		// For egress the ports resolve against the destination; compare
		// against every workload the rule reaches.
		if a.r.Direction == DirIngress {
			if !a.r.conns(m.Peers[i]).SubsetOf(b.r.conns(m.Peers[i])) {
				return false
			}
			continue
		}
		for _, q := range m.Peers {
			if a.r.matched.has(q.Index) && !a.r.conns(q).SubsetOf(b.r.conns(q)) {
				return false
			}
		}
		if len(a.r.ips) > 0 && !a.r.conns(nil).SubsetOf(b.r.conns(nil)) {
			return false
		}
		break
	}
	return true
}

func ipSubset(a, b IPSet) bool {
	for _, r := range a {
		if !b.containsRange(r) {
			return false
		}
	}
	return true
}

// defaultReach is what the implicit default (allow) of the tiers still
// lets through in one direction for a pod no NetworkPolicy isolates: the
// traffic no Admin tier rule decides and no Baseline rule denies or
// allows (a Baseline tier Pass hands it to the default). Explicit Allow
// and Accept rules decide, as a NetworkPolicy rule does. maybe marks
// rules whose match is unknown (domainNames, nodes without Node
// objects): sure is what the default lets through whatever they match,
// some what it may.
func defaultReach(admin, base []*AdminRule, hit, maybe func(*AdminRule) bool, dst *Peer) (sure, some ConnSet) {
	var open []*AdminRule
	for _, rules := range [][]*AdminRule{admin, base} {
		for _, r := range rules {
			if !hit(r) && maybe(r) {
				open = append(open, r)
			}
		}
	}
	if len(open) > maxUncertain {
		return NoConns(), AllConns()
	}
	sure, some = AllConns(), NoConns()
	for mask := 0; mask < 1<<len(open); mask++ {
		on := func(r *AdminRule) bool {
			if hit(r) {
				return true
			}
			for i, o := range open {
				if o == r {
					return mask&(1<<i) != 0
				}
			}
			return false
		}
		decided, passed := NoConns(), NoConns()
		for _, r := range admin {
			if !on(r) {
				continue
			}
			c := r.conns(dst).Subtract(decided).Subtract(passed)
			if r.Action == ActionPass {
				passed = passed.Union(c)
			} else {
				decided = decided.Union(c)
			}
		}
		rest := AllConns().Subtract(decided)
		for _, r := range base {
			if on(r) && r.Action != ActionPass {
				rest = rest.Subtract(r.conns(dst))
			}
		}
		sure, some = sure.Intersect(rest), some.Union(rest)
	}
	return sure, some.Subtract(sure)
}

// tierIsolation judges a pod no NetworkPolicy isolates in one direction
// but admin policies select for it: open names one end the default still
// lets through (with what), unknown one it may; both empty when the
// tiers decide everything. Ingress from external addresses is never
// decided by the tiers (their ingress peers are pods only).
func (m *Model) tierIsolation(p *Peer, dir Direction) (open, unknown string) {
	admin, base := m.adminOut[p.Index], m.baseOut[p.Index]
	if dir == DirIngress {
		admin, base = m.adminIn[p.Index], m.baseIn[p.Index]
	}
	never := func(*AdminRule) bool { return false }
	for _, q := range m.Peers {
		if q == p {
			continue
		}
		dst := q
		if dir == DirIngress {
			dst = p
		}
		if c, _ := defaultReach(admin, base, func(r *AdminRule) bool { return r.matched.has(q.Index) }, never, dst); !c.IsEmpty() {
			return fmt.Sprintf("%s (%s)", q, c), ""
		}
	}
	if dir == DirIngress {
		return "every external address", ""
	}
	ext := append([]IPRange{}, m.egressAtoms...)
	if !slices.ContainsFunc(ext, func(a IPRange) bool { return a.First.Is6() }) {
		ext = append(ext, universe6)
	}
	for _, a := range ext {
		sure, some := defaultReach(admin, base, func(r *AdminRule) bool { return r.ips.containsRange(a) }, func(r *AdminRule) bool { return r.uncertain }, nil)
		if !sure.IsEmpty() {
			return fmt.Sprintf("%s (%s)", Endpoint{IPs: a}, sure), ""
		}
		if !some.IsEmpty() && unknown == "" {
			for _, r := range append(append([]*AdminRule{}, admin...), base...) {
				if r.uncertain && !r.ips.containsRange(a) {
					unknown = fmt.Sprintf("%s (%s): %s", Endpoint{IPs: a}, some, r.uncertainWhy())
					break
				}
			}
		}
	}
	return "", unknown
}

// tierNames lists the admin policies with rules for p in one direction.
func (m *Model) tierNames(p *Peer, dir Direction) string {
	admin, base := m.adminOut[p.Index], m.baseOut[p.Index]
	if dir == DirIngress {
		admin, base = m.adminIn[p.Index], m.baseIn[p.Index]
	}
	var names []string
	for _, r := range append(append([]*AdminRule{}, admin...), base...) {
		if s := r.Admin.String(); !slices.Contains(names, s) {
			names = append(names, s)
		}
	}
	return strings.Join(names, ", ")
}

// adminBroad reports the admin rules that allow egress to a whole
// address family or ingress from every namespace: Allow and Accept
// rules of any tier (a Baseline rule applies where no NetworkPolicy
// isolates the pod); and admin policies of any tier whose subject
// selects no workload (selects-nothing), as for a NetworkPolicy.
func adminBroad(m *Model, add func(id string, ref finding.ObjectRef, file string, line int, msg string)) {
	for _, pol := range m.allAdmin() {
		ref := finding.ObjectRef{APIVersion: adminVersion, Kind: pol.Kind, Name: pol.Name}
		if pol.Kind == KindClusterNetworkPolicy {
			ref.APIVersion = ClusterAPIVersion
		}
		if len(pol.selected) == 0 {
			add(RuleSelectsNothing, ref, pol.File, pol.Line, fmt.Sprintf("%s: its subject (%s) matches no workload of the input: its rules have no effect", pol, pol.subject))
		}
		allows := func(r *AdminRule) bool { return r.Action == ActionAllow || r.Action == ActionAccept }
		for _, r := range pol.Egress {
			if allows(r) && (coversUniverse(r.ips) || slices.Contains(r.ips, universe6)) {
				add(RuleEgressInternet, ref, pol.File, pol.Line, fmt.Sprintf("%s: %s egress to every external address (%s)", r, r.Action, r.conns(nil)))
			}
		}
		for _, r := range pol.Ingress {
			if allows(r) && slices.ContainsFunc(r.peers, func(ap adminPeer) bool { return ap.ns != nil && ap.ns.Empty() && (ap.pods == nil || ap.pods.Empty()) }) {
				add(RuleAllNamespaces, ref, pol.File, pol.Line, fmt.Sprintf("%s: %s from every pod of every namespace (namespaces: {})", r, r.Action))
			}
		}
	}
}
