package netpol

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// NamespaceNameLabel is the label the API server puts on every namespace.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// Peer is a workload: the pods of one pod template, which share labels and
// ports and so are treated alike by every policy.
type Peer struct {
	Index     int
	Namespace string
	Name      string
	Kind      string
	Labels    labels.Set
	// NamedPorts maps a container port name to its protocol and number.
	NamedPorts map[string][]NamedPort
	Ref        finding.ObjectRef
	File       string
	Line       int
	// Pods are the names of the pods folded into a peer named after their
	// controller, sorted; nil for a workload object or a standalone Pod.
	Pods []string
	// StableLabels are Labels without those controllers vary per pod
	// (pod-template-hash, ...): what generated policies select on.
	StableLabels labels.Set
	// podLabels are the labels of each of Pods.
	podLabels []labels.Set
}

// NamedPort is a named container port.
type NamedPort struct {
	Protocol corev1.Protocol
	Port     int32
}

// String renders the peer as "namespace/name[Kind]".
func (p *Peer) String() string { return p.Namespace + "/" + p.Name + "[" + p.Kind + "]" }

// Namespace is a namespace and its labels (including kubernetes.io/metadata.name).
type Namespace struct {
	Name   string
	Labels labels.Set
	// Declared is true when the input has the Namespace object.
	Declared bool
}

// Policy is a NetworkPolicy compiled for evaluation.
type Policy struct {
	Namespace, Name string
	Selector        labels.Selector
	// AffectsIngress and AffectsEgress follow policyTypes, defaulted as the
	// API server does: Ingress always, Egress when there are egress rules.
	AffectsIngress, AffectsEgress bool
	Ingress, Egress               []*Rule
	Source                        *networkingv1.NetworkPolicy
	File                          string
	Line                          int
	// selected are the peers the policy applies to.
	selected []int
}

// String names the policy as "namespace/name".
func (p *Policy) String() string { return p.Namespace + "/" + p.Name }

// Direction is ingress or egress.
type Direction string

// Directions.
const (
	DirIngress Direction = "Ingress"
	DirEgress  Direction = "Egress"
)

// Rule is one ingress or egress rule of a policy.
type Rule struct {
	Policy    *Policy
	Direction Direction
	// Index counts from 1, as rules are named in explanations.
	Index int
	// AllPeers is true when from/to is empty: every source or destination.
	AllPeers bool
	Peers    []RulePeer
	// Ports are empty when the rule allows every port.
	Ports []RulePort
	// hasNamed is true when some port is named, so the ports depend on the destination.
	hasNamed bool
	fixed    ConnSet
	// matched are the peers selected by Peers; ips the external addresses.
	matched bitset
	ips     IPSet
}

// String names the rule: "ns/policy Ingress rule #1".
func (r *Rule) String() string {
	return fmt.Sprintf("NetworkPolicy %s %s rule #%d", r.Policy, r.Direction, r.Index)
}

// RulePeer is one entry of from/to.
type RulePeer struct {
	// PodSelector and NamespaceSelector are nil when not given.
	PodSelector, NamespaceSelector labels.Selector
	// IPBlock is set for ipBlock peers.
	IPBlock IPSet
	IsIP    bool
}

// RulePort is one entry of ports.
type RulePort struct {
	Protocol corev1.Protocol
	// Named is the port name when the port is named.
	Named string
	// Ports is the numeric range (all ports when the port is omitted).
	Ports PortSet
}

// Model is everything connectivity depends on.
type Model struct {
	Peers      []*Peer
	Namespaces map[string]*Namespace
	Policies   []*Policy
	// Admin are the Admin tier's policies by precedence (the
	// AdminNetworkPolicies, or the Admin tier ClusterNetworkPolicies);
	// Baseline is the BaselineAdminNetworkPolicy, if any.
	Admin    []*AdminPolicy
	Baseline *AdminPolicy
	// Baselines are the Baseline tier ClusterNetworkPolicies by precedence.
	Baselines []*AdminPolicy
	// Nodes are the input's Node objects; NodesKnown says the input had
	// some, so nodes peers are judged against their addresses.
	Nodes       []*Node
	NodesKnown  bool
	nodesBroken bool
	// adminIn, adminOut, baseIn and baseOut are each peer's admin rules
	// in precedence order.
	adminIn, adminOut, baseIn, baseOut [][]*AdminRule
	// ingressAtoms and egressAtoms name the external peers.
	ingressAtoms, egressAtoms []IPRange
	ingressOf, egressOf       [][]*Rule
	ingressIsolated           []bool
	egressIsolated            []bool
	peerIndex                 map[string]int
}

