package netpol

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2, the
// network-policy-api project) replaces the v1alpha1 AdminNetworkPolicy
// and BaselineAdminNetworkPolicy with one kind and a tier:
//
//  1. Admin tier ClusterNetworkPolicies selecting the pod, lowest
//     priority value first (0-1000), each one's rules in order: the first
//     rule matching the peer and port decides. Accept and Deny are final;
//     Pass skips the rest of the Admin tier;
//  2. NetworkPolicies, when some policy isolates the pod in that direction;
//  3. otherwise Baseline tier ClusterNetworkPolicies, by priority and rule
//     order: Accept and Deny are final, Pass hands the traffic to the
//     default;
//  4. otherwise the traffic is allowed.
//
// The API does not say how v1alpha1 and v1alpha2 policies compose, so an
// input with both is an error: the v1alpha1 policies are left out and the
// analysis says it is incomplete.
//
// Egress peers may be nodes (the addresses in node.status.addresses of
// the nodes the selector matches) and domain names (matched by DNS at run
// time). Node addresses are known when the input has Node objects (a
// cluster read, or Node manifests); otherwise a nodes peer could match any
// external address. A domain name could resolve to any external address.
// Either way, a connection to an external address whose verdict such a
// rule could change is unknown (Connection.Unknown), never shown as
// allowed or denied. Domain names are taken to name hosts outside the
// cluster: a name under cluster.local is an error.

// KindClusterNetworkPolicy is the v1alpha2 kind.
const (
	KindClusterNetworkPolicy = "ClusterNetworkPolicy"
	// ClusterAPIVersion is the one version of ClusterNetworkPolicy the
	// model reads (CompileClusterNetworkPolicy refuses any other).
	ClusterAPIVersion = adminGroup + "/v1alpha2"
	// ActionAccept is the v1alpha2 name of Allow.
	ActionAccept = "Accept"
	// TierAdmin and TierBaseline are the tiers of a ClusterNetworkPolicy.
	TierAdmin    = "Admin"
	TierBaseline = "Baseline"
)

// maxCNPItems bounds each list of a ClusterNetworkPolicy, as its schema does.
const maxCNPItems = 25

// The wire forms of a ClusterNetworkPolicy, decoded strictly.
type (
	cnpObject struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Spec       cnpSpec           `json:"spec"`
		Status     json.RawMessage   `json:"status,omitempty"`
	}
	cnpSpec struct {
		Tier     string     `json:"tier"`
		Priority *int32     `json:"priority"`
		Subject  anpSubject `json:"subject"`
		Ingress  []cnpRule  `json:"ingress,omitempty"`
		Egress   []cnpRule  `json:"egress,omitempty"`
	}
	cnpRule struct {
		Name      string         `json:"name,omitempty"`
		Action    string         `json:"action"`
		From      []anpPeer      `json:"from,omitempty"`
		To        []anpPeer      `json:"to,omitempty"`
		Protocols *[]cnpProtocol `json:"protocols,omitempty"`
	}
	cnpProtocol struct {
		TCP                  *cnpProtocolPort `json:"tcp,omitempty"`
		UDP                  *cnpProtocolPort `json:"udp,omitempty"`
		SCTP                 *cnpProtocolPort `json:"sctp,omitempty"`
		DestinationNamedPort *string          `json:"destinationNamedPort,omitempty"`
	}
	cnpProtocolPort struct {
		DestinationPort *struct {
			Number *int32 `json:"number,omitempty"`
			Range  *struct {
				Start int32 `json:"start"`
				End   int32 `json:"end"`
			} `json:"range,omitempty"`
		} `json:"destinationPort,omitempty"`
	}
)

func isClusterKind(group, kind string) bool {
	return group == adminGroup && kind == KindClusterNetworkPolicy
}

