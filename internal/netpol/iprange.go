package netpol

import (
	"fmt"
	"net/netip"
	"sort"
)

// IPRange is an inclusive range of addresses of one family.
type IPRange struct{ First, Last netip.Addr }

// String renders "first-last", the form of external peers.
func (r IPRange) String() string { return r.First.String() + "-" + r.Last.String() }

// Contains reports whether o lies inside r.
func (r IPRange) Contains(o IPRange) bool {
	return r.First.Is4() == o.First.Is4() && r.First.Compare(o.First) <= 0 && o.Last.Compare(r.Last) <= 0
}

// Universe4 and Universe6 are every IPv4 and IPv6 address.
var (
	universe4 = IPRange{netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255")}
	universe6 = IPRange{netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}
)

// prefixRange turns a prefix into its range of addresses.
func prefixRange(p netip.Prefix) IPRange {
	p = p.Masked()
	first := p.Addr()
	bits := first.BitLen()
	b := first.AsSlice()
	for i := p.Bits(); i < bits; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	last, _ := netip.AddrFromSlice(b)
	return IPRange{first, last}
}

// IPSet is a canonical set of addresses: sorted, disjoint, non-adjacent ranges.
type IPSet []IPRange

// ParseIPBlock reads an ipBlock: a CIDR minus its excepts. Every except
// must be a CIDR strictly inside the block's CIDR (the API server's rule).
func ParseIPBlock(cidr string, except []string) (IPSet, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("ipBlock cidr %q: %w", cidr, err)
	}
	set := IPSet{prefixRange(p)}
	for _, e := range except {
		ep, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("ipBlock except %q: %w", e, err)
		}
		er := prefixRange(ep)
		if !prefixRange(p).Contains(er) {
			return nil, fmt.Errorf("ipBlock except %q is not inside cidr %q", e, cidr)
		}
		if ep.Bits() <= p.Bits() {
			// The API server rejects an except that is the whole block.
			return nil, fmt.Errorf("ipBlock except %q is all of cidr %q: it must be a strict subset", e, cidr)
		}
		set = set.subtract(er)
	}
	return set, nil
}

func (s IPSet) subtract(x IPRange) IPSet {
	var out IPSet
	for _, r := range s {
		if r.First.Is4() != x.First.Is4() || x.Last.Less(r.First) || r.Last.Less(x.First) {
			out = append(out, r)
			continue
		}
		if r.First.Less(x.First) {
			out = append(out, IPRange{r.First, x.First.Prev()})
		}
		if x.Last.Less(r.Last) {
			out = append(out, IPRange{x.Last.Next(), r.Last})
		}
	}
	return out
}

// containsRange reports whether an atom (a range never straddling any
// block boundary) lies in the set.
func (s IPSet) containsRange(a IPRange) bool {
	for _, r := range s {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

// atoms splits the universes of the families referenced by blocks (always
// IPv4) into the coarsest ranges that no block boundary cuts: every block
// is then a union of atoms, and every address of an atom is treated alike
// by every policy. This is how external peers are named in the output.
func atoms(blocks []IPSet) []IPRange {
	has6 := false
	var cuts4, cuts6 []netip.Addr
	for _, b := range blocks {
		for _, r := range b {
			if r.First.Is4() {
				cuts4 = append(cuts4, r.First)
				if r.Last != universe4.Last {
					cuts4 = append(cuts4, r.Last.Next())
				}
			} else {
				has6 = true
				cuts6 = append(cuts6, r.First)
				if r.Last != universe6.Last {
					cuts6 = append(cuts6, r.Last.Next())
				}
			}
		}
	}
	out := split(universe4, cuts4)
	if has6 {
		out = append(out, split(universe6, cuts6)...)
	}
	return out
}

func split(u IPRange, cuts []netip.Addr) []IPRange {
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].Less(cuts[j]) })
	var out []IPRange
	start := u.First
	for i, c := range cuts {
		if i > 0 && cuts[i-1] == c {
			continue
		}
		if c == u.First {
			continue
		}
		out = append(out, IPRange{start, c.Prev()})
		start = c
	}
	return append(out, IPRange{start, u.Last})
}
