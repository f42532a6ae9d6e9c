package netpol

import (
	"context"
	"fmt"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/palisade-sec/palisade/internal/workload"
)

// ManagedByLabel marks the policies Palisade generates.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// Plan is the outcome of generation: the policies, and what they must
// allow, for the proof.
type Plan struct {
	Policies []*networkingv1.NetworkPolicy
	// Scope are the namespaces the policies isolate.
	Scope []string
	req   *Requirements
	// pairs are the required workload-to-workload connections; extIn and
	// extOut those from and to external ranges, keyed by peer index.
	pairs         map[[2]int]ConnSet
	extIn, extOut map[int][]rangeSet
	dns           ConnSet
	baseline      *Model
	inScope       map[string]bool
}

type rangeSet struct {
	ips   IPSet
	conns ConnSet
}

// Generate writes least-privilege policies for the requirements: in every
// namespace in scope, a default deny of ingress and egress, DNS egress, and
// per workload one policy allowing exactly its required traffic. Policies
// already in the input for namespaces in scope are replaced.
func Generate(inv *workload.Inventory, req *Requirements) (*Plan, error) {
	scopeSet := map[string]bool{}
	if len(req.Namespaces) > 0 {
		for _, ns := range req.Namespaces {
			scopeSet[ns] = true
		}
	} else {
		for _, w := range inv.Workloads {
			if req.DNS.Disabled || w.Namespace() != req.DNS.Namespace {
				scopeSet[w.Namespace()] = true
			}
		}
	}
	if !req.DNS.Disabled && scopeSet[req.DNS.Namespace] {
		return nil, fmt.Errorf("namespace %s holds the DNS servers (dns.namespace) and cannot be in scope", req.DNS.Namespace)
	}
	base := withoutPoliciesIn(inv, scopeSet)
	bm := FromInventory(base).Model
	p := &Plan{req: req, pairs: map[[2]int]ConnSet{}, extIn: map[int][]rangeSet{}, extOut: map[int][]rangeSet{}, baseline: bm, inScope: scopeSet}
	for ns := range scopeSet {
		p.Scope = append(p.Scope, ns)
	}
	sort.Strings(p.Scope)
	for _, ns := range p.Scope {
		if _, ok := bm.Namespaces[ns]; !ok {
			return nil, fmt.Errorf("namespace %q in scope has no workloads and no Namespace object in the input", ns)
		}
	}
	if !req.DNS.Disabled {
		specs, _ := ParsePorts(req.DNS.Ports)
		p.dns = connsOf(specs)
	}
	externals := map[string]External{}
	for _, e := range req.Externals {
		externals[e.Name] = e
	}
	type side struct {
		peer *Peer
		ext  *External
	}
	resolve := func(s string) (side, error) {
		if name, ok := strings.CutPrefix(s, "external:"); ok {
			e := externals[name]
			return side{ext: &e}, nil
		}
		peer, err := bm.Peer(s)
		return side{peer: peer}, err
	}
	ingress := map[int][]networkingv1.NetworkPolicyIngressRule{}
	egress := map[int][]networkingv1.NetworkPolicyEgressRule{}
	used := map[int]bool{}
	for i, a := range req.Allow {
		src, err := resolve(a.From)
		if err != nil {
			return nil, fmt.Errorf("allow[%d] from: %w", i, err)
		}
		dst, err := resolve(a.To)
		if err != nil {
			return nil, fmt.Errorf("allow[%d] to: %w", i, err)
		}
		specs, _ := ParsePorts(a.Ports)
		conns := connsOf(specs)
		srcIn := src.peer != nil && scopeSet[src.peer.Namespace]
		dstIn := dst.peer != nil && scopeSet[dst.peer.Namespace]
		if !srcIn && !dstIn {
			return nil, fmt.Errorf("allow[%d] (%s -> %s): neither end is a workload in a namespace in scope, so no policy can enforce it", i, a.From, a.To)
		}
		if src.peer != nil && dst.peer != nil && src.peer == dst.peer {
			return nil, fmt.Errorf("allow[%d]: %s to itself: traffic inside a workload is not subject to analysis", i, src.peer)
		}
		switch {
		case src.ext != nil:
			ips, _ := src.ext.IPSet()
			p.extIn[dst.peer.Index] = append(p.extIn[dst.peer.Index], rangeSet{ips, conns})
		case dst.ext != nil:
			ips, _ := dst.ext.IPSet()
			p.extOut[src.peer.Index] = append(p.extOut[src.peer.Index], rangeSet{ips, conns})
		default:
			k := [2]int{src.peer.Index, dst.peer.Index}
			p.pairs[k] = p.pairs[k].Union(conns)
		}
		ports := policyPorts(specs)
		if dstIn {
			var from []networkingv1.NetworkPolicyPeer
			if src.ext != nil {
				from = ipBlockPeers(*src.ext)
			} else {
				from = []networkingv1.NetworkPolicyPeer{peerFor(src.peer, dst.peer.Namespace)}
				used[src.peer.Index] = true
			}
			ingress[dst.peer.Index] = append(ingress[dst.peer.Index], networkingv1.NetworkPolicyIngressRule{From: from, Ports: ports})
			used[dst.peer.Index] = true
		}
		if srcIn {
			var to []networkingv1.NetworkPolicyPeer
			if dst.ext != nil {
				to = ipBlockPeers(*dst.ext)
			} else {
				to = []networkingv1.NetworkPolicyPeer{peerFor(dst.peer, src.peer.Namespace)}
				used[dst.peer.Index] = true
			}
			egress[src.peer.Index] = append(egress[src.peer.Index], networkingv1.NetworkPolicyEgressRule{To: to, Ports: ports})
			used[src.peer.Index] = true
		}
	}
	for i := range used {
		if err := selectsExactly(bm, bm.Peers[i]); err != nil {
			return nil, err
		}
	}
	for _, ns := range p.Scope {
		p.Policies = append(p.Policies, newPolicy(ns, "default-deny", metav1.LabelSelector{}, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}))
		if !req.DNS.Disabled {
			dns := newPolicy(ns, "allow-dns-egress", metav1.LabelSelector{}, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress})
			specs, _ := ParsePorts(req.DNS.Ports)
			dns.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: req.DNS.Namespace}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: req.DNS.PodSelector},
				}},
				Ports: policyPorts(specs),
			}}
			p.Policies = append(p.Policies, dns)
		}
	}
	names := map[string]bool{}
	for _, peer := range bm.Peers {
		in, out := ingress[peer.Index], egress[peer.Index]
		if len(in) == 0 && len(out) == 0 {
			continue
		}
		name := "allow-" + peer.Name
		if names[peer.Namespace+"/"+name] {
			name += "-" + strings.ToLower(peer.Kind)
		}
		names[peer.Namespace+"/"+name] = true
		var types []networkingv1.PolicyType
		if len(in) > 0 {
			types = append(types, networkingv1.PolicyTypeIngress)
		}
		if len(out) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
		pol := newPolicy(peer.Namespace, name, metav1.LabelSelector{MatchLabels: peer.StableLabels}, types)
		pol.Spec.Ingress, pol.Spec.Egress = in, out
		p.Policies = append(p.Policies, pol)
	}
	sort.SliceStable(p.Policies, func(i, j int) bool { return p.Policies[i].Namespace < p.Policies[j].Namespace })
	return p, nil
}