// CompileClusterNetworkPolicy decodes and validates a ClusterNetworkPolicy
// (policy.networking.k8s.io/v1alpha2). Errors name the policy and the
// field: an unknown field, action, tier or peer kind is an error, never
// read as allowing anything.
func CompileClusterNetworkPolicy(data []byte) (*AdminPolicy, error) {
	var obj cnpObject
	err := decodeStrict(data, &obj)
	p := &AdminPolicy{Kind: KindClusterNetworkPolicy, Name: obj.Metadata.Name}
	fail := func(format string, args ...any) (*AdminPolicy, error) {
		return nil, fmt.Errorf("%s %s: %s", p.Kind, p.Name, fmt.Sprintf(format, args...))
	}
	if err != nil {
		return fail("%v", err)
	}
	if obj.Kind != KindClusterNetworkPolicy {
		return fail("kind %q is not %s", obj.Kind, KindClusterNetworkPolicy)
	}
	if obj.APIVersion != ClusterAPIVersion {
		return fail("apiVersion %q is not %s", obj.APIVersion, ClusterAPIVersion)
	}
	if p.Name == "" {
		return fail("metadata.name is empty")
	}
	switch obj.Spec.Tier {
	case TierAdmin, TierBaseline:
		p.Tier = obj.Spec.Tier
	default:
		return fail("spec.tier: %q is not Admin or Baseline", obj.Spec.Tier)
	}
	if obj.Spec.Priority == nil {
		return fail("spec.priority is required")
	}
	p.Priority = *obj.Spec.Priority
	if p.Priority < 0 || p.Priority > 1000 {
		return fail("spec.priority: %d is out of range 0-1000", p.Priority)
	}
	if p.subject, err = compileSubject(obj.Spec.Subject); err != nil {
		return fail("spec.subject: %v", err)
	}
	if err := compileRules(p, obj.Spec.Ingress, obj.Spec.Egress, maxCNPItems, compileCNPRule); err != nil {
		return fail("%v", err)
	}
	return p, nil
}

func compileCNPRule(p *AdminPolicy, dir Direction, i int, cr cnpRule) (*AdminRule, error) {
	r := &AdminRule{Rule: Rule{Direction: dir, Index: i + 1}, Admin: p, Name: cr.Name, Action: cr.Action}
	switch cr.Action {
	case ActionAccept, ActionDeny, ActionPass:
	default:
		return nil, fmt.Errorf("action: %q is not Accept, Deny or Pass", cr.Action)
	}
	if len(cr.Name) > 100 {
		return nil, errors.New("name: longer than 100 characters")
	}
	if err := rulePeers(r, cr.From, cr.To, maxCNPItems); err != nil {
		return nil, err
	}
	if cr.Protocols != nil {
		if len(*cr.Protocols) == 0 || len(*cr.Protocols) > maxCNPItems {
			return nil, fmt.Errorf("protocols: needs 1 to %d entries, has %d", maxCNPItems, len(*cr.Protocols))
		}
		for j, proto := range *cr.Protocols {
			rp, err := compileCNPProtocol(proto)
			if err != nil {
				return nil, fmt.Errorf("protocols[%d]: %w", j, err)
			}
			if rp.Named != "" && (len(r.nets) > 0 || len(r.nodeSel) > 0 || len(r.domains) > 0) {
				return nil, fmt.Errorf("protocols[%d]: destinationNamedPort cannot be used with networks, nodes or domainNames peers (they have no named ports)", j)
			}
			r.hasNamed = r.hasNamed || rp.Named != ""
			r.Ports = append(r.Ports, rp)
		}
	}
	if !r.hasNamed {
		r.fixed = r.conns(nil)
	}
	return r, nil
}

