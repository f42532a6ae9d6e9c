package netpol

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// Contains reports whether port is in the set.
func (s PortSet) Contains(port int32) bool {
	for _, r := range s {
		if port >= r.From && port <= r.To {
			return true
		}
	}
	return false
}

// Allows reports whether the set allows protocol p on port.
func (c ConnSet) Allows(p corev1.Protocol, port int32) bool { return c.Ports(p).Contains(port) }

// AddressEndpoint is the external endpoint of one address, for judging a
// single observed connection (the runtime sensor's) with Explain.
func AddressEndpoint(a netip.Addr) Endpoint { return Endpoint{IPs: IPRange{First: a, Last: a}} }
