package netpol

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// AdminNetworkPolicy and BaselineAdminNetworkPolicy
// (policy.networking.k8s.io/v1alpha1, the network-policy-api project) are
// cluster-wide tiers around NetworkPolicies. For each direction of a
// connection:
//
//  1. the AdminNetworkPolicies selecting the pod, lowest priority value
//     first and each one's rules in order: the first rule matching the
//     peer and port decides. Allow and Deny are final; Pass hands the
//     traffic to the next tiers;
//  2. NetworkPolicies, when some policy isolates the pod in that direction;
//  3. otherwise the BaselineAdminNetworkPolicy (a singleton named
//     "default"): its first matching rule allows or denies;
//  4. otherwise the traffic is allowed.
//
// Rule peers are namespaces or namespaced pods (and, for egress, networks:
// CIDRs). As with ipBlocks, a network matches external addresses only,
// except one covering a whole address family (0.0.0.0/0, ::/0), which
// surely holds every pod's address too. Egress nodes and domainNames
// peers are judged as for a ClusterNetworkPolicy (see cnp.go): against
// Node objects' addresses when the input has them, otherwise the
// connections they could change are unknown.

// Kinds of the admin tiers.
const (
	KindAdminNetworkPolicy         = "AdminNetworkPolicy"
	KindBaselineAdminNetworkPolicy = "BaselineAdminNetworkPolicy"
	adminGroup                     = "policy.networking.k8s.io"
	adminVersion                   = adminGroup + "/v1alpha1"
	// AdminAPIVersion is the one version of the admin tiers the model
	// reads (CompileAdminPolicy refuses any other): a live reader (the
	// node sensor's policy intent) watches this version and treats the
	// kinds served in any other as not modelled.
	AdminAPIVersion = adminVersion
)

// Admin rule actions.
const (
	ActionAllow = "Allow"
	ActionDeny  = "Deny"
	ActionPass  = "Pass"
)

// maxAdminRules bounds each list of rules and peers, as the API's schema does.
const maxAdminRules = 100

// AdminPolicy is a compiled AdminNetworkPolicy or BaselineAdminNetworkPolicy.
type AdminPolicy struct {
	Kind, Name string
	// Priority orders AdminNetworkPolicies (lower first); 0 for the baseline.
	Priority int32
	// Tier is a ClusterNetworkPolicy's tier (Admin or Baseline); "" for
	// the v1alpha1 kinds.
	Tier     string
	subject  adminPeer
	Ingress  []*AdminRule
	Egress   []*AdminRule
	File     string
	Line     int
	selected []int
}

// String names the policy: "AdminNetworkPolicy name".
func (p *AdminPolicy) String() string { return p.Kind + " " + p.Name }

// AdminRule is one rule of an admin policy. Its embedded Rule holds the
// ports (and is never part of a NetworkPolicy).
type AdminRule struct {
	Rule
	Admin  *AdminPolicy
	Name   string
	Action string
	peers  []adminPeer
	// allPods is set by a network covering a whole address family.
	allPods bool
	// nets are the networks peers' addresses; ips (Rule's) adds the
	// addresses of the nodes nodeSel selects, when the model knows them.
	nets    IPSet
	nodeSel []labels.Selector
	domains []string
	// uncertain: the rule may match an external address the model cannot
	// place (a domain name's, or a node's when nodes are not known).
	uncertain bool
}

// String names the rule as explanations show it.
func (r *AdminRule) String() string {
	s := fmt.Sprintf("%s %s rule #%d", r.Admin, r.Direction, r.Index)
	switch r.Admin.Kind {
	case KindAdminNetworkPolicy:
		s = fmt.Sprintf("%s (priority %d) %s rule #%d", r.Admin, r.Admin.Priority, r.Direction, r.Index)
	case KindClusterNetworkPolicy:
		s = fmt.Sprintf("%s (%s tier, priority %d) %s rule #%d", r.Admin, r.Admin.Tier, r.Admin.Priority, r.Direction, r.Index)
	}
	if r.Name != "" {
		s += " " + fmt.Sprintf("%q", r.Name)
	}
	return s
}

// adminPeer selects pods: those of namespaces matching ns (nil: none),
// and among them those matching pods (nil: all).
type adminPeer struct {
	ns, pods labels.Selector
}

