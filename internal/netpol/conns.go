package netpol

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Port bounds of TCP, UDP and SCTP.
const (
	MinPort = 1
	MaxPort = 65535
)

// Protocols are the protocols a NetworkPolicy can name, in the order
// connection strings list them (alphabetical, as other analysers do).
var Protocols = [...]corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}

func protocolIndex(p corev1.Protocol) (int, bool) {
	for i, q := range Protocols {
		if q == p {
			return i, true
		}
	}
	return 0, false
}

// PortRange is an inclusive range of ports.
type PortRange struct{ From, To int32 }

// PortSet is a canonical set of ports: sorted, disjoint, non-adjacent ranges.
// The zero value is the empty set. PortSets are values: operations return
// new sets and never modify their operands.
type PortSet []PortRange

// AllPorts is every port.
func AllPorts() PortSet { return PortSet{{MinPort, MaxPort}} }

// IsEmpty reports the empty set.
func (s PortSet) IsEmpty() bool { return len(s) == 0 }

// IsAll reports the set of every port.
func (s PortSet) IsAll() bool { return len(s) == 1 && s[0].From == MinPort && s[0].To == MaxPort }

// Union returns s ∪ o.
func (s PortSet) Union(o PortSet) PortSet {
	if len(o) == 0 {
		return s
	}
	if len(s) == 0 {
		return o
	}
	all := make([]PortRange, 0, len(s)+len(o))
	all = append(append(all, s...), o...)
	sort.Slice(all, func(i, j int) bool { return all[i].From < all[j].From })
	out := PortSet{all[0]}
	for _, r := range all[1:] {
		last := &out[len(out)-1]
		if r.From <= last.To+1 {
			if r.To > last.To {
				last.To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// Intersect returns s ∩ o.
func (s PortSet) Intersect(o PortSet) PortSet {
	var out PortSet
	i, j := 0, 0
	for i < len(s) && j < len(o) {
		lo, hi := max(s[i].From, o[j].From), min(s[i].To, o[j].To)
		if lo <= hi {
			out = append(out, PortRange{lo, hi})
		}
		if s[i].To < o[j].To {
			i++
		} else {
			j++
		}
	}
	return out
}

// Subtract returns s \ o.
func (s PortSet) Subtract(o PortSet) PortSet {
	var out PortSet
	for _, r := range s {
		cur := []PortRange{r}
		for _, x := range o {
			var next []PortRange
			for _, c := range cur {
				if x.To < c.From || x.From > c.To {
					next = append(next, c)
					continue
				}
				if x.From > c.From {
					next = append(next, PortRange{c.From, x.From - 1})
				}
				if x.To < c.To {
					next = append(next, PortRange{x.To + 1, c.To})
				}
			}
			cur = next
		}
		out = append(out, cur...)
	}
	return out
}

// Equal reports whether two canonical sets are equal.
func (s PortSet) Equal(o PortSet) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// SubsetOf reports s ⊆ o.
func (s PortSet) SubsetOf(o PortSet) bool { return s.Subtract(o).IsEmpty() }

// String writes the ranges as "80,443,8000-8080".
func (s PortSet) String() string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(r.From)))
		if r.To != r.From {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(r.To)))
		}
	}
	return b.String()
}

// ConnSet is a set of connections: for each protocol, a set of destination
// ports. The zero value allows nothing. ConnSets are values.
type ConnSet struct {
	ports [len(Protocols)]PortSet
}

// AllConns allows every protocol on every port.
func AllConns() ConnSet {
	var c ConnSet
	for i := range c.ports {
		c.ports[i] = AllPorts()
	}
	return c
}

// NoConns allows nothing.
func NoConns() ConnSet { return ConnSet{} }

// ConnsOf allows one protocol on a set of ports.
func ConnsOf(p corev1.Protocol, ports PortSet) ConnSet {
	var c ConnSet
	if i, ok := protocolIndex(p); ok {
		c.ports[i] = ports
	}
	return c
}

// Ports returns the ports allowed for a protocol.
func (c ConnSet) Ports(p corev1.Protocol) PortSet {
	i, ok := protocolIndex(p)
	if !ok {
		return nil
	}
	return c.ports[i]
}

