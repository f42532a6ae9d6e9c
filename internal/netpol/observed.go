package netpol

// Observed traffic turned into requirements (issue #21): the runtime
// sensors' learned workload profiles (internal/runtime/profile) say which
// workload talked to which peer on which port; ObservedRequirements
// writes them as Requirements over the inventory, so Generate writes
// least-privilege policies from them and Prove checks them as it checks
// hand-written requirements.

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
	"github.com/palisade-sec/palisade/internal/workload"
)

// dnsPort: observed DNS traffic is allowed by the explicit DNS rule of
// every namespace in scope (Requirements.DNS), not copied address by
// address: the sensor sees the DNS Service's virtual address, which
// NetworkPolicies never match.
const dnsPort = 53

// ObservedRequirements turns the profiles of an export into requirements
// over inv: one allow per observed connection, between the workloads of
// the inventory (the profiles' peers, or the workloads behind a Service's
// cluster IP), or to and from the observed address as an external. base,
// when not nil, supplies the DNS settings and further allows.
//
// Problems say what the profiles cannot tell: a profile still learning or
// with observations it did not keep (the policies would deny what was not
// seen: error), a profiled workload or peer the inventory does not hold
// (error), a workload in scope without a profile (it would be denied
// everything: warning).
func ObservedRequirements(x *profile.Export, inv *workload.Inventory, base *Requirements) (*Requirements, []finding.Problem) {
	req := &Requirements{APIVersion: RequirementsAPIVersion, Kind: RequirementsKind}
	if base != nil {
		cp := *base
		req = &cp
		req.Allow = append([]Allow(nil), base.Allow...)
		req.Externals = append([]External(nil), base.Externals...)
	}
	if req.DNS == nil {
		req.DNS = &DNS{Namespace: DefaultDNSNamespace, PodSelector: DefaultDNSSelector, Ports: DefaultDNSPorts}
	}
	m := FromInventory(inv).Model
	var probs []finding.Problem
	problem := func(level, format string, args ...any) {
		probs = append(probs, finding.Problem{File: "cluster " + x.Cluster, Level: level, Message: fmt.Sprintf(format, args...)})
	}
	peerOf := func(w profile.Workload) (*Peer, bool) {
		p, err := m.Peer(w.Namespace + "/" + w.Name + "[" + w.Kind + "]")
		return p, err == nil
	}
	svcs := serviceAddrs(inv)
	externals := map[string]bool{}
	for _, e := range req.Externals {
		externals[e.Name] = true
	}
	external := func(cidr string) string {
		name := "observed-" + strings.NewReplacer(".", "-", ":", "-", "/", "-").Replace(cidr)
		if !externals[name] {
			externals[name] = true
			req.Externals = append(req.Externals, External{Name: name, CIDRs: []string{cidr}})
		}
		return "external:" + name
	}
	seen := map[string]bool{}
	allow := func(from, to string, port string) {
		key := from + "\x00" + to + "\x00" + port
		if seen[key] {
			return
		}
		seen[key] = true
		req.Allow = append(req.Allow, Allow{From: from, To: to, Ports: []string{port}})
	}
	scope := map[string]bool{}
	profiled := map[int]bool{}
	for i := range x.Profiles {
		p := &x.Profiles[i]
		self, ok := peerOf(p.Workload)
		if !ok {
			problem(finding.LevelError, "profile of %s: no such workload in the input; its traffic cannot be allowed", p.Workload)
			continue
		}
		if p.State != "locked" {
			problem(finding.LevelWarning, "profile of %s is still learning (until %s): connections it has not made yet will be denied", p.Workload, p.LearnUntil.UTC().Format(time.RFC3339))
		}
		if p.Overflow > 0 {
			problem(finding.LevelError, "profile of %s did not keep %d observations (over its bounds): the policies would deny traffic it saw", p.Workload, p.Overflow)
		}
		profiled[self.Index] = true
		if req.DNS.Disabled || self.Namespace != req.DNS.Namespace {
			scope[self.Namespace] = true
		}
		for _, c := range p.Connections {
			if c.Direction == profile.Egress && c.Port == dnsPort {
				continue
			}
			port := c.Protocol + "/" + strconv.Itoa(int(c.Port))
			var other []string
			switch {
			case c.Peer.Workload != nil:
				q, ok := peerOf(*c.Peer.Workload)
				if !ok {
					problem(finding.LevelError, "profile of %s: %s: the peer is not in the input", p.Workload, c)
					continue
				}
				other = []string{q.String()}
			default:
				if targets, tport, ok := svcs.resolve(m, c); ok {
					other, port = targets, tport
					if len(targets) == 0 {
						problem(finding.LevelError, "profile of %s: %s: the Service at that address selects no workload in the input", p.Workload, c)
						continue
					}
				} else {
					other = []string{external(c.Peer.CIDR)}
				}
			}
			for _, o := range other {
				if o == self.String() {
					continue // inside the workload: not subject to policies
				}
				if c.Direction == profile.Egress {
					allow(self.String(), o, port)
				} else {
					allow(o, self.String(), port)
				}
			}
		}
	}
	if len(req.Namespaces) == 0 {
		for ns := range scope {
			req.Namespaces = append(req.Namespaces, ns)
		}
		sort.Strings(req.Namespaces)
	}
	inScope := map[string]bool{}
	for _, ns := range req.Namespaces {
		inScope[ns] = true
	}
	for _, q := range m.Peers {
		if inScope[q.Namespace] && !profiled[q.Index] {
			problem(finding.LevelWarning, "%s has no profile: in a namespace that gets policies, it will be denied all traffic but DNS", q)
		}
	}
	return req, probs
}

