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
}

// String renders "added: src => dst : conns" or "changed: src => dst : old -> new".
func (c Change) String() string {
	switch c.Kind {
	case Added:
		return "added: " + c.Src + " => " + c.Dst + " : " + c.New.String()
	case Removed:
		return "removed: " + c.Src + " => " + c.Dst + " : " + c.Old.String()
	}
	return "changed: " + c.Src + " => " + c.Dst + " : " + c.Old.String() + " -> " + c.New.String()
}

// Diff compares two connectivities. External ranges are compared address
// by address: both sides are cut at the union of their range boundaries, so
// a different split of the same addresses is no change.
func Diff(old, new *Connectivity) []Change {
	type key struct{ src, dst string }
	before, after := map[key]ConnSet{}, map[key]ConnSet{}
	collect := func(c *Connectivity, into map[key]ConnSet) map[extKey][]rangeConns {
		ext := map[extKey][]rangeConns{}
		for _, x := range c.Connections {
			switch {
			case x.Src.External() && !x.Dst.External():
				k := extKey{peer: x.Dst.String(), ingress: true}
				ext[k] = append(ext[k], rangeConns{x.Src.IPs, x.Conns})
			case x.Dst.External() && !x.Src.External():
				k := extKey{peer: x.Src.String()}
				ext[k] = append(ext[k], rangeConns{x.Dst.IPs, x.Conns})
			default:
				into[key{x.Src.String(), x.Dst.String()}] = x.Conns
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
			before[k.pair(rc.r)] = rc.c
		}
		for _, rc := range refine(extAfter[k], cuts) {
			after[k.pair(rc.r)] = rc.c
		}
	}
	var out []Change
	for k, o := range before {
		n, ok := after[k]
		switch {
		case !ok || n.IsEmpty():
			out = append(out, Change{Kind: Removed, Src: k.src, Dst: k.dst, Old: o})
		case !n.Equal(o):
			out = append(out, Change{Kind: Changed, Src: k.src, Dst: k.dst, Old: o, New: n})
		}
	}
	for k, n := range after {
		if _, ok := before[k]; !ok && !n.IsEmpty() {
			out = append(out, Change{Kind: Added, Src: k.src, Dst: k.dst, New: n})
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

type rangeConns struct {
	r IPRange
	c ConnSet
}

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
			out = append(out, rangeConns{IPRange{start, c.Prev()}, x.c})
			start = c
		}
		out = append(out, rangeConns{IPRange{start, x.r.Last}, x.c})
	}
	return out
}