// PolicyError is a policy that cannot be evaluated.
type PolicyError struct {
	Policy string
	File   string
	Line   int
	Err    error
}

func (e *PolicyError) Error() string { return "networkpolicy " + e.Policy + ": " + e.Err.Error() }
func (e *PolicyError) Unwrap() error { return e.Err }

// BuildResult is a model and the problems found building it.
type BuildResult struct {
	Model *Model
	// Problems are invalid policies (errors: the policy is left out) and
	// suspicious ones (warnings).
	Problems []finding.Problem
}

// FromInventory builds the model of an inventory. Invalid policies are
// reported as problems naming the policy and left out of the model; they
// never stop the analysis of the rest.
func FromInventory(inv *workload.Inventory) *BuildResult {
	m := &Model{Namespaces: map[string]*Namespace{}, peerIndex: map[string]int{}}
	for name, ns := range inv.Namespaces {
		set := labels.Set{}
		for k, v := range ns.Labels {
			set[k] = v
		}
		set[NamespaceNameLabel] = name
		m.Namespaces[name] = &Namespace{Name: name, Labels: set, Declared: true}
	}
	peers, probs := buildPeers(inv)
	for _, p := range peers {
		key := p.String()
		if _, dup := m.peerIndex[key]; dup {
			continue
		}
		m.peerIndex[key] = -1
		m.Peers = append(m.Peers, p)
		probs = append(probs, m.implicitNamespace(p.Namespace, p.File, p.Line)...)
	}
	sort.Slice(m.Peers, func(i, j int) bool { return m.Peers[i].String() < m.Peers[j].String() })
	for i, p := range m.Peers {
		p.Index = i
		m.peerIndex[p.String()] = i
	}
	res := &BuildResult{Model: m, Problems: probs}
	for _, np := range inv.NetworkPolicies {
		file, line := "", 0
		if np.Source != nil {
			file, line = np.Source.File, np.Source.Line
		}
		pol, warnings, err := CompilePolicy(np.NetworkPolicy)
		if err == nil {
			res.Problems = append(res.Problems, m.implicitNamespace(pol.Namespace, file, line)...)
		}
		if err != nil {
			res.Problems = append(res.Problems, finding.Problem{File: file, Line: line, Level: finding.LevelError, Message: err.Error()})
			continue
		}
		for _, w := range warnings {
			res.Problems = append(res.Problems, finding.Problem{File: file, Line: line, Level: finding.LevelWarning, Message: "networkpolicy " + pol.String() + ": " + w})
		}
		pol.File, pol.Line = file, line
		m.Policies = append(m.Policies, pol)
	}
	sort.SliceStable(m.Policies, func(i, j int) bool { return m.Policies[i].String() < m.Policies[j].String() })
	var adminProbs []finding.Problem
	m.Admin, m.Baseline, m.Baselines, adminProbs = adminTiers(inv)
	res.Problems = append(res.Problems, adminProbs...)
	res.Problems = append(res.Problems, m.readNodes(inv)...)
	m.index()
	res.Problems = append(res.Problems, m.namespaceLabelProblems()...)
	res.Problems = append(res.Problems, m.labelConflicts()...)
	res.Problems = append(res.Problems, unmodelled(inv)...)
	return res
}

// implicitNamespace adds a namespace the input names but does not declare.
// The API server would have it (a workload or policy cannot exist in a
// namespace that does not), labelled only with kubernetes.io/metadata.name,
// so it is a note: namespaceSelectors on other labels will not match it.
func (m *Model) implicitNamespace(name, file string, line int) []finding.Problem {
	if _, ok := m.Namespaces[name]; ok {
		return nil
	}
	m.Namespaces[name] = &Namespace{Name: name, Labels: labels.Set{NamespaceNameLabel: name}}
	return []finding.Problem{{File: file, Line: line, Level: finding.LevelNote,
		Message: fmt.Sprintf("namespace %q has no Namespace object in the input: assumed to exist with the single label %s=%s", name, NamespaceNameLabel, name)}}
}