func compileCNPProtocol(proto cnpProtocol) (RulePort, error) {
	var rp RulePort
	set := 0
	for _, c := range []struct {
		p    corev1.Protocol
		port *cnpProtocolPort
	}{{corev1.ProtocolTCP, proto.TCP}, {corev1.ProtocolUDP, proto.UDP}, {corev1.ProtocolSCTP, proto.SCTP}} {
		if c.port == nil {
			continue
		}
		set++
		field := strings.ToLower(string(c.p))
		rp.Protocol = c.p
		dp := c.port.DestinationPort
		if dp == nil {
			return rp, fmt.Errorf("%s.destinationPort is required", field)
		}
		switch {
		case dp.Number != nil && dp.Range == nil:
			n := *dp.Number
			if n < MinPort || n > MaxPort {
				return rp, fmt.Errorf("%s.destinationPort.number: %d is out of range %d-%d", field, n, MinPort, MaxPort)
			}
			rp.Ports = PortSet{{n, n}}
		case dp.Range != nil && dp.Number == nil:
			from, to := dp.Range.Start, dp.Range.End
			if from < MinPort || from > MaxPort || to < MinPort || to > MaxPort {
				return rp, fmt.Errorf("%s.destinationPort.range: %d-%d is out of range %d-%d", field, from, to, MinPort, MaxPort)
			}
			if from >= to {
				return rp, fmt.Errorf("%s.destinationPort.range: start %d must be less than end %d", field, from, to)
			}
			rp.Ports = PortSet{{from, to}}
		default:
			return rp, fmt.Errorf("%s.destinationPort: exactly one of number and range must be set", field)
		}
	}
	if proto.DestinationNamedPort != nil {
		set++
		if errs := validation.IsValidPortName(*proto.DestinationNamedPort); len(errs) > 0 {
			return rp, fmt.Errorf("destinationNamedPort: %q: %s", *proto.DestinationNamedPort, strings.Join(errs, "; "))
		}
		rp.Named, rp.Protocol = *proto.DestinationNamedPort, ""
	}
	if set != 1 {
		return rp, errors.New("exactly one of tcp, udp, sctp and destinationNamedPort must be set")
	}
	return rp, nil
}

// compilePeers reads a rule's from or to list (either version): at most
// max peers, each exactly one kind.
func compilePeers(r *AdminRule, field string, peers []anpPeer, max int) error {
	if len(peers) == 0 || len(peers) > max {
		return fmt.Errorf("%s: needs 1 to %d peers, has %d", field, max, len(peers))
	}
	egressOnly := func(j int, what string) error {
		if r.Direction == DirIngress {
			return fmt.Errorf("%s[%d]: %s are egress peers only", field, j, what)
		}
		return nil
	}
	for j, peer := range peers {
		set := 0
		for _, isSet := range []bool{peer.Namespaces != nil, peer.Pods != nil, peer.Networks != nil, peer.Nodes != nil, peer.DomainNames != nil} {
			if isSet {
				set++
			}
		}
		if set != 1 {
			return fmt.Errorf("%s[%d]: exactly one of namespaces, pods, networks, nodes and domainNames must be set", field, j)
		}
		switch {
		case peer.Namespaces != nil:
			ns, err := metav1.LabelSelectorAsSelector(peer.Namespaces)
			if err != nil {
				return fmt.Errorf("%s[%d].namespaces: %w", field, j, err)
			}
			r.peers = append(r.peers, adminPeer{ns: ns})
		case peer.Pods != nil:
			ap, err := compileNamespacedPod(peer.Pods)
			if err != nil {
				return fmt.Errorf("%s[%d].pods.%w", field, j, err)
			}
			r.peers = append(r.peers, ap)
		case peer.Networks != nil:
			if err := egressOnly(j, "networks"); err != nil {
				return err
			}
			if len(peer.Networks) == 0 || len(peer.Networks) > max {
				return fmt.Errorf("%s[%d].networks: needs 1 to %d CIDRs, has %d", field, j, max, len(peer.Networks))
			}
			for k, cidr := range peer.Networks {
				set, err := ParseIPBlock(cidr, nil)
				if err != nil {
					return fmt.Errorf("%s[%d].networks[%d]: %w", field, j, k, err)
				}
				if coversUniverse(set) {
					r.allPods = true
				}
				r.nets = unionIPs(r.nets, set)
			}
		case peer.Nodes != nil:
			if err := egressOnly(j, "nodes"); err != nil {
				return err
			}
			sel, err := metav1.LabelSelectorAsSelector(peer.Nodes)
			if err != nil {
				return fmt.Errorf("%s[%d].nodes: %w", field, j, err)
			}
			r.nodeSel = append(r.nodeSel, sel)
		default:
			if err := egressOnly(j, "domainNames"); err != nil {
				return err
			}
			if r.Action != ActionAllow && r.Action != ActionAccept {
				return fmt.Errorf("%s[%d].domainNames: only %s rules may name domains, not %s", field, j, map[bool]string{true: ActionAccept, false: ActionAllow}[r.Admin.Kind == KindClusterNetworkPolicy], r.Action)
			}
			if len(peer.DomainNames) == 0 || len(peer.DomainNames) > max {
				return fmt.Errorf("%s[%d].domainNames: needs 1 to %d names, has %d", field, j, max, len(peer.DomainNames))
			}
			for k, name := range peer.DomainNames {
				if err := checkDomainName(name); err != nil {
					return fmt.Errorf("%s[%d].domainNames[%d]: %w", field, j, k, err)
				}
				r.domains = append(r.domains, name)
			}
		}
	}
	r.ips = r.nets
	return nil
}

