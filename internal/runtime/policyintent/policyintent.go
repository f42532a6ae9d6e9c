// Package policyintent judges the connections the runtime sensor sees
// against the cluster's network policies, with the same model as
// `palisade netpol` (internal/netpol): NetworkPolicies and, where the
// API server serves them, AdminNetworkPolicies and the
// BaselineAdminNetworkPolicy around them. A connection the policies deny
// that was nevertheless established means enforcement is missing or
// broken (runtime.RuleIntent, PAL-RT-011).
//
// ClusterNetworkPolicies (v1alpha2) are judged the same way. A connection
// to an external address whose verdict a rule with domain names (or nodes:
// the sensor has no Node objects) could change is undecided, never
// reported nor taken as allowed.
//
// The node sensor builds a Snapshot from its informers (pods, namespaces,
// NetworkPolicies, Services and the admin tiers, cluster-wide) whenever
// they change, at most every few seconds, and the Judge answers
// runtime.PolicyIntent from the current one, caching each answer per
// (source workload, destination, port) until the next snapshot.
package policyintent

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/netpol"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Snapshot is the policy model of one moment and the address maps that
// turn an observed address into a workload, a Service or the outside.
type Snapshot struct {
	model *netpol.Model
	// incomplete says why the model cannot be trusted (a policy it could
	// not compile: leaving one out could turn an allowed connection into
	// a denied one, or the reverse); "" when it can.
	incomplete string
	// peerOf maps "namespace/pod" to the pod's workload in the model.
	peerOf map[string]*netpol.Peer
	// hostOf maps "namespace/pod" to the pod's node address.
	hostOf map[string]netip.Addr
	// podAt maps a pod address to "namespace/pod".
	podAt map[netip.Addr]string
	// nodes are the node addresses (pods' hostIP): traffic from a pod's
	// own node is always allowed, traffic to other nodes is left to the
	// network plugin by the NetworkPolicy API.
	nodes map[netip.Addr]bool
	// nodeAt maps the addresses of the Node objects (status.addresses)
	// to their node's name; empty when the sensor has no Node objects.
	nodeAt map[netip.Addr]string
	// services maps a ClusterIP to its Service.
	services map[netip.Addr]*corev1.Service
	// podNets are the /24 (IPv4) and /64 (IPv6) networks pod addresses
	// were seen in: an unknown address inside one is probably a pod the
	// informer has not reported yet, not an external host.
	podNets map[netip.Prefix]bool
	// Pods, Policies and Services count what the snapshot was built from;
	// AdminPolicies the AdminNetworkPolicies, ClusterPolicies the
	// ClusterNetworkPolicies and Baseline whether a
	// BaselineAdminNetworkPolicy was among the admin objects.
	Pods, Policies, Services, AdminPolicies, ClusterPolicies int
	Baseline                                                 bool
	// Nodes counts the Node objects; NodesKnown says the snapshot was
	// built with them, so nodes peers are judged.
	Nodes      int
	NodesKnown bool
}

// Build makes a snapshot. Objects are read, never kept or modified
// (the informers' caches own them). admin are the AdminNetworkPolicies,
// BaselineAdminNetworkPolicies and ClusterNetworkPolicies
// (policy.networking.k8s.io, the versions netpol.ModelledResources
// name), as a dynamic informer keeps them; nil where the API server
// serves none of the kinds. The model compiles them as `palisade netpol
// analyze` does: one it cannot read (another version, an unknown field),
// or v1alpha1 and v1alpha2 policies together, makes the snapshot
// incomplete.
func Build(pods []*corev1.Pod, namespaces []*corev1.Namespace, policies []*networkingv1.NetworkPolicy, services []*corev1.Service, admin []*unstructured.Unstructured) *Snapshot {
	return BuildWithNodes(pods, namespaces, policies, services, admin, nil)
}