func peerFromWorkload(w *workload.Workload) *Peer {
	p := &Peer{Namespace: w.Namespace(), Name: w.Ref.Name, Kind: w.Ref.Kind, Labels: labels.Set{}, NamedPorts: map[string][]NamedPort{}, Ref: w.Ref}
	if w.PodMeta != nil {
		for k, v := range w.PodMeta.Labels {
			p.Labels[k] = v
		}
	}
	if w.Source != nil {
		p.File, p.Line = w.Source.File, w.Source.Line
	}
	addNamedPorts(p, w.Spec)
	return p
}

// Peer returns the peer named "namespace/name[Kind]", or, when the kind is
// left out, the only workload of that namespace and name.
func (m *Model) Peer(name string) (*Peer, error) {
	if i, ok := m.peerIndex[name]; ok && i >= 0 {
		return m.Peers[i], nil
	}
	var found []*Peer
	for _, p := range m.Peers {
		if p.Namespace+"/"+p.Name == name || (!strings.Contains(name, "/") && p.Name == name) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no workload %q in the input", name)
	}
	names := make([]string, len(found))
	for i, p := range found {
		names[i] = p.String()
	}
	return nil, fmt.Errorf("workload %q is ambiguous: %s", name, strings.Join(names, ", "))
}

// CompilePolicy validates and compiles one policy. Errors name the policy
// and the field at fault; warnings are oddities that do not change meaning.
func CompilePolicy(np *networkingv1.NetworkPolicy) (_ *Policy, warnings []string, err error) {
	if np == nil {
		return nil, nil, errors.New("nil networkpolicy")
	}
	ns := np.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	p := &Policy{Namespace: ns, Name: np.Name, Source: np}
	fail := func(format string, args ...any) (*Policy, []string, error) {
		return nil, nil, &PolicyError{Policy: p.String(), Err: fmt.Errorf(format, args...)}
	}
	if np.Name == "" {
		return fail("metadata.name is empty")
	}
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return fail("spec.podSelector: %v", err)
	}
	p.Selector = sel
	p.AffectsIngress = len(np.Spec.PolicyTypes) == 0
	p.AffectsEgress = len(np.Spec.PolicyTypes) == 0 && len(np.Spec.Egress) > 0
	for i, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.AffectsIngress = true
		case networkingv1.PolicyTypeEgress:
			p.AffectsEgress = true
		default:
			return fail("spec.policyTypes[%d]: %q is neither Ingress nor Egress", i, t)
		}
	}
	for i, r := range np.Spec.Ingress {
		rule, w, err := compileRule(p, DirIngress, i, r.From, r.Ports)
		if err != nil {
			return fail("spec.ingress[%d]: %v", i, err)
		}
		warnings = append(warnings, w...)
		p.Ingress = append(p.Ingress, rule)
	}
	for i, r := range np.Spec.Egress {
		rule, w, err := compileRule(p, DirEgress, i, r.To, r.Ports)
		if err != nil {
			return fail("spec.egress[%d]: %v", i, err)
		}
		warnings = append(warnings, w...)
		p.Egress = append(p.Egress, rule)
	}
	if !p.AffectsIngress && len(p.Ingress) > 0 {
		warnings = append(warnings, "ingress rules are ignored: policyTypes does not include Ingress")
	}
	if !p.AffectsEgress && len(p.Egress) > 0 {
		warnings = append(warnings, "egress rules are ignored: policyTypes does not include Egress")
	}
	return p, warnings, nil
}