// checkDomainName follows the API's pattern: dot-separated labels of
// letters, digits, '-' and '_' (not at either end), at least two labels,
// an optional "*." prefix and trailing dot. Names of the cluster's own
// DNS (cluster.local) could resolve to pods, which the model does not
// match by name: they are refused.
func checkDomainName(name string) error {
	if len(name) > 253 {
		return fmt.Errorf("%q: longer than 253 characters", name)
	}
	s := strings.TrimSuffix(strings.TrimPrefix(name, "*."), ".")
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return fmt.Errorf("%q is not a domain name of two or more labels", name)
	}
	for _, l := range parts {
		if l == "" || len(l) > 63 || l[0] == '-' || l[0] == '_' || l[len(l)-1] == '-' || l[len(l)-1] == '_' {
			return fmt.Errorf("%q: label %q is not valid", name, l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q: label %q is not valid", name, l)
			}
		}
	}
	if l := strings.ToLower(s); l == "cluster.local" || strings.HasSuffix(l, ".cluster.local") {
		return fmt.Errorf("%q names the cluster's own DNS (it may resolve to pods): not modelled", name)
	}
	return nil
}

// Node is a node of the input: its labels and addresses, which nodes
// peers select.
type Node struct {
	Name   string
	Labels labels.Set
	Addrs  []netip.Addr
}

// nodeOf reads a Node object's labels and the IP addresses of its
// status.addresses (host names are not addresses). The labels are
// shared, never written: the runtime sensor's model reads them from its
// informer's cache without a copy per node.
func nodeOf(n *corev1.Node) *Node {
	out := &Node{Name: n.Name, Labels: labels.Set(n.Labels)}
	for _, a := range n.Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			out.Addrs = append(out.Addrs, ip.Unmap())
		}
	}
	return out
}

// resolveNodes sets a rule's addresses: its networks and, when the
// model knows the nodes, the addresses of the nodes its nodes peers
// select. A rule is uncertain for external addresses when it names
// domains, or nodes the model does not know.
func (m *Model) resolveNodes(r *AdminRule) {
	r.ips = r.nets
	r.uncertain = len(r.domains) > 0 || (len(r.nodeSel) > 0 && !m.NodesKnown)
	if len(r.nodeSel) == 0 || !m.NodesKnown {
		return
	}
	for _, n := range m.Nodes {
		for _, sel := range r.nodeSel {
			if sel.Matches(n.Labels) {
				for _, a := range n.Addrs {
					r.ips = unionIPs(r.ips, IPSet{{First: a, Last: a}})
				}
				break
			}
		}
	}
}

// maxUncertain bounds the rules whose match is unknown for one
// connection: each combination of them is evaluated (2^n); past the
// bound every connection of the pair is unknown.
const maxUncertain = 8

// tieredUnknown is tiered where some rules may or may not match the
// other end (maybe): what every combination allows is allowed; what some
// allow and others deny is unknown.
func tieredUnknown(admin, base []*AdminRule, hit func(*AdminRule) bool, maybe func(*AdminRule) bool, dst *Peer, np func() (ConnSet, bool)) (allowed, unknown ConnSet) {
	var open []*AdminRule
	for _, rules := range [][]*AdminRule{admin, base} {
		for _, r := range rules {
			if !hit(r) && maybe(r) {
				open = append(open, r)
			}
		}
	}
	if len(open) == 0 {
		return tiered(admin, base, hit, dst, np), NoConns()
	}
	if len(open) > maxUncertain {
		return NoConns(), AllConns()
	}
	sure, some := AllConns(), NoConns()
	for mask := 0; mask < 1<<len(open); mask++ {
		on := map[*AdminRule]bool{}
		for i, r := range open {
			if mask&(1<<i) != 0 {
				on[r] = true
			}
		}
		c := tiered(admin, base, func(r *AdminRule) bool { return hit(r) || on[r] }, dst, np)
		sure, some = sure.Intersect(c), some.Union(c)
	}
	return sure, some.Subtract(sure)
}