// withoutPoliciesIn copies the inventory without the policies of the
// given namespaces (nil: keep all).
func withoutPoliciesIn(inv *workload.Inventory, namespaces map[string]bool) *workload.Inventory {
	cp := *inv
	cp.NetworkPolicies = nil
	for _, np := range inv.NetworkPolicies {
		if !namespaces[np.Namespace] {
			cp.NetworkPolicies = append(cp.NetworkPolicies, np)
		}
	}
	return &cp
}

func newPolicy(ns, name string, sel metav1.LabelSelector, types []networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{ManagedByLabel: "palisade"}},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: sel, PolicyTypes: types},
	}
}

// peerFor selects a workload from a policy in namespace ns.
func peerFor(q *Peer, ns string) networkingv1.NetworkPolicyPeer {
	peer := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: q.StableLabels}}
	if q.Namespace != ns {
		peer.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceNameLabel: q.Namespace}}
	}
	return peer
}

func ipBlockPeers(e External) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, c := range e.CIDRs {
		b := &networkingv1.IPBlock{CIDR: c}
		for _, x := range e.Except {
			if owner, _ := e.cidrOf(x); owner == c {
				b.Except = append(b.Except, x)
			}
		}
		out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: b})
	}
	return out
}

func policyPorts(specs []PortSpec) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, s := range specs {
		proto := s.Protocol
		port := networkingv1.NetworkPolicyPort{Protocol: &proto}
		if !s.Ports.IsEmpty() {
			r := s.Ports[0]
			v := intstr.FromInt32(r.From)
			port.Port = &v
			if r.To != r.From {
				end := r.To
				port.EndPort = &end
			}
		}
		out = append(out, port)
	}
	return out
}