func compileRule(p *Policy, dir Direction, i int, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (*Rule, []string, error) {
	r := &Rule{Policy: p, Direction: dir, Index: i + 1, AllPeers: len(peers) == 0}
	field := "from"
	if dir == DirEgress {
		field = "to"
	}
	var warnings []string
	for j, peer := range peers {
		var rp RulePeer
		if peer.IPBlock != nil {
			if peer.PodSelector != nil || peer.NamespaceSelector != nil {
				return nil, nil, fmt.Errorf("%s[%d]: ipBlock cannot be combined with podSelector or namespaceSelector", field, j)
			}
			set, err := ParseIPBlock(peer.IPBlock.CIDR, peer.IPBlock.Except)
			if err != nil {
				return nil, nil, fmt.Errorf("%s[%d]: %w", field, j, err)
			}
			if w := overlappingExcepts(peer.IPBlock.Except); w != "" {
				warnings = append(warnings, fmt.Sprintf("spec.%s[%d].%s[%d]: %s", strings.ToLower(string(dir)), i, field, j, w))
			}
			for _, prev := range r.Peers {
				if prev.IsIP && overlaps(prev.IPBlock, set) {
					warnings = append(warnings, fmt.Sprintf("spec.%s[%d].%s[%d]: ipBlock %s overlaps another ipBlock of the same rule", strings.ToLower(string(dir)), i, field, j, peer.IPBlock.CIDR))
					break
				}
			}
			rp.IsIP, rp.IPBlock = true, set
			r.ips = unionIPs(r.ips, set)
			r.Peers = append(r.Peers, rp)
			continue
		}
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			return nil, nil, fmt.Errorf("%s[%d]: peer has no podSelector, namespaceSelector or ipBlock", field, j)
		}
		if peer.PodSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			if err != nil {
				return nil, nil, fmt.Errorf("%s[%d].podSelector: %w", field, j, err)
			}
			rp.PodSelector = s
		}
		if peer.NamespaceSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
			if err != nil {
				return nil, nil, fmt.Errorf("%s[%d].namespaceSelector: %w", field, j, err)
			}
			rp.NamespaceSelector = s
		}
		r.Peers = append(r.Peers, rp)
	}
	for j, port := range ports {
		rp := RulePort{Protocol: corev1.ProtocolTCP, Ports: AllPorts()}
		if port.Protocol != nil {
			rp.Protocol = *port.Protocol
		}
		if _, ok := protocolIndex(rp.Protocol); !ok {
			return nil, nil, fmt.Errorf("ports[%d].protocol: %q is not TCP, UDP or SCTP", j, rp.Protocol)
		}
		switch {
		case port.Port == nil:
			if port.EndPort != nil {
				return nil, nil, fmt.Errorf("ports[%d]: endPort needs a numeric port", j)
			}
		case port.Port.Type == intstr.String:
			if port.EndPort != nil {
				return nil, nil, fmt.Errorf("ports[%d]: endPort cannot be used with named port %q", j, port.Port.StrVal)
			}
			if errs := validation.IsValidPortName(port.Port.StrVal); len(errs) > 0 {
				return nil, nil, fmt.Errorf("ports[%d].port: %q: %s", j, port.Port.StrVal, strings.Join(errs, "; "))
			}
			rp.Named, rp.Ports = port.Port.StrVal, nil
			r.hasNamed = true
		default:
			from := port.Port.IntVal
			to := from
			if port.EndPort != nil {
				to = *port.EndPort
			}
			if from < MinPort || from > MaxPort {
				return nil, nil, fmt.Errorf("ports[%d].port: %d is out of range %d-%d", j, from, MinPort, MaxPort)
			}
			if to < MinPort || to > MaxPort {
				return nil, nil, fmt.Errorf("ports[%d].endPort: %d is out of range %d-%d", j, to, MinPort, MaxPort)
			}
			if to < from {
				return nil, nil, fmt.Errorf("ports[%d]: endPort %d is less than port %d", j, to, from)
			}
			rp.Ports = PortSet{{from, to}}
		}
		r.Ports = append(r.Ports, rp)
	}
	if !r.hasNamed {
		r.fixed = r.conns(nil)
	}
	return r, warnings, nil
}

func overlappingExcepts(excepts []string) string {
	sets := make([]IPSet, 0, len(excepts))
	for i, e := range excepts {
		s, err := ParseIPBlock(e, nil)
		if err != nil {
			continue
		}
		for j, prev := range sets {
			if overlaps(prev, s) {
				return fmt.Sprintf("except %q overlaps except %q", e, excepts[j])
			}
		}
		sets = append(sets, s)
		_ = i
	}
	return ""
}

func overlaps(a, b IPSet) bool {
	for _, x := range a {
		for _, y := range b {
			if x.First.Is4() == y.First.Is4() && !x.Last.Less(y.First) && !y.Last.Less(x.First) {
				return true
			}
		}
	}
	return false
}

