package netpol

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Endpoint is one side of a connection: a workload or a range of external
// addresses.
type Endpoint struct {
	Peer *Peer
	// IPs is the external range when Peer is nil.
	IPs IPRange
}

// External reports an external endpoint.
func (e Endpoint) External() bool { return e.Peer == nil }

// String renders "namespace/name[Kind]" or "first-last[External]".
func (e Endpoint) String() string {
	if e.Peer != nil {
		return e.Peer.String()
	}
	return e.IPs.String() + "[External]"
}

// Connection is what one endpoint may open to another.
type Connection struct {
	Src, Dst Endpoint
	Conns    ConnSet
	// Unknown are connections the model cannot judge (an admin rule with
	// domain names, or nodes when node addresses are not known, could
	// change their verdict): neither allowed nor denied. nil when none
	// (most connections: a pointer keeps Connection small).
	Unknown *ConnSet
}

// UnknownConns are the connections the model cannot judge (none when
// Unknown is nil).
func (c Connection) UnknownConns() ConnSet {
	if c.Unknown == nil {
		return NoConns()
	}
	return *c.Unknown
}

// unknownOf is u as Connection.Unknown: nil when empty.
func unknownOf(u ConnSet) *ConnSet {
	if u.IsEmpty() {
		return nil
	}
	return &u
}

// String is the text output line: "src => dst : conns", followed by
// " (unknown: conns)" when some are unknown.
func (c Connection) String() string {
	return c.Src.String() + " => " + c.Dst.String() + " : " + c.ConnText()
}

// ConnText is the allowed connections and, when some are unknown,
// " (unknown: conns)".
func (c Connection) ConnText() string {
	if c.UnknownConns().IsEmpty() {
		return c.Conns.String()
	}
	return c.Conns.String() + " (unknown: " + c.Unknown.String() + ")"
}

// Connectivity is every allowed connection, sorted by its text line.
type Connectivity struct {
	Connections []Connection
}

// Analyze computes the allowed connections between every pair of workloads
// and between workloads and external address ranges. A connection is
// allowed when the source's egress allows it and the destination's ingress
// allows it; a side no policy isolates allows everything. Connections of a
// workload to itself are left out, as other analysers do.
func Analyze(ctx context.Context, m *Model) (*Connectivity, error) {
	out := &Connectivity{}
	n := len(m.Peers)
	for d := 0; d < n; d++ {
		if d%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		dst := m.Peers[d]
		for s := 0; s < n; s++ {
			if s == d {
				continue
			}
			c := m.ingressConns(m.Peers[s], dst)
			if c.IsEmpty() {
				continue
			}
			c = c.Intersect(m.egressConns(m.Peers[s], dst))
			if !c.IsEmpty() {
				out.Connections = append(out.Connections, Connection{Src: Endpoint{Peer: m.Peers[s]}, Dst: Endpoint{Peer: dst}, Conns: c})
			}
		}
		for _, a := range m.ingressAtoms {
			if c := m.ingressFromExternal(a, dst); !c.IsEmpty() {
				out.Connections = append(out.Connections, Connection{Src: Endpoint{IPs: a}, Dst: Endpoint{Peer: dst}, Conns: c})
			}
		}
		for _, a := range m.egressAtoms {
			if c, u := m.egressToExternal(dst, a); !c.IsEmpty() || !u.IsEmpty() {
				out.Connections = append(out.Connections, Connection{Src: Endpoint{Peer: dst}, Dst: Endpoint{IPs: a}, Conns: c, Unknown: unknownOf(u)})
			}
		}
	}
	out.sort()
	return out, nil
}

func (c *Connectivity) sort() {
	keys := make([]string, len(c.Connections))
	for i, x := range c.Connections {
		keys[i] = x.String()
	}
	sort.Sort(byKey{c.Connections, keys})
}

type byKey struct {
	c    []Connection
	keys []string
}