// IsEmpty reports that nothing is allowed.
func (c ConnSet) IsEmpty() bool {
	for _, p := range c.ports {
		if !p.IsEmpty() {
			return false
		}
	}
	return true
}

// IsAll reports that everything is allowed.
func (c ConnSet) IsAll() bool {
	for _, p := range c.ports {
		if !p.IsAll() {
			return false
		}
	}
	return true
}

// Union returns c ∪ o.
func (c ConnSet) Union(o ConnSet) ConnSet {
	for i := range c.ports {
		c.ports[i] = c.ports[i].Union(o.ports[i])
	}
	return c
}

// Intersect returns c ∩ o.
func (c ConnSet) Intersect(o ConnSet) ConnSet {
	for i := range c.ports {
		c.ports[i] = c.ports[i].Intersect(o.ports[i])
	}
	return c
}

// Subtract returns c \ o.
func (c ConnSet) Subtract(o ConnSet) ConnSet {
	for i := range c.ports {
		c.ports[i] = c.ports[i].Subtract(o.ports[i])
	}
	return c
}

// Equal reports set equality.
func (c ConnSet) Equal(o ConnSet) bool {
	for i := range c.ports {
		if !c.ports[i].Equal(o.ports[i]) {
			return false
		}
	}
	return true
}

// SubsetOf reports c ⊆ o.
func (c ConnSet) SubsetOf(o ConnSet) bool { return c.Subtract(o).IsEmpty() }

// Connection strings of the text output.
const (
	AllConnectionsText = "All Connections"
	NoConnectionsText  = "No Connections"
)

// String renders the set as other analysers do: "All Connections", or
// "PROTO ports" per protocol, sorted, joined with commas ("TCP 8080,UDP 53").
func (c ConnSet) String() string {
	if c.IsAll() {
		return AllConnectionsText
	}
	if c.IsEmpty() {
		return NoConnectionsText
	}
	parts := make([]string, 0, len(Protocols))
	for i, p := range Protocols {
		if !c.ports[i].IsEmpty() {
			parts = append(parts, string(p)+" "+c.ports[i].String())
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// ParseConns reads the String form back ("All Connections", "No Connections",
// "TCP 80,443,UDP 53"), for diffs of saved outputs and for tests.
func ParseConns(s string) (ConnSet, error) {
	s = strings.TrimSpace(s)
	switch s {
	case AllConnectionsText:
		return AllConns(), nil
	case NoConnectionsText, "":
		return NoConns(), nil
	}
	var c ConnSet
	cur := -1
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if proto, rest, ok := strings.Cut(tok, " "); ok {
			i, known := protocolIndex(corev1.Protocol(proto))
			if !known {
				return c, fmt.Errorf("connections %q: unknown protocol %q", s, proto)
			}
			cur, tok = i, rest
		} else if i, known := protocolIndex(corev1.Protocol(tok)); known {
			c.ports[i] = AllPorts()
			cur = -1
			continue
		}
		if cur < 0 {
			return c, fmt.Errorf("connections %q: port %q without a protocol", s, tok)
		}
		r, err := parsePortRange(tok)
		if err != nil {
			return c, fmt.Errorf("connections %q: %w", s, err)
		}
		c.ports[cur] = c.ports[cur].Union(PortSet{r})
	}
	return c, nil
}

// parsePortRange reads "80" or "8000-8080", checking bounds.
func parsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	from, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return PortRange{}, fmt.Errorf("port %q is not a number", s)
	}
	to := from
	if isRange {
		if to, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return PortRange{}, fmt.Errorf("port range %q: end is not a number", s)
		}
	}
	if from < MinPort || from > MaxPort || to < MinPort || to > MaxPort {
		return PortRange{}, fmt.Errorf("port %q is out of range %d-%d", s, MinPort, MaxPort)
	}
	if to < from {
		return PortRange{}, fmt.Errorf("port range %q ends before it starts", s)
	}
	return PortRange{int32(from), int32(to)}, nil
}