// String shows the selectors as a subject or peer names them.
func (a adminPeer) String() string {
	switch {
	case a.ns == nil:
		return "nothing"
	case a.pods == nil:
		return fmt.Sprintf("namespaces %q", a.ns.String())
	}
	return fmt.Sprintf("pods %q of namespaces %q", a.pods.String(), a.ns.String())
}

func (a adminPeer) matches(m *Model, q *Peer) bool {
	if a.ns == nil {
		return false
	}
	ns := m.Namespaces[q.Namespace]
	if ns == nil || !a.ns.Matches(ns.Labels) {
		return false
	}
	return a.pods == nil || a.pods.Matches(q.Labels)
}

// The wire forms, decoded strictly: a field this analysis does not know
// may change the policy's meaning, so it is an error, not ignored.
type (
	anpObject struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Spec       anpSpec           `json:"spec"`
		Status     json.RawMessage   `json:"status,omitempty"`
	}
	anpSpec struct {
		Priority *int32     `json:"priority,omitempty"`
		Subject  anpSubject `json:"subject"`
		Ingress  []anpRule  `json:"ingress,omitempty"`
		Egress   []anpRule  `json:"egress,omitempty"`
	}
	anpSubject struct {
		Namespaces *metav1.LabelSelector `json:"namespaces,omitempty"`
		Pods       *anpNamespacedPod     `json:"pods,omitempty"`
	}
	anpNamespacedPod struct {
		NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`
		PodSelector       metav1.LabelSelector `json:"podSelector"`
	}
	anpRule struct {
		Name   string     `json:"name,omitempty"`
		Action string     `json:"action"`
		From   []anpPeer  `json:"from,omitempty"`
		To     []anpPeer  `json:"to,omitempty"`
		Ports  *[]anpPort `json:"ports,omitempty"`
	}
	anpPeer struct {
		Namespaces  *metav1.LabelSelector `json:"namespaces,omitempty"`
		Pods        *anpNamespacedPod     `json:"pods,omitempty"`
		Networks    []string              `json:"networks,omitempty"`
		Nodes       *metav1.LabelSelector `json:"nodes,omitempty"`
		DomainNames []string              `json:"domainNames,omitempty"`
	}
	anpPort struct {
		PortNumber *struct {
			Protocol corev1.Protocol `json:"protocol,omitempty"`
			Port     int32           `json:"port"`
		} `json:"portNumber,omitempty"`
		NamedPort *string `json:"namedPort,omitempty"`
		PortRange *struct {
			Protocol corev1.Protocol `json:"protocol,omitempty"`
			Start    int32           `json:"start"`
			End      int32           `json:"end"`
		} `json:"portRange,omitempty"`
	}
)

// isAdminKind reports the kinds CompileAdminPolicy reads.
func isAdminKind(group, kind string) bool {
	return group == adminGroup && (kind == KindAdminNetworkPolicy || kind == KindBaselineAdminNetworkPolicy)
}

// CompileAdminPolicy decodes and validates an AdminNetworkPolicy or
// BaselineAdminNetworkPolicy. Errors name the policy and the field.
func CompileAdminPolicy(data []byte) (*AdminPolicy, error) {
	var obj anpObject
	err := decodeStrict(data, &obj)
	p := &AdminPolicy{Kind: obj.Kind, Name: obj.Metadata.Name}
	fail := func(format string, args ...any) (*AdminPolicy, error) {
		return nil, fmt.Errorf("%s %s: %s", p.Kind, p.Name, fmt.Sprintf(format, args...))
	}
	if err != nil {
		return fail("%v", err)
	}
	if obj.APIVersion != adminVersion {
		return fail("apiVersion %q is not %s", obj.APIVersion, adminVersion)
	}
	if p.Name == "" {
		return fail("metadata.name is empty")
	}
	switch p.Kind {
	case KindAdminNetworkPolicy:
		if obj.Spec.Priority == nil {
			return fail("spec.priority is required")
		}
		p.Priority = *obj.Spec.Priority
		if p.Priority < 0 || p.Priority > 1000 {
			return fail("spec.priority: %d is out of range 0-1000", p.Priority)
		}
	case KindBaselineAdminNetworkPolicy:
		if obj.Spec.Priority != nil {
			return fail("spec.priority: a BaselineAdminNetworkPolicy has none")
		}
		if p.Name != "default" {
			return fail(`metadata.name must be "default" (the API allows one BaselineAdminNetworkPolicy)`)
		}
	default:
		return fail("not an admin network policy kind")
	}
	if p.subject, err = compileSubject(obj.Spec.Subject); err != nil {
		return fail("spec.subject: %v", err)
	}
	if err := compileRules(p, obj.Spec.Ingress, obj.Spec.Egress, maxAdminRules, compileAdminRule); err != nil {
		return fail("%v", err)
	}
	return p, nil
}

// compileRules compiles a policy's ingress and egress rules (either
// version) into p, at most max of each; errors name the rule.
func compileRules[R any](p *AdminPolicy, ingress, egress []R, max int, compile func(*AdminPolicy, Direction, int, R) (*AdminRule, error)) error {
	for _, dir := range []Direction{DirIngress, DirEgress} {
		rules, field := ingress, "spec.ingress"
		if dir == DirEgress {
			rules, field = egress, "spec.egress"
		}
		if len(rules) > max {
			return fmt.Errorf("%s: %d rules, at most %d allowed", field, len(rules), max)
		}
		for i, raw := range rules {
			r, err := compile(p, dir, i, raw)
			if err != nil {
				return fmt.Errorf("%s[%d]: %w", field, i, err)
			}
			if dir == DirIngress {
				p.Ingress = append(p.Ingress, r)
			} else {
				p.Egress = append(p.Egress, r)
			}
		}
	}
	return nil
}

// rulePeers picks a rule's peers for its direction (from for ingress, to
// for egress) and compiles them into r; the other list must be empty.
func rulePeers(r *AdminRule, from, to []anpPeer, max int) error {
	field, peers, other := "from", from, to
	if r.Direction == DirEgress {
		field, peers, other = "to", to, from
	}
	if len(other) > 0 {
		return fmt.Errorf("an %s rule has no %q", strings.ToLower(string(r.Direction)), map[string]string{"from": "to", "to": "from"}[field])
	}
	return compilePeers(r, field, peers, max)
}

func compileSubject(s anpSubject) (adminPeer, error) {
	switch {
	case s.Namespaces != nil && s.Pods == nil:
		ns, err := metav1.LabelSelectorAsSelector(s.Namespaces)
		return adminPeer{ns: ns}, err
	case s.Pods != nil && s.Namespaces == nil:
		return compileNamespacedPod(s.Pods)
	}
	return adminPeer{}, errors.New("exactly one of namespaces and pods must be set")
}

func compileNamespacedPod(np *anpNamespacedPod) (adminPeer, error) {
	ns, err := metav1.LabelSelectorAsSelector(&np.NamespaceSelector)
	if err != nil {
		return adminPeer{}, fmt.Errorf("namespaceSelector: %w", err)
	}
	pods, err := metav1.LabelSelectorAsSelector(&np.PodSelector)
	if err != nil {
		return adminPeer{}, fmt.Errorf("podSelector: %w", err)
	}
	return adminPeer{ns: ns, pods: pods}, nil
}

func compileAdminRule(p *AdminPolicy, dir Direction, i int, ar anpRule) (*AdminRule, error) {
	r := &AdminRule{Rule: Rule{Direction: dir, Index: i + 1}, Admin: p, Name: ar.Name, Action: ar.Action}
	switch ar.Action {
	case ActionAllow, ActionDeny:
	case ActionPass:
		if p.Kind == KindBaselineAdminNetworkPolicy {
			return nil, errors.New(`action: "Pass" is not allowed in a BaselineAdminNetworkPolicy`)
		}
	default:
		return nil, fmt.Errorf("action: %q is not Allow, Deny or Pass", ar.Action)
	}
	if len(ar.Name) > 100 {
		return nil, errors.New("name: longer than 100 characters")
	}
	if err := rulePeers(r, ar.From, ar.To, maxAdminRules); err != nil {
		return nil, err
	}
	if ar.Ports != nil {
		if len(*ar.Ports) == 0 || len(*ar.Ports) > maxAdminRules {
			return nil, fmt.Errorf("ports: needs 1 to %d entries, has %d", maxAdminRules, len(*ar.Ports))
		}
		for j, port := range *ar.Ports {
			rp, err := compileAdminPort(port)
			if err != nil {
				return nil, fmt.Errorf("ports[%d]: %w", j, err)
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

func compileAdminPort(port anpPort) (RulePort, error) {
	rp := RulePort{Protocol: corev1.ProtocolTCP}
	set := 0
	if port.PortNumber != nil {
		set++
		if port.PortNumber.Protocol != "" {
			rp.Protocol = port.PortNumber.Protocol
		}
		n := port.PortNumber.Port
		if n < MinPort || n > MaxPort {
			return rp, fmt.Errorf("portNumber.port: %d is out of range %d-%d", n, MinPort, MaxPort)
		}
		rp.Ports = PortSet{{n, n}}
	}
	if port.PortRange != nil {
		set++
		if port.PortRange.Protocol != "" {
			rp.Protocol = port.PortRange.Protocol
		}
		from, to := port.PortRange.Start, port.PortRange.End
		if from < MinPort || from > MaxPort || to < MinPort || to > MaxPort {
			return rp, fmt.Errorf("portRange: %d-%d is out of range %d-%d", from, to, MinPort, MaxPort)
		}
		if from >= to {
			return rp, fmt.Errorf("portRange: start %d must be less than end %d", from, to)
		}
		rp.Ports = PortSet{{from, to}}
	}
	if port.NamedPort != nil {
		set++
		if errs := validation.IsValidPortName(*port.NamedPort); len(errs) > 0 {
			return rp, fmt.Errorf("namedPort: %q: %s", *port.NamedPort, strings.Join(errs, "; "))
		}
		// A named port matches the destination pod's container port of
		// that name, whatever its protocol.
		rp.Named, rp.Protocol = *port.NamedPort, ""
	}
	if set != 1 {
		return rp, errors.New("exactly one of portNumber, portRange and namedPort must be set")
	}
	if _, ok := protocolIndex(rp.Protocol); !ok && rp.Named == "" {
		return rp, fmt.Errorf("protocol: %q is not TCP, UDP or SCTP", rp.Protocol)
	}
	return rp, nil
}

// adminTiers compiles the admin policies of the inventory: the Admin
// tier (AdminNetworkPolicies or Admin tier ClusterNetworkPolicies) sorted
// by priority, then name; the BaselineAdminNetworkPolicy; the Baseline
// tier ClusterNetworkPolicies, sorted alike. Problems name the object.
func adminTiers(inv *workload.Inventory) (admin []*AdminPolicy, baseline *AdminPolicy, baselines []*AdminPolicy, probs []finding.Problem) {
	var cnpAdmin []*AdminPolicy
	for _, o := range inv.Objects {
		group, _, _ := strings.Cut(o.Ref.APIVersion, "/")
		if o.Source == nil || !isAdminKind(group, o.Ref.Kind) && !isClusterKind(group, o.Ref.Kind) {
			continue
		}
		compile := CompileAdminPolicy
		if o.Ref.Kind == KindClusterNetworkPolicy {
			compile = CompileClusterNetworkPolicy
		}
		p, err := compile(o.Source.JSON)
		if err != nil {
			probs = append(probs, finding.Problem{File: o.Source.File, Line: o.Source.Line, Level: finding.LevelError, Message: err.Error()})
			continue
		}
		p.File, p.Line = o.Source.File, o.Source.Line
		switch {
		case p.Tier == TierAdmin:
			cnpAdmin = append(cnpAdmin, p)
		case p.Tier == TierBaseline:
			baselines = append(baselines, p)
		case p.Kind == KindBaselineAdminNetworkPolicy:
			if baseline != nil {
				probs = append(probs, finding.Problem{File: p.File, Line: p.Line, Level: finding.LevelError, Message: p.String() + ": a second BaselineAdminNetworkPolicy; the first one is used"})
				continue
			}
			baseline = p
		default:
			admin = append(admin, p)
		}
	}
	if (len(admin) > 0 || baseline != nil) && len(cnpAdmin)+len(baselines) > 0 {
		first := baseline
		if len(admin) > 0 {
			first = admin[0]
		}
		probs = append(probs, finding.Problem{File: first.File, Line: first.Line, Level: finding.LevelError,
			Message: fmt.Sprintf("%s and %d other v1alpha1 admin policies beside %d ClusterNetworkPolicies (%s): the network-policy-api does not define how the two versions compose, so the v1alpha1 policies are left out and the connectivity shown may be wrong either way",
				first, len(admin)+btoi(baseline != nil)-1, len(cnpAdmin)+len(baselines), ClusterAPIVersion)})
		admin, baseline = nil, nil
	}
	admin = append(admin, cnpAdmin...)
	probs = append(probs, sortTier(admin)...)
	probs = append(probs, sortTier(baselines)...)
	return admin, baseline, baselines, probs
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sortTier orders one tier's policies by priority, then name, and warns
// of equal priorities (the API leaves their order undefined).
func sortTier(pols []*AdminPolicy) []finding.Problem {
	sort.SliceStable(pols, func(i, j int) bool {
		if pols[i].Priority != pols[j].Priority {
			return pols[i].Priority < pols[j].Priority
		}
		return pols[i].Name < pols[j].Name
	})
	var probs []finding.Problem
	for i := 1; i < len(pols); i++ {
		if pols[i].Priority == pols[i-1].Priority {
			probs = append(probs, finding.Problem{File: pols[i].File, Line: pols[i].Line, Level: finding.LevelWarning,
				Message: fmt.Sprintf("%s has the same priority (%d) as %s: which one applies first is undefined; analysed in name order", pols[i], pols[i].Priority, pols[i-1].Name)})
		}
	}
	return probs
}

// allAdmin lists every admin policy of the model, by tier and precedence.
func (m *Model) allAdmin() []*AdminPolicy {
	out := append([]*AdminPolicy{}, m.Admin...)
	if m.Baseline != nil {
		out = append(out, m.Baseline)
	}
	return append(out, m.Baselines...)
}

// indexAdmin resolves the admin policies' subjects and peers against the
// peers and nodes, and orders each peer's admin rules by precedence.
func (m *Model) indexAdmin() {
	n := len(m.Peers)
	m.adminIn, m.adminOut = make([][]*AdminRule, n), make([][]*AdminRule, n)
	m.baseIn, m.baseOut = make([][]*AdminRule, n), make([][]*AdminRule, n)
	for _, pol := range m.allAdmin() {
		pol.selected = pol.selected[:0]
		for _, q := range m.Peers {
			if pol.subject.matches(m, q) {
				pol.selected = append(pol.selected, q.Index)
			}
		}
		for _, rules := range [][]*AdminRule{pol.Ingress, pol.Egress} {
			for _, r := range rules {
				m.resolveNodes(r)
				r.matched = m.matching(r.allPods, func(q *Peer) bool {
					return slices.ContainsFunc(r.peers, func(ap adminPeer) bool { return ap.matches(m, q) })
				})
			}
		}
		in, out := m.adminIn, m.adminOut
		if pol == m.Baseline || pol.Tier == TierBaseline {
			in, out = m.baseIn, m.baseOut
		}
		for _, i := range pol.selected {
			in[i] = append(in[i], pol.Ingress...)
			out[i] = append(out[i], pol.Egress...)
		}
	}
}

// adminBlocks are the admin rules' egress networks, where external
// destinations are cut.
func (m *Model) adminBlocks() []IPSet {
	var out []IPSet
	for _, pol := range m.allAdmin() {
		for _, r := range pol.Egress {
			if len(r.ips) > 0 {
				out = append(out, r.ips)
			}
		}
	}
	return out
}

// tiered decides one direction of a connection through the three tiers.
// admin and base are the pod's rules in precedence order; hit says whether
// a rule's peers match the other end; np gives the NetworkPolicy verdict
// and whether NetworkPolicies isolate the pod in this direction; dst
// resolves named ports (nil for an external destination).
func tiered(admin, base []*AdminRule, hit func(*AdminRule) bool, dst *Peer, np func() (ConnSet, bool)) ConnSet {
	allowed, decided, passed := NoConns(), NoConns(), NoConns()
	for _, r := range admin {
		if !hit(r) {
			continue
		}
		// Traffic an earlier rule decided or passed is not matched again.
		c := r.conns(dst).Subtract(decided).Subtract(passed)
		switch r.Action {
		case ActionAllow, ActionAccept:
			allowed = allowed.Union(c)
			decided = decided.Union(c)
		case ActionDeny:
			decided = decided.Union(c)
		case ActionPass:
			passed = passed.Union(c)
		}
	}
	rest := AllConns().Subtract(decided)
	c, isolated := np()
	if isolated {
		return allowed.Union(c.Intersect(rest))
	}
	bAllowed, bDecided := NoConns(), NoConns()
	for _, r := range base {
		if !hit(r) {
			continue
		}
		c := r.conns(dst).Intersect(rest).Subtract(bDecided)
		if r.Action != ActionDeny {
			// Allow and Accept allow; a Baseline tier Pass hands the
			// traffic to the default, which allows it.
			bAllowed = bAllowed.Union(c)
		}
		bDecided = bDecided.Union(c)
	}
	return allowed.Union(bAllowed).Union(rest.Subtract(bDecided))
}