// BuildWithNodes is Build with the cluster's Node objects (every one: a
// synced informer's list; nil when the sensor has none). With them,
// nodes peers select the addresses of the nodes they match, and
// connections to other nodes' addresses are judged (Model.EgressToNode);
// without them, connections such a peer could change stay undecided.
func BuildWithNodes(pods []*corev1.Pod, namespaces []*corev1.Namespace, policies []*networkingv1.NetworkPolicy, services []*corev1.Service, admin []*unstructured.Unstructured, nodes []*corev1.Node) *Snapshot {
	s := &Snapshot{peerOf: map[string]*netpol.Peer{}, hostOf: map[string]netip.Addr{}, podAt: map[netip.Addr]string{},
		nodes: map[netip.Addr]bool{}, nodeAt: map[netip.Addr]string{}, services: map[netip.Addr]*corev1.Service{}, podNets: map[netip.Prefix]bool{},
		Pods: len(pods), Policies: len(policies), Services: len(services), Nodes: len(nodes)}
	inv := workload.NewInventory()
	for _, nd := range nodes {
		// Read, not kept: the model copies labels and addresses.
		inv.Add(nd, finding.ObjectRef{APIVersion: "v1", Kind: "Node", Name: nd.Name}, nil)
		for _, a := range nd.Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				s.nodeAt[ip.Unmap()] = nd.Name
				s.nodes[ip.Unmap()] = true
			}
		}
	}
	for _, ns := range namespaces {
		inv.Add(ns.DeepCopy(), finding.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: ns.Name}, nil)
	}
	for _, np := range policies {
		inv.Add(np.DeepCopy(), finding.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: np.Namespace, Name: np.Name}, nil)
	}
	var errs []string
	for _, u := range admin {
		kind, name := u.GetKind(), u.GetName()
		data, err := json.Marshal(u.Object)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %s: %v", kind, name, err))
			continue
		}
		switch kind {
		case netpol.KindAdminNetworkPolicy:
			s.AdminPolicies++
		case netpol.KindBaselineAdminNetworkPolicy:
			s.Baseline = true
		case netpol.KindClusterNetworkPolicy:
			s.ClusterPolicies++
		}
		// The model reads an admin policy from its source's JSON, as it
		// does for a manifest; File names it in the model's problems.
		src := &manifest.Object{File: kind + " " + name, APIVersion: u.GetAPIVersion(), Kind: kind, Name: name, JSON: data}
		inv.Add(nil, finding.ObjectRef{APIVersion: u.GetAPIVersion(), Kind: kind, Name: name}, src)
	}
	peerName := map[string]string{}
	for _, p := range pods {
		key := p.Namespace + "/" + p.Name
		if a, err := netip.ParseAddr(p.Status.HostIP); err == nil {
			s.nodes[a] = true
			s.hostOf[key] = a
		}
		if p.Spec.HostNetwork {
			continue // its address is the node's
		}
		for _, ip := range p.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				s.podAt[a] = key
				s.podNets[podNet(a)] = true
			}
		}
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			s.podAt[a] = key
			s.podNets[podNet(a)] = true
		}
		cp := p.DeepCopy()
		inv.Add(cp, finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: p.Namespace, Name: p.Name}, nil)
		if o := inv.Objects[len(inv.Objects)-1]; o.Workload != nil {
			peerName[key] = netpol.PeerName(o.Workload)
		}
	}
	for _, svc := range services {
		if len(svc.Spec.Selector) == 0 {
			continue // its endpoints are managed by hand: backends unknown
		}
		for _, ip := range svc.Spec.ClusterIPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				s.services[a] = svc
			}
		}
	}
	res := netpol.FromInventory(inv)
	s.model = res.Model
	s.NodesKnown = s.model.NodesKnown
	for _, pr := range res.Problems {
		if pr.Level == finding.LevelError {
			errs = append(errs, pr.Message)
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		s.incomplete = fmt.Sprintf("%d policies not understood (%s)", len(errs), errs[0])
		// Pods can reach the pod informer before their Namespace reaches
		// the namespace informer (at start-up, or a namespace just
		// created): until it does, the model errs on selectors of its
		// unknown labels. Say so: the state passes, the next snapshot
		// after the Namespace arrives judges again.
		if missing := missingNamespaces(pods, namespaces); len(missing) > 0 {
			s.incomplete = fmt.Sprintf("waiting for the Namespace objects of %s, which the pods name but the namespace informer has not delivered; %s",
				strings.Join(missing, ", "), s.incomplete)
		}
	}
	for key, name := range peerName {
		if q, err := s.model.Peer(name); err == nil {
			s.peerOf[key] = q
		}
	}
	return s
}