func (b byKey) Len() int           { return len(b.c) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.c[i], b.c[j] = b.c[j], b.c[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

// Lines returns the text output lines.
func (c *Connectivity) Lines() []string {
	out := make([]string, len(c.Connections))
	for i, x := range c.Connections {
		out[i] = x.String()
	}
	return out
}

func (m *Model) ingressConns(src, dst *Peer) ConnSet {
	return m.podConns(m.ingressIsolated, m.ingressOf, m.adminIn, m.baseIn, dst, src, dst)
}

func (m *Model) egressConns(src, dst *Peer) ConnSet {
	return m.podConns(m.egressIsolated, m.egressOf, m.adminOut, m.baseOut, src, dst, dst)
}

// podConns decides one direction of a connection between two pods: self
// is the pod whose rules of that direction apply, other the pod at the
// other end, and dst the destination, against which named ports resolve.
func (m *Model) podConns(isolated []bool, rulesOf [][]*Rule, admin, base [][]*AdminRule, self, other, dst *Peer) ConnSet {
	np := func() (ConnSet, bool) {
		if !isolated[self.Index] {
			return AllConns(), false
		}
		var c ConnSet
		for _, r := range rulesOf[self.Index] {
			if r.matched.has(other.Index) {
				c = c.Union(r.conns(dst))
				if c.IsAll() {
					break
				}
			}
		}
		return c, true
	}
	if len(admin[self.Index]) == 0 && len(base[self.Index]) == 0 {
		c, _ := np()
		return c
	}
	return tiered(admin[self.Index], base[self.Index], func(r *AdminRule) bool { return r.matched.has(other.Index) }, dst, np)
}

// ingressFromExternal: admin ingress peers are pods only, so they never
// match an external source, but they still decide nothing for it.
func (m *Model) ingressFromExternal(a IPRange, dst *Peer) ConnSet {
	if !m.ingressIsolated[dst.Index] {
		return AllConns()
	}
	var c ConnSet
	for _, r := range m.ingressOf[dst.Index] {
		if r.AllPeers || r.ips.containsRange(a) {
			c = c.Union(r.conns(dst))
		}
	}
	return c
}

// egressToExternal gives what src may open to the external range a, and
// what it may or may not (unknown).
func (m *Model) egressToExternal(src *Peer, a IPRange) (ConnSet, ConnSet) {
	np := func() (ConnSet, bool) {
		if !m.egressIsolated[src.Index] {
			return AllConns(), false
		}
		var c ConnSet
		for _, r := range m.egressOf[src.Index] {
			if r.AllPeers || r.ips.containsRange(a) {
				c = c.Union(r.conns(nil))
			}
		}
		return c, true
	}
	if len(m.adminOut[src.Index]) == 0 && len(m.baseOut[src.Index]) == 0 {
		c, _ := np()
		return c, NoConns()
	}
	return tieredUnknown(m.adminOut[src.Index], m.baseOut[src.Index], func(r *AdminRule) bool { return r.ips.containsRange(a) },
		func(r *AdminRule) bool { return r.uncertain }, nil, np)
}

// Explanation says why a connection is allowed or denied.
type Explanation struct {
	Src, Dst Endpoint
	Allowed  ConnSet
	// Unknown are connections whose verdict the model cannot tell
	// (Connection.Unknown); they are not in Allowed.
	Unknown ConnSet
	// Egress and Ingress list the reasons on each side, one per line.
	Egress, Ingress []string
}

// Explain gives the policies and rules that decide what src may open to dst.
func (m *Model) Explain(src, dst Endpoint) Explanation {
	e := Explanation{Src: src, Dst: dst}
	egress, ingress := AllConns(), AllConns()
	if src.Peer == nil {
		e.Egress = []string{"external source: egress is not restricted by NetworkPolicies"}
	} else if !m.egressIsolated[src.Peer.Index] {
		e.Egress = []string{"no NetworkPolicy with Egress selects " + src.Peer.String() + ": all egress allowed"}
	} else {
		egress = NoConns()
		for _, r := range m.egressOf[src.Peer.Index] {
			var hit bool
			var c ConnSet
			if dst.Peer != nil {
				hit, c = r.matched.has(dst.Peer.Index), r.conns(dst.Peer)
			} else {
				hit, c = r.AllPeers || r.ips.containsRange(dst.IPs), r.conns(nil)
			}
			if hit && !c.IsEmpty() {
				egress = egress.Union(c)
				e.Egress = append(e.Egress, fmt.Sprintf("%s allows %s", r, c))
			}
		}
		if egress.IsEmpty() {
			e.Egress = append(e.Egress, "denied: "+strings.Join(m.policyNames(DirEgress, src.Peer), ", ")+" selects "+src.Peer.String()+" for Egress and no rule allows "+dst.String())
		}
	}
	if dst.Peer == nil {
		e.Ingress = []string{"external destination: ingress is not restricted by NetworkPolicies"}
	} else if !m.ingressIsolated[dst.Peer.Index] {
		e.Ingress = []string{"no NetworkPolicy with Ingress selects " + dst.Peer.String() + ": all ingress allowed"}
	} else {
		ingress = NoConns()
		for _, r := range m.ingressOf[dst.Peer.Index] {
			var hit bool
			if src.Peer != nil {
				hit = r.matched.has(src.Peer.Index)
			} else {
				hit = r.AllPeers || r.ips.containsRange(src.IPs)
			}
			if c := r.conns(dst.Peer); hit && !c.IsEmpty() {
				ingress = ingress.Union(c)
				e.Ingress = append(e.Ingress, fmt.Sprintf("%s allows %s", r, c))
			}
		}
		if ingress.IsEmpty() {
			e.Ingress = append(e.Ingress, "denied: "+strings.Join(m.policyNames(DirIngress, dst.Peer), ", ")+" selects "+dst.Peer.String()+" for Ingress and no rule allows "+src.String())
		}
	}
	if src.Peer != nil && (len(m.adminOut[src.Peer.Index]) > 0 || len(m.baseOut[src.Peer.Index]) > 0) {
		hit := func(r *AdminRule) bool { return r.ips.containsRange(dst.IPs) }
		if dst.Peer != nil {
			hit = func(r *AdminRule) bool { return r.matched.has(dst.Peer.Index) }
			egress = m.egressConns(src.Peer, dst.Peer)
		} else {
			egress, e.Unknown = m.egressToExternal(src.Peer, dst.IPs)
		}
		e.Egress = append(adminReasons(m.adminOut[src.Peer.Index], m.baseOut[src.Peer.Index], hit, dst.Peer), e.Egress...)
	}
	if dst.Peer != nil && src.Peer != nil && (len(m.adminIn[dst.Peer.Index]) > 0 || len(m.baseIn[dst.Peer.Index]) > 0) {
		ingress = m.ingressConns(src.Peer, dst.Peer)
		hit := func(r *AdminRule) bool { return r.matched.has(src.Peer.Index) }
		e.Ingress = append(adminReasons(m.adminIn[dst.Peer.Index], m.baseIn[dst.Peer.Index], hit, dst.Peer), e.Ingress...)
	}
	e.Allowed = egress.Intersect(ingress)
	if !e.Unknown.IsEmpty() {
		e.Unknown = e.Unknown.Intersect(ingress)
	}
	return e
}

// adminReasons lists the admin rules matching the other end, in
// precedence order; the NetworkPolicy reasons follow them. A rule that
// may match an external destination says why its match is unknown.
func adminReasons(admin, base []*AdminRule, hit func(*AdminRule) bool, dst *Peer) []string {
	var out []string
	for _, r := range append(append([]*AdminRule{}, admin...), base...) {
		c := r.conns(dst)
		switch {
		case c.IsEmpty():
		case hit(r):
			out = append(out, fmt.Sprintf("%s: %s %s", r, r.Action, c))
		case dst == nil && r.uncertain:
			out = append(out, fmt.Sprintf("%s: may %s %s: %s", r, r.Action, c, r.uncertainWhy()))
		}
	}
	return out
}

// policyNames lists the policies isolating a peer, including those without rules.
func (m *Model) policyNames(dir Direction, p *Peer) []string {
	var names []string
	for _, pol := range m.Policies {
		if (dir == DirIngress && !pol.AffectsIngress) || (dir == DirEgress && !pol.AffectsEgress) {
			continue
		}
		for _, i := range pol.selected {
			if i == p.Index {
				names = append(names, "NetworkPolicy "+pol.String())
				break
			}
		}
	}
	return names
}

// Focus explains every connection from and to one workload, allowed or
// not: to and from every other workload and every external range.
func (m *Model) Focus(p *Peer) []Explanation {
	var out []Explanation
	for _, q := range m.Peers {
		if q == p {
			continue
		}
		out = append(out, m.Explain(Endpoint{Peer: p}, Endpoint{Peer: q}), m.Explain(Endpoint{Peer: q}, Endpoint{Peer: p}))
	}
	for _, a := range m.egressAtoms {
		out = append(out, m.Explain(Endpoint{Peer: p}, Endpoint{IPs: a}))
	}
	for _, a := range m.ingressAtoms {
		out = append(out, m.Explain(Endpoint{IPs: a}, Endpoint{Peer: p}))
	}
	sort.SliceStable(out, func(i, j int) bool {
		ki := out[i].Src.String() + " => " + out[i].Dst.String()
		kj := out[j].Src.String() + " => " + out[j].Dst.String()
		return ki < kj
	})
	return out
}