func unionIPs(a, b IPSet) IPSet {
	all := append(append(IPSet{}, a...), b...)
	sort.Slice(all, func(i, j int) bool { return all[i].First.Less(all[j].First) })
	var out IPSet
	for _, r := range all {
		if n := len(out); n > 0 && out[n-1].First.Is4() == r.First.Is4() && !out[n-1].Last.Next().Less(r.First) {
			if out[n-1].Last.Less(r.Last) {
				out[n-1].Last = r.Last
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// conns are the connections the rule's ports allow toward dst (named
// ports resolve against dst's containers; with dst nil they match nothing).
func (r *Rule) conns(dst *Peer) ConnSet {
	if !r.hasNamed && dst != nil {
		return r.fixed
	}
	if len(r.Ports) == 0 {
		return AllConns()
	}
	var c ConnSet
	for _, p := range r.Ports {
		if p.Named == "" {
			c = c.Union(ConnsOf(p.Protocol, p.Ports))
			continue
		}
		if dst == nil {
			continue
		}
		for _, np := range dst.NamedPorts[p.Named] {
			// An admin policy's named port has no protocol: it
			// matches the container port's own.
			if (p.Protocol == "" || np.Protocol == p.Protocol) && np.Port >= MinPort && np.Port <= MaxPort {
				c = c.Union(ConnsOf(np.Protocol, PortSet{{np.Port, np.Port}}))
			}
		}
	}
	return c
}

// matchesPeer reports whether a rule peer selects a workload.
func (m *Model) matchesPeer(pol *Policy, rp RulePeer, q *Peer) bool {
	if rp.IsIP {
		return false
	}
	if rp.NamespaceSelector == nil {
		if q.Namespace != pol.Namespace {
			return false
		}
	} else {
		ns := m.Namespaces[q.Namespace]
		if ns == nil || !rp.NamespaceSelector.Matches(ns.Labels) {
			return false
		}
	}
	return rp.PodSelector == nil || rp.PodSelector.Matches(q.Labels)
}

type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i/64] |= 1 << (uint(i) % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }
func (b bitset) subsetOf(o bitset) bool {
	for i := range b {
		if b[i]&^o[i] != 0 {
			return false
		}
	}
	return true
}

// matching is the set of peers match holds for (every peer when all is set).
func (m *Model) matching(all bool, match func(*Peer) bool) bitset {
	b := newBitset(len(m.Peers))
	for _, q := range m.Peers {
		if all || match(q) {
			b.set(q.Index)
		}
	}
	return b
}

// index resolves selectors against the peers once, so that analysis is
// only set lookups.
func (m *Model) index() {
	n := len(m.Peers)
	m.ingressOf = make([][]*Rule, n)
	m.egressOf = make([][]*Rule, n)
	m.ingressIsolated = make([]bool, n)
	m.egressIsolated = make([]bool, n)
	var inBlocks, outBlocks []IPSet
	for _, pol := range m.Policies {
		pol.selected = pol.selected[:0]
		for _, q := range m.Peers {
			if q.Namespace == pol.Namespace && pol.Selector.Matches(q.Labels) {
				pol.selected = append(pol.selected, q.Index)
			}
		}
		for _, rules := range [][]*Rule{pol.Ingress, pol.Egress} {
			for _, r := range rules {
				r.matched = m.matching(r.AllPeers, func(q *Peer) bool {
					return slices.ContainsFunc(r.Peers, func(rp RulePeer) bool { return m.matchesPeer(pol, rp, q) })
				})
			}
		}
		if pol.AffectsIngress {
			for _, r := range pol.Ingress {
				inBlocks = append(inBlocks, r.ips)
			}
			for _, i := range pol.selected {
				m.ingressIsolated[i] = true
				m.ingressOf[i] = append(m.ingressOf[i], pol.Ingress...)
			}
		}
		if pol.AffectsEgress {
			for _, r := range pol.Egress {
				outBlocks = append(outBlocks, r.ips)
			}
			for _, i := range pol.selected {
				m.egressIsolated[i] = true
				m.egressOf[i] = append(m.egressOf[i], pol.Egress...)
			}
		}
	}
	m.indexAdmin()
	m.ingressAtoms = atoms(inBlocks)
	m.egressAtoms = atoms(append(outBlocks, m.adminBlocks()...))
}

// Selected returns the workloads a policy applies to.
func (m *Model) Selected(p *Policy) []*Peer {
	out := make([]*Peer, len(p.selected))
	for i, j := range p.selected {
		out[i] = m.Peers[j]
	}
	return out
}
