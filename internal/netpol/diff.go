package netpol

import (
	"net/netip"
	"sort"
)

// ChangeKind says how a connection changed between two analyses.
type ChangeKind string

// Change kinds.
const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Changed ChangeKind = "changed"
)

// Change is one difference between two connectivities.
type Change struct {
	Kind     ChangeKind
	Src, Dst string
	// Old and New are the connections before and after (empty when absent).
	Old, New ConnSet
	// OldUnknown and NewUnknown are those the model could not judge
	// (Connection.Unknown).
	OldUnknown, NewUnknown ConnSet
}

// String renders "added: src => dst : conns" or "changed: src => dst : old -> new",
// each side followed by " (unknown: conns)" when some are unknown.
func (c Change) String() string {
	old := Connection{Conns: c.Old, Unknown: unknownOf(c.OldUnknown)}.ConnText()
	new := Connection{Conns: c.New, Unknown: unknownOf(c.NewUnknown)}.ConnText()
	switch c.Kind {
	case Added:
		return "added: " + c.Src + " => " + c.Dst + " : " + new
	case Removed:
		return "removed: " + c.Src + " => " + c.Dst + " : " + old
	}
	return "changed: " + c.Src + " => " + c.Dst + " : " + old + " -> " + new
}

// Diff compares two connectivities. External ranges are compared address
// by address: both sides are cut at the union of their range boundaries, so
// a different split of the same addresses is no change.
func Diff(old, new *Connectivity) []Change {
	type key struct{ src, dst string }
	before, after := map[key]rangeConns{}, map[key]rangeConns{}
	collect := func(c *Connectivity, into map[key]rangeConns) map[extKey][]rangeConns {
		ext := map[extKey][]rangeConns{}
		for _, x := range c.Connections {
			switch {
			case x.Src.External() && !x.Dst.External():
				k := extKey{peer: x.Dst.String(), ingress: true}
				ext[k] = append(ext[k], rangeConns{x.Src.IPs, x.Conns, x.UnknownConns()})
			case x.Dst.External() && !x.Src.External():
				k := extKey{peer: x.Src.String()}
				ext[k] = append(ext[k], rangeConns{x.Dst.IPs, x.Conns, x.UnknownConns()})
			default:
				into[key{x.Src.String(), x.Dst.String()}] = rangeConns{c: x.Conns, u: x.UnknownConns()}
			}
		}
		return ext
	}
	extBefore, extAfter := collect(old, before), collect(new, after)
	keys := map[extKey]bool{}
	for k := range extBefore {
		keys[k] = true
	}
	for k := range extAfter {
		keys[k] = true
	}
	for k := range keys {
		cuts := append(cutPoints(extBefore[k]), cutPoints(extAfter[k])...)
		for _, rc := range refine(extBefore[k], cuts) {
			before[k.pair(rc.r)] = rc
		}
		for _, rc := range refine(extAfter[k], cuts) {
			after[k.pair(rc.r)] = rc
		}
	}
	var out []Change
	for k, o := range before {
		n, ok := after[k]
		switch {
		case !ok || n.empty():
			out = append(out, Change{Kind: Removed, Src: k.src, Dst: k.dst, Old: o.c, OldUnknown: o.u})
		case !n.c.Equal(o.c) || !n.u.Equal(o.u):
			out = append(out, Change{Kind: Changed, Src: k.src, Dst: k.dst, Old: o.c, New: n.c, OldUnknown: o.u, NewUnknown: n.u})
		}
	}
	for k, n := range after {
		if _, ok := before[k]; !ok && !n.empty() {
			out = append(out, Change{Kind: Added, Src: k.src, Dst: k.dst, New: n.c, NewUnknown: n.u})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Src != out[j].Src {
			return out[i].Src < out[j].Src
		}
		if out[i].Dst != out[j].Dst {
			return out[i].Dst < out[j].Dst
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

type extKey struct {
	peer    string
	ingress bool
}

func (k extKey) pair(r IPRange) struct{ src, dst string } {
	ext := r.String() + "[External]"
	if k.ingress {
		return struct{ src, dst string }{ext, k.peer}
	}
	return struct{ src, dst string }{k.peer, ext}
}

// rangeConns are the allowed (c) and unknown (u) connections of a range.
type rangeConns struct {
	r IPRange
	c ConnSet
	u ConnSet
}

func (x rangeConns) empty() bool { return x.c.IsEmpty() && x.u.IsEmpty() }

func cutPoints(rs []rangeConns) []netip.Addr {
	var out []netip.Addr
	for _, x := range rs {
		out = append(out, x.r.First)
		if x.r.Last != universe4.Last && x.r.Last != universe6.Last {
			out = append(out, x.r.Last.Next())
		}
	}
	return out
}

// refine cuts each range at the cut points inside it.
func refine(rs []rangeConns, cuts []netip.Addr) []rangeConns {
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].Less(cuts[j]) })
	var out []rangeConns
	for _, x := range rs {
		start := x.r.First
		for _, c := range cuts {
			if c.Is4() != start.Is4() || !start.Less(c) || x.r.Last.Less(c) {
				continue
			}
			out = append(out, rangeConns{IPRange{start, c.Prev()}, x.c, x.u})
			start = c
		}
		out = append(out, rangeConns{IPRange{start, x.r.Last}, x.c, x.u})
	}
	return out
}