// uncertainWhy says why a rule may match an external address.
func (r *AdminRule) uncertainWhy() string {
	if len(r.domains) > 0 {
		return fmt.Sprintf("domain names %s resolve at run time: whether the address is theirs is unknown", strings.Join(r.domains, ", "))
	}
	return "nodes peer needs node addresses (no Node objects in the input): whether the address is a node's is unknown"
}

// readNodes reads the input's Node objects (typed from a cluster, or
// decoded from a manifest's JSON) and warns of each rule whose peers the
// model can only partly place: its connections to external addresses may
// be unknown.
func (m *Model) readNodes(inv *workload.Inventory) []finding.Problem {
	var probs []finding.Problem
	for _, o := range inv.Objects {
		if o.Ref.Kind != "Node" || o.Ref.APIVersion != "v1" {
			continue
		}
		n, _ := o.Typed.(*corev1.Node)
		if n == nil && o.Source != nil {
			n = &corev1.Node{}
			if err := json.Unmarshal(o.Source.JSON, n); err != nil {
				probs = append(probs, finding.Problem{File: o.Source.File, Line: o.Source.Line, Level: finding.LevelError,
					Message: fmt.Sprintf("Node %s: %v: node addresses are unknown", o.Ref.Name, err)})
				m.nodesBroken = true
				continue
			}
		}
		if n != nil {
			m.Nodes = append(m.Nodes, nodeOf(n))
		}
	}
	m.NodesKnown = len(m.Nodes) > 0 && !m.nodesBroken
	for _, pol := range m.allAdmin() {
		for _, r := range pol.Egress {
			switch {
			case len(r.domains) > 0:
				probs = append(probs, finding.Problem{File: pol.File, Line: pol.Line, Level: finding.LevelWarning,
					Message: fmt.Sprintf("%s: domain names resolve at run time: connections to external addresses whose verdict it could change are shown as unknown", r)})
			case len(r.nodeSel) > 0 && !m.NodesKnown:
				probs = append(probs, finding.Problem{File: pol.File, Line: pol.Line, Level: finding.LevelWarning,
					Message: fmt.Sprintf("%s: cannot judge: nodes peer needs node addresses (no Node objects in the input): connections to external addresses whose verdict it could change are shown as unknown", r)})
			}
		}
	}
	return probs
}

// EgressIsolated reports whether NetworkPolicies isolate p for egress.
func (m *Model) EgressIsolated(p *Peer) bool { return m.egressIsolated[p.Index] }

// EgressToNode is what src may open to a, an address of one of the
// cluster's nodes (not src's own: traffic to it is always allowed), and
// what is unknown. The admin tiers judge node addresses as the API
// defines them (nodes peers select them, networks peers hold them); the
// NetworkPolicy API leaves it to the implementation whether ipBlocks
// apply to node addresses. So when NetworkPolicies isolate src for
// egress, what their ipBlocks would add is unknown: a connection is
// allowed only if the tiers allow it whether the NetworkPolicies allow
// all of it to a or only what their rules without peers (every
// destination) allow, and unknown if the answer differs.
func (m *Model) EgressToNode(src *Peer, a netip.Addr) (allowed, unknown ConnSet) {
	at := IPRange{First: a, Last: a}
	if !m.egressIsolated[src.Index] {
		return m.egressToExternal(src, at)
	}
	hit := func(r *AdminRule) bool { return r.ips.containsRange(at) }
	maybe := func(r *AdminRule) bool { return r.uncertain }
	all, allUnknown := tieredUnknown(m.adminOut[src.Index], m.baseOut[src.Index], hit, maybe, nil, func() (ConnSet, bool) { return AllConns(), true })
	sure := NoConns()
	for _, r := range m.egressOf[src.Index] {
		if r.AllPeers {
			sure = sure.Union(r.conns(nil))
		}
	}
	none, noneUnknown := tieredUnknown(m.adminOut[src.Index], m.baseOut[src.Index], hit, maybe, nil, func() (ConnSet, bool) { return sure, true })
	allowed = all.Intersect(none)
	return allowed, all.Union(allUnknown).Union(none).Union(noneUnknown).Subtract(allowed)
}