// selectsExactly checks that a workload's stable pod labels select it, all
// its pods, and no other workload of its namespace.
func selectsExactly(m *Model, q *Peer) error {
	if len(q.StableLabels) == 0 {
		return fmt.Errorf("workload %s has no pod labels (other than those set per pod): a policy cannot select it alone", q)
	}
	sel := labels.SelectorFromSet(q.StableLabels)
	for i, l := range q.podLabels {
		if !sel.Matches(l) {
			return fmt.Errorf("workload %s cannot be selected as one: its pod %s lacks labels %s of pod %s", q, q.Pods[i], q.StableLabels, q.Pods[0])
		}
	}
	for _, o := range m.Peers {
		if o != q && o.Namespace == q.Namespace && sel.Matches(o.Labels) {
			return fmt.Errorf("workload %s cannot be selected alone: its pod labels %s also select %s", q, q.StableLabels, o)
		}
	}
	return nil
}

// Inventory returns the inventory with the generated policies in place of
// the input's policies of the namespaces in scope.
func (p *Plan) Inventory(inv *workload.Inventory) *workload.Inventory {
	cp := withoutPoliciesIn(inv, p.inScope)
	for _, np := range p.Policies {
		cp.NetworkPolicies = append(cp.NetworkPolicies, &workload.NetworkPolicy{NetworkPolicy: np.DeepCopy()})
	}
	return cp
}

// Expected is the connectivity the requirements call for: for workloads in
// scope exactly the required connections (plus DNS), for the others what
// their own policies allow.
func (p *Plan) Expected(ctx context.Context) (*Connectivity, error) {
	m := p.baseline
	out := &Connectivity{}
	in := func(q *Peer) bool { return p.inScope[q.Namespace] }
	for _, s := range m.Peers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, d := range m.Peers {
			if s == d {
				continue
			}
			req := p.pairs[[2]int{s.Index, d.Index}]
			var ing, eg ConnSet
			if in(d) {
				ing = req
			} else {
				ing = m.ingressConns(s, d)
			}
			if in(s) {
				eg = req.Union(p.dnsConns(d))
			} else {
				eg = m.egressConns(s, d)
			}
			if c := ing.Intersect(eg); !c.IsEmpty() {
				out.Connections = append(out.Connections, Connection{Src: Endpoint{Peer: s}, Dst: Endpoint{Peer: d}, Conns: c})
			}
		}
		if in(s) {
			for _, rc := range flatten(p.extOut[s.Index]) {
				out.Connections = append(out.Connections, Connection{Src: Endpoint{Peer: s}, Dst: Endpoint{IPs: rc.r}, Conns: rc.c})
			}
			for _, rc := range flatten(p.extIn[s.Index]) {
				out.Connections = append(out.Connections, Connection{Src: Endpoint{IPs: rc.r}, Dst: Endpoint{Peer: s}, Conns: rc.c})
			}
			continue
		}
		for _, a := range m.egressAtoms {
			if c, u := m.egressToExternal(s, a); !c.IsEmpty() || !u.IsEmpty() {
				out.Connections = append(out.Connections, Connection{Src: Endpoint{Peer: s}, Dst: Endpoint{IPs: a}, Conns: c, Unknown: unknownOf(u)})
			}
		}
		for _, a := range m.ingressAtoms {
			if c := m.ingressFromExternal(a, s); !c.IsEmpty() {
				out.Connections = append(out.Connections, Connection{Src: Endpoint{IPs: a}, Dst: Endpoint{Peer: s}, Conns: c})
			}
		}
	}
	out.sort()
	return out, nil
}