// missingNamespaces are the namespaces of pods with no Namespace object
// among namespaces, sorted.
func missingNamespaces(pods []*corev1.Pod, namespaces []*corev1.Namespace) []string {
	have := make(map[string]bool, len(namespaces))
	for _, ns := range namespaces {
		have[ns.Name] = true
	}
	var missing []string
	for _, p := range pods {
		if !have[p.Namespace] {
			have[p.Namespace] = true
			missing = append(missing, p.Namespace)
		}
	}
	sort.Strings(missing)
	return missing
}

func podNet(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// Stats are the judge's counters, for the sensor state.
type Stats struct {
	// Judged connections (each answer, cached or not); CacheHits of them
	// answered from the cache; Denied of them denied.
	Judged, CacheHits, Denied uint64
	// Undecided connections could not be judged (an end not known, a node
	// address, the model incomplete or not built yet): a gap, never taken
	// as allowed.
	Undecided uint64
	// AtSource are accepted connections from a pod, judged from the
	// connecting pod's established event instead (not a gap).
	AtSource uint64
	// Reason is why judging is off or incomplete ("" when fine).
	Reason string
}

// Judge answers runtime.PolicyIntent from the latest snapshot.
type Judge struct {
	// MaxCache bounds the cached answers (default 16,384); the cache is
	// emptied when full and on every new snapshot.
	MaxCache int

	snap                                            atomic.Pointer[Snapshot]
	off                                             atomic.Pointer[string]
	judged, hits, denied, undecided, atSource, gens atomic.Uint64

	mu    sync.Mutex
	cache map[cacheKey]rt.IntentVerdict
}

type cacheKey struct {
	src      *netpol.Peer
	outbound bool
	remote   netip.Addr
	port     uint16
	udp      bool
}

// Set installs a new snapshot; cached answers of the old one are dropped.
func (j *Judge) Set(s *Snapshot) {
	j.mu.Lock()
	j.snap.Store(s)
	j.cache = nil
	j.mu.Unlock()
	j.gens.Add(1)
}

// Disable stops judging for a reason (the cluster serves policy kinds the
// model does not watch); every connection is then undecided. Disable("")
// judges again.
func (j *Judge) Disable(reason string) {
	if reason == "" {
		j.off.Store(nil)
		return
	}
	j.off.Store(&reason)
}

// Snapshot is the snapshot judged from, nil before the first.
func (j *Judge) Snapshot() *Snapshot { return j.snap.Load() }

// Stats returns the counters.
func (j *Judge) Stats() Stats {
	st := Stats{Judged: j.judged.Load(), CacheHits: j.hits.Load(), Denied: j.denied.Load(), Undecided: j.undecided.Load(), AtSource: j.atSource.Load()}
	if r := j.off.Load(); r != nil {
		st.Reason = *r
	} else if s := j.snap.Load(); s == nil {
		st.Reason = "policies not synced yet"
	} else if s.incomplete != "" {
		st.Reason = "policy model incomplete: " + s.incomplete
	}
	return st
}

func (j *Judge) undecidedVerdict() rt.IntentVerdict {
	j.undecided.Add(1)
	return rt.IntentVerdict{}
}

// Judge implements runtime.PolicyIntent.
func (j *Judge) Judge(f rt.Flow) rt.IntentVerdict {
	s := j.snap.Load()
	if s == nil || s.incomplete != "" || j.off.Load() != nil || f.Pod == nil {
		return j.undecidedVerdict()
	}
	local := s.peerOf[f.Pod.Namespace+"/"+f.Pod.Name]
	if local == nil {
		// Not yet reported by the informer, or on the host network
		// (policies do not select those).
		return j.undecidedVerdict()
	}
	remote := f.Remote.Addr().Unmap()
	if remote.IsLoopback() {
		// Inside the pod's own network namespace: no policy applies.
		return j.count(rt.IntentVerdict{Decided: true})
	}
	if !f.Outbound && !f.UDP {
		// A TCP connection from a pod is judged from the connecting
		// pod's established record; a datagram from a pod only where it
		// was delivered.
		if _, isPod := s.podAt[remote]; isPod {
			j.atSource.Add(1)
			return rt.IntentVerdict{}
		}
	}
	key := cacheKey{src: local, outbound: f.Outbound, remote: remote, port: f.Port, udp: f.UDP}
	j.mu.Lock()
	v, ok := j.cache[key]
	j.mu.Unlock()
	if ok {
		j.hits.Add(1)
		return j.count(v)
	}
	proto := corev1.ProtocolTCP
	if f.UDP {
		proto = corev1.ProtocolUDP
	}
	v = s.judge(local, f.Pod, f.Outbound, remote, f.Port, proto)
	j.mu.Lock()
	if j.snap.Load() == s { // not a stale answer for a newer snapshot
		max := j.MaxCache
		if max <= 0 {
			max = 16384
		}
		if j.cache == nil || len(j.cache) >= max {
			j.cache = make(map[cacheKey]rt.IntentVerdict, 64)
		}
		j.cache[key] = v
	}
	j.mu.Unlock()
	return j.count(v)
}

func (j *Judge) count(v rt.IntentVerdict) rt.IntentVerdict {
	switch {
	case !v.Decided:
		j.undecided.Add(1)
	case v.Denied:
		j.judged.Add(1)
		j.denied.Add(1)
	default:
		j.judged.Add(1)
	}
	return v
}

// judge decides one connection of local (the observed pod's workload).
// proto is TCP or UDP; an inbound UDP flow (a datagram delivered to the
// pod, as a new flow) may come from a pod or name a Service's address.
func (s *Snapshot) judge(local *netpol.Peer, pod *rt.Pod, outbound bool, remote netip.Addr, port uint16, proto corev1.Protocol) rt.IntentVerdict {
	if !outbound {
		if key, ok := s.podAt[remote]; ok {
			src := s.peerOf[key]
			if src == nil {
				return rt.IntentVerdict{}
			}
			return s.decide(netpol.Endpoint{Peer: src}, netpol.Endpoint{Peer: local}, int32(port), "", proto)
		}
		switch {
		case remote == s.hostOf[pod.Namespace+"/"+pod.Name]:
			// "Traffic to and from the node where a Pod is running is
			// always allowed" (the NetworkPolicy API): kubelet probes.
			return rt.IntentVerdict{Decided: true}
		case s.nodes[remote] || s.podNets[podNet(remote)]:
			return rt.IntentVerdict{}
		case s.services[remote] != nil:
			// A Service's address is a source only of replies (the
			// node translates the backend's address back): as a new
			// flow, nothing allows it.
			svc := s.services[remote]
			return rt.IntentVerdict{Decided: true, Denied: true, Src: "Service " + svc.Namespace + "/" + svc.Name, Dst: local.String(),
				Why: "a Service's address sends replies only, never a new flow"}
		}
		return s.decide(netpol.AddressEndpoint(remote), netpol.Endpoint{Peer: local}, int32(port), "", proto)
	}
	if key, ok := s.podAt[remote]; ok {
		dst := s.peerOf[key]
		if dst == nil {
			return rt.IntentVerdict{} // a pod left out of the model (finished)
		}
		return s.decide(netpol.Endpoint{Peer: local}, netpol.Endpoint{Peer: dst}, int32(port), "", proto)
	}
	if svc := s.services[remote]; svc != nil {
		return s.decideService(local, svc, port, proto)
	}
	if remote == s.hostOf[pod.Namespace+"/"+pod.Name] {
		return rt.IntentVerdict{Decided: true}
	}
	if node, ok := s.nodeAt[remote]; ok && s.NodesKnown {
		return s.decideNode(local, remote, node, port, proto)
	}
	if s.nodes[remote] || s.podNets[podNet(remote)] {
		return rt.IntentVerdict{}
	}
	return s.decide(netpol.Endpoint{Peer: local}, netpol.AddressEndpoint(remote), int32(port), remote.String()+"[External]", proto)
}

// decide explains src → dst on port (TCP or UDP) and names the denial.
func (s *Snapshot) decide(src, dst netpol.Endpoint, port int32, dstName string, proto corev1.Protocol) rt.IntentVerdict {
	e := s.model.Explain(src, dst)
	if dstName == "" {
		dstName = dst.String()
	}
	srcName := src.String()
	if src.External() {
		srcName = src.IPs.First.String() + "[External]"
	}
	v := rt.IntentVerdict{Decided: true, Src: srcName, Dst: dstName}
	if e.Unknown.Allows(proto, port) {
		// A domain-name or nodes peer could change the verdict.
		return rt.IntentVerdict{}
	}
	if e.Allowed.Allows(proto, port) {
		return v
	}
	v.Denied = true
	v.Why = why(e, port, proto)
	return v
}

// decideNode judges a connection to another node's address by the admin
// tiers (nodes peers) and, where NetworkPolicies isolate the pod for
// egress, only if their verdict does not depend on whether ipBlocks apply
// to node addresses (implementation-defined): Model.EgressToNode.
func (s *Snapshot) decideNode(local *netpol.Peer, remote netip.Addr, node string, port uint16, proto corev1.Protocol) rt.IntentVerdict {
	allowed, unknown := s.model.EgressToNode(local, remote)
	if unknown.Allows(proto, int32(port)) {
		return rt.IntentVerdict{}
	}
	v := rt.IntentVerdict{Decided: true, Src: local.String(), Dst: remote.String() + "[Node " + node + "]"}
	if allowed.Allows(proto, int32(port)) {
		return v
	}
	v.Denied = true
	v.Why = why(s.model.Explain(netpol.Endpoint{Peer: local}, netpol.AddressEndpoint(remote)), int32(port), proto)
	return v
}

// decideService judges a connection to a Service's ClusterIP by its
// backends (the network plugin judges the translated connection): denied
// only when the policies deny every backend workload on its target port.
func (s *Snapshot) decideService(local *netpol.Peer, svc *corev1.Service, port uint16, proto corev1.Protocol) rt.IntentVerdict {
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Port == int32(port) && (p.Protocol == proto || p.Protocol == "" && proto == corev1.ProtocolTCP) {
			sp = p
		}
	}
	if sp == nil {
		return rt.IntentVerdict{}
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	name := "Service " + svc.Namespace + "/" + svc.Name
	var reasons []string
	backends := 0
	for _, q := range s.model.Peers {
		if q.Namespace != svc.Namespace || !sel.Matches(q.Labels) {
			continue
		}
		target, ok := targetPort(sp, q, proto)
		if !ok {
			continue
		}
		backends++
		v := s.decide(netpol.Endpoint{Peer: local}, netpol.Endpoint{Peer: q}, target, "", proto)
		if !v.Denied {
			return rt.IntentVerdict{Decided: true, Src: local.String(), Dst: name}
		}
		reasons = append(reasons, q.String()+" port "+fmt.Sprint(target)+": "+v.Why)
	}
	if backends == 0 {
		return rt.IntentVerdict{}
	}
	return rt.IntentVerdict{Decided: true, Denied: true, Src: local.String(), Dst: name, Why: bounded(strings.Join(reasons, "; "))}
}

func targetPort(sp *corev1.ServicePort, q *netpol.Peer, proto corev1.Protocol) (int32, bool) {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, np := range q.NamedPorts[sp.TargetPort.StrVal] {
			if np.Protocol == proto {
				return np.Port, true
			}
		}
		return 0, false
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal, true
	}
	return sp.Port, true
}

// why is the explanation's lines for the side(s) that deny.
func why(e netpol.Explanation, port int32, proto corev1.Protocol) string {
	var lines []string
	lines = append(lines, e.Egress...)
	lines = append(lines, e.Ingress...)
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if strings.HasPrefix(l, "no NetworkPolicy") || strings.HasPrefix(l, "external ") {
			continue // the side that allows everything says nothing of the denial
		}
		out = append(out, l)
	}
	return bounded(fmt.Sprintf("%s %d is not allowed: %s", proto, port, strings.Join(out, "; ")))
}

// bounded keeps a finding's message readable and an Event small.
func bounded(s string) string {
	const max = 600
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