// serviceIndex finds Services by cluster IP.
type serviceIndex map[netip.Addr]*workload.Service

func serviceAddrs(inv *workload.Inventory) serviceIndex {
	idx := serviceIndex{}
	for _, s := range inv.Services {
		ips := append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...)
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				idx[a] = s
			}
		}
	}
	return idx
}

// resolve maps an egress to a Service's cluster IP to the workloads the
// Service selects and the target port; false when the address is no
// Service's.
func (idx serviceIndex) resolve(m *Model, c profile.Connection) ([]string, string, bool) {
	pfx, err := netip.ParsePrefix(c.Peer.CIDR)
	if err != nil || !pfx.IsSingleIP() {
		return nil, "", false
	}
	s := idx[pfx.Addr()]
	if s == nil || len(s.Spec.Selector) == 0 {
		return nil, "", false
	}
	port := c.Protocol + "/" + strconv.Itoa(int(c.Port))
	var target *corev1.ServicePort
	for i := range s.Spec.Ports {
		sp := &s.Spec.Ports[i]
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if sp.Port == int32(c.Port) && string(proto) == c.Protocol {
			target = sp
		}
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	var out []string
	for _, q := range m.Peers {
		if q.Namespace != s.Namespace || !sel.Matches(q.Labels) {
			continue
		}
		p := port
		if target != nil {
			switch tp := target.TargetPort; {
			case tp.IntValue() > 0:
				p = c.Protocol + "/" + strconv.Itoa(tp.IntValue())
			case tp.StrVal != "":
				for _, np := range q.NamedPorts[tp.StrVal] {
					p = string(np.Protocol) + "/" + strconv.Itoa(int(np.Port))
				}
			}
		}
		port = p
		out = append(out, q.String())
	}
	return out, port, true
}

// ObservedDiff compares the traffic the profiles observed with what the
// inventory's policies allow, for the profiled workloads: a finding per
// observed connection the policies deny (RuleObservedDenied) and per
// allowed connection never observed (RuleAllowedUnused). Problems are
// ObservedRequirements'.
func ObservedDiff(ctx context.Context, x *profile.Export, inv *workload.Inventory) ([]finding.Finding, []finding.Problem, error) {
	req, probs := ObservedRequirements(x, inv, nil)
	if len(req.Namespaces) == 0 {
		return nil, probs, nil
	}
	plan, err := Generate(inv, req)
	if err != nil {
		return nil, probs, fmt.Errorf("cluster %s: observed traffic: %w", x.Cluster, err)
	}
	observed, err := plan.Expected(ctx)
	if err != nil {
		return nil, probs, err
	}
	b := FromInventory(inv)
	allowed, err := Analyze(ctx, b.Model)
	if err != nil {
		return nil, probs, err
	}
	info := map[string]finding.RuleInfo{}
	for _, r := range Rules() {
		info[r.ID] = r
	}
	refs := map[string]finding.ObjectRef{}
	for _, q := range b.Model.Peers {
		refs[q.String()] = q.Ref
	}
	var out []finding.Finding
	add := func(rule, src, dst string, conns ConnSet) {
		if conns.IsEmpty() {
			return
		}
		ref, ok := refs[src]
		if !ok || !plan.inScope[ref.Namespace] {
			ref = refs[dst]
		}
		r := info[rule]
		msg := src + " => " + dst + " : " + conns.String()
		if rule == RuleObservedDenied {
			msg = "observed but denied by the policies: " + msg
		} else {
			msg = "allowed by the policies but never observed: " + msg
		}
		out = append(out, finding.Finding{RuleID: rule, Severity: r.Severity, Title: r.Title, Message: msg, Object: ref, Remediation: r.Remediation})
	}
	for _, c := range Diff(observed, allowed) {
		add(RuleObservedDenied, c.Src, c.Dst, c.Old.Subtract(c.New))
		add(RuleAllowedUnused, c.Src, c.Dst, c.New.Subtract(c.Old))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].RuleID != out[j].RuleID {
			return out[i].RuleID < out[j].RuleID
		}
		return out[i].Message < out[j].Message
	})
	return out, probs, nil
}