func (p *Plan) dnsConns(d *Peer) ConnSet {
	if p.req.DNS.Disabled || d.Namespace != p.req.DNS.Namespace {
		return NoConns()
	}
	if !labels.SelectorFromSet(p.req.DNS.PodSelector).Matches(d.Labels) {
		return NoConns()
	}
	return p.dns
}

// flatten turns overlapping (addresses, connections) pairs into disjoint ranges.
func flatten(sets []rangeSet) []rangeConns {
	blocks := make([]IPSet, len(sets))
	for i, s := range sets {
		blocks[i] = s.ips
	}
	var out []rangeConns
	for _, a := range atoms(blocks) {
		var c ConnSet
		for _, s := range sets {
			if s.ips.containsRange(a) {
				c = c.Union(s.conns)
			}
		}
		if !c.IsEmpty() {
			out = append(out, rangeConns{r: a, c: c})
		}
	}
	return out
}

// Proof is the result of re-analysing generated policies.
type Proof struct {
	// Actual is the connectivity the generated policies allow.
	Actual *Connectivity
	// Differences between the required and the actual connectivity: any
	// entry means the generated policies are wrong. "added" is traffic
	// allowed beyond the requirements, "removed" required traffic denied.
	Differences []Change
	// Unmet are required connections the actual connectivity lacks, for
	// instance because a workload outside the scope refuses them.
	Unmet []Change
}

// OK reports a proof without differences.
func (pr *Proof) OK() bool { return len(pr.Differences) == 0 && len(pr.Unmet) == 0 }

// Prove feeds the generated policies back into the analyser and compares
// the connectivity they allow with the requirements.
func (p *Plan) Prove(ctx context.Context, inv *workload.Inventory) (*Proof, error) {
	b := FromInventory(p.Inventory(inv))
	for _, pr := range b.Problems {
		if pr.Level == "error" {
			return nil, fmt.Errorf("generated policy rejected by the analyser: %s", pr.Message)
		}
	}
	actual, err := Analyze(ctx, b.Model)
	if err != nil {
		return nil, err
	}
	expected, err := p.Expected(ctx)
	if err != nil {
		return nil, err
	}
	proof := &Proof{Actual: actual, Differences: Diff(expected, actual)}
	for k, req := range p.pairs {
		s, d := b.Model.Peers[k[0]], b.Model.Peers[k[1]]
		got := b.Model.ingressConns(s, d).Intersect(b.Model.egressConns(s, d))
		if missing := req.Subtract(got); !missing.IsEmpty() {
			proof.Unmet = append(proof.Unmet, Change{Kind: Removed, Src: s.String(), Dst: d.String(), Old: missing})
		}
	}
	sort.Slice(proof.Unmet, func(i, j int) bool { return proof.Unmet[i].String() < proof.Unmet[j].String() })
	return proof, nil
}
