package netpol

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// RequirementsKind and RequirementsAPIVersion identify a requirements file.
const (
	RequirementsKind       = "NetworkRequirements"
	RequirementsAPIVersion = "palisade.io/v1alpha1"
)

// Requirements say which workload may reach which, on which ports; the
// schema is documented in docs/netpol.md.
type Requirements struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Namespaces are the namespaces that get policies (default deny plus
	// exactly the allowed traffic). Empty: every namespace with workloads in
	// the input, except the DNS namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// DNS is where pods resolve names; every workload in scope may reach it.
	DNS *DNS `json:"dns,omitempty"`
	// Externals name address ranges outside the cluster.
	Externals []External `json:"externals,omitempty"`
	// Allow lists the allowed connections; everything else is denied.
	Allow []Allow `json:"allow"`
}

// DNS selects the cluster DNS pods.
type DNS struct {
	// Disabled leaves DNS egress out.
	Disabled    bool              `json:"disabled,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	PodSelector map[string]string `json:"podSelector,omitempty"`
	Ports       []string          `json:"ports,omitempty"`
}

// External is a named set of CIDRs, minus excepts.
type External struct {
	Name   string   `json:"name"`
	CIDRs  []string `json:"cidrs"`
	Except []string `json:"except,omitempty"`
}

// Allow is one allowed connection: from and to are "namespace/name" (or
// "namespace/name[Kind]") of a workload, or "external:NAME".
type Allow struct {
	From  string   `json:"from"`
	To    string   `json:"to"`
	Ports []string `json:"ports,omitempty"`
}

// Defaults of the DNS section.
var (
	DefaultDNSNamespace = "kube-system"
	DefaultDNSSelector  = map[string]string{"k8s-app": "kube-dns"}
	DefaultDNSPorts     = []string{"UDP/53", "TCP/53"}
)

// ReadRequirements reads and checks a requirements file.
func ReadRequirements(path string) (*Requirements, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := ParseRequirements(data)
	if err != nil {
		return nil, fmt.Errorf("requirements %s: %w", path, err)
	}
	return r, nil
}

// ParseRequirements decodes a requirements document strictly: unknown
// fields are errors, so a typo never silently widens or narrows access.
func ParseRequirements(data []byte) (*Requirements, error) {
	var r Requirements
	if err := yaml.UnmarshalStrict(bytes.TrimSpace(data), &r); err != nil {
		return nil, err
	}
	if r.Kind != RequirementsKind || r.APIVersion != RequirementsAPIVersion {
		return nil, fmt.Errorf("want apiVersion %s and kind %s, got %q %q", RequirementsAPIVersion, RequirementsKind, r.APIVersion, r.Kind)
	}
	if r.DNS == nil {
		r.DNS = &DNS{}
	}
	if r.DNS.Namespace == "" {
		r.DNS.Namespace = DefaultDNSNamespace
	}
	if len(r.DNS.PodSelector) == 0 {
		r.DNS.PodSelector = DefaultDNSSelector
	}
	if len(r.DNS.Ports) == 0 {
		r.DNS.Ports = DefaultDNSPorts
	}
	if _, err := ParsePorts(r.DNS.Ports); err != nil {
		return nil, fmt.Errorf("dns.ports: %w", err)
	}
	seen := map[string]bool{}
	for i, e := range r.Externals {
		if e.Name == "" {
			return nil, fmt.Errorf("externals[%d]: name is empty", i)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("externals[%d]: duplicate name %q", i, e.Name)
		}
		seen[e.Name] = true
		if _, err := e.IPSet(); err != nil {
			return nil, fmt.Errorf("externals[%d] %q: %w", i, e.Name, err)
		}
	}
	for i, a := range r.Allow {
		if _, err := ParsePorts(a.Ports); err != nil {
			return nil, fmt.Errorf("allow[%d] (%s -> %s): %w", i, a.From, a.To, err)
		}
		if a.From == "" || a.To == "" {
			return nil, fmt.Errorf("allow[%d]: from and to are required", i)
		}
		for _, end := range []string{a.From, a.To} {
			if name, ok := strings.CutPrefix(end, "external:"); ok && !seen[name] {
				return nil, fmt.Errorf("allow[%d]: unknown external %q", i, name)
			}
		}
		if strings.HasPrefix(a.From, "external:") && strings.HasPrefix(a.To, "external:") {
			return nil, fmt.Errorf("allow[%d]: from and to are both external", i)
		}
	}
	return &r, nil
}

// IPSet is the external's addresses. Every except must lie inside one of the CIDRs.
func (e External) IPSet() (IPSet, error) {
	var set IPSet
	for _, c := range e.CIDRs {
		s, err := ParseIPBlock(c, nil)
		if err != nil {
			return nil, err
		}
		set = unionIPs(set, s)
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("no cidrs")
	}
	for _, x := range e.Except {
		xs, err := ParseIPBlock(x, nil)
		if err != nil {
			return nil, err
		}
		if _, ok := e.cidrOf(x); !ok {
			return nil, fmt.Errorf("except %q is inside none of the cidrs", x)
		}
		set = set.subtract(xs[0])
	}
	return set, nil
}

// cidrOf returns the CIDR an except belongs to.
func (e External) cidrOf(except string) (string, bool) {
	xs, err := ParseIPBlock(except, nil)
	if err != nil {
		return "", false
	}
	for _, c := range e.CIDRs {
		cs, err := ParseIPBlock(c, nil)
		if err == nil && cs[0].Contains(xs[0]) {
			return c, true
		}
	}
	return "", false
}

// PortSpec is one parsed port entry of a requirement.
type PortSpec struct {
	Protocol corev1.Protocol
	// Ports is empty for every port of the protocol.
	Ports PortSet
}

// ParsePorts reads "TCP/8080", "UDP/53", "8080" (TCP), "TCP/8000-8080" and
// "SCTP" (every port of the protocol). Nil means every connection.
func ParsePorts(specs []string) ([]PortSpec, error) {
	var out []PortSpec
	for _, s := range specs {
		proto, port, hasPort := strings.Cut(strings.TrimSpace(s), "/")
		if !hasPort {
			if _, ok := protocolIndex(corev1.Protocol(strings.ToUpper(proto))); ok {
				out = append(out, PortSpec{Protocol: corev1.Protocol(strings.ToUpper(proto))})
				continue
			}
			proto, port = "TCP", proto
		}
		p := corev1.Protocol(strings.ToUpper(proto))
		if _, ok := protocolIndex(p); !ok {
			return nil, fmt.Errorf("port %q: protocol %q is not TCP, UDP or SCTP", s, proto)
		}
		r, err := parsePortRange(port)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", s, err)
		}
		out = append(out, PortSpec{Protocol: p, Ports: PortSet{r}})
	}
	return out, nil
}

// connsOf turns port specs into a connection set (none given: all).
func connsOf(specs []PortSpec) ConnSet {
	if len(specs) == 0 {
		return AllConns()
	}
	var c ConnSet
	for _, s := range specs {
		ports := s.Ports
		if ports.IsEmpty() {
			ports = AllPorts()
		}
		c = c.Union(ConnsOf(s.Protocol, ports))
	}
	return c
}
