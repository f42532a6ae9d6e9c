package netpol

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// perPodLabels are labels that controllers set differently on pods of one
// owner by design (a rollout in progress, a StatefulSet's ordinal, an
// indexed Job's completion index). They never make an owner's pods
// disagree and are left out of the labels generated policies select on,
// which must survive the next rollout.
var perPodLabels = map[string]bool{
	"pod-template-hash":                        true,
	"controller-revision-hash":                 true,
	"pod-template-generation":                  true,
	"statefulset.kubernetes.io/pod-name":       true,
	"apps.kubernetes.io/pod-index":             true,
	"batch.kubernetes.io/job-completion-index": true,
}

// peerSource is one workload of the input on its way to becoming a peer.
type peerSource struct {
	w   *workload.Workload
	pod *corev1.Pod // the typed Pod, for status; nil for other kinds
	// key is "namespace/name[Kind]" of the peer the workload belongs to.
	key string
	// owner is the Pod's controller, when it is folded into it.
	owner *metav1.OwnerReference
}

// controllerOf returns the controller owner reference a Pod is folded
// into. Mirror pods of static manifests are owned by their Node and stay
// Pods: a node's static pods are unrelated workloads.
func controllerOf(meta *metav1.ObjectMeta) *metav1.OwnerReference {
	if meta == nil {
		return nil
	}
	ref := metav1.GetControllerOfNoCopy(meta)
	if ref == nil || ref.Name == "" || ref.Kind == "" || ref.Kind == "Node" {
		return nil
	}
	return ref
}

// PeerName is the peer a workload of the input is analysed as:
// "namespace/owner[OwnerKind]" for a Pod with a controller, else
// "namespace/name[Kind]".
func PeerName(w *workload.Workload) string {
	if w.Ref.Kind == "Pod" {
		if o := controllerOf(w.Meta); o != nil {
			return w.Namespace() + "/" + o.Name + "[" + o.Kind + "]"
		}
	}
	return w.Namespace() + "/" + w.Ref.Name + "[" + w.Ref.Kind + "]"
}

// buildPeers turns the inventory's workloads into peers, one per workload
// as operators name them:
//   - Pods with a controller are folded into one peer named after the
//     controller (ReplicaSet, DaemonSet, StatefulSet, Job, ...), exactly as
//     the owner reference names it;
//   - a workload object of the input whose pods are present (or whose
//     owned objects' pods are, linked by the owned object or by its name:
//     a Deployment's ReplicaSet is "<deployment>-<pod-template-hash>", a
//     CronJob's Job "<cronjob>-<minutes>") is the same set of pods and is
//     dropped, and
//     so is a ReplicaSet or Job whose owner is in the input without pods
//     (the owner stands for it);
//   - Pods that cannot take part in pod networking are left out with a
//     note: finished pods (phase Succeeded or Failed hold no address) and
//     host-network pods (policies do not select them; their traffic is the
//     node's, which the Kubernetes documentation leaves undefined and most
//     network plugins treat as the node address).
func buildPeers(inv *workload.Inventory) ([]*Peer, []finding.Problem) {
	pods := map[*workload.Workload]*corev1.Pod{}
	for _, o := range inv.Objects {
		if p, ok := o.Typed.(*corev1.Pod); ok && o.Workload != nil {
			pods[o.Workload] = p
		}
	}
	var probs []finding.Problem
	var sources []*peerSource
	for _, w := range inv.Workloads {
		s := &peerSource{w: w, pod: pods[w], key: PeerName(w)}
		if w.Ref.Kind == "Pod" {
			s.owner = controllerOf(w.Meta)
		}
		if reason := notNetworked(s); reason != "" {
			file, line := sourceOf(w)
			probs = append(probs, finding.Problem{File: file, Line: line, Level: finding.LevelNote,
				Message: fmt.Sprintf("%s %s/%s (%s): %s; left out of the analysis", w.Ref.Kind, w.Namespace(), w.Ref.Name, s.key, reason)})
			continue
		}
		sources = append(sources, s)
	}

	// represented holds the workload objects whose pods are in the input,
	// directly or through the objects they own.
	byKey := map[string]*peerSource{}
	for _, s := range sources {
		if s.owner == nil {
			byKey[s.key] = s
		}
	}
	represented := map[string]bool{}
	var mark func(key string, depth int)
	mark = func(key string, depth int) {
		if represented[key] || depth > 8 {
			return
		}
		represented[key] = true
		if s := byKey[key]; s != nil {
			if o := controllerOf(s.w.Meta); o != nil {
				mark(s.w.Namespace()+"/"+o.Name+"["+o.Kind+"]", depth+1)
			}
		}
	}
	for _, s := range sources {
		if s.owner == nil {
			continue
		}
		mark(s.key, 0)
		// A Deployment's ReplicaSet is named after it and the pod template
		// hash: without the ReplicaSet in the input, this is the only link
		// from the pods to a Deployment of the input.
		if hash := s.w.Meta.Labels["pod-template-hash"]; s.owner.Kind == "ReplicaSet" && hash != "" {
			if d, ok := strings.CutSuffix(s.owner.Name, "-"+hash); ok && d != "" {
				mark(s.w.Namespace()+"/"+d+"[Deployment]", 0)
			}
		}
		// Likewise a CronJob's Job is named after it and the scheduled
		// time in minutes.
		if s.owner.Kind == "Job" {
			if i := strings.LastIndexByte(s.owner.Name, '-'); i > 0 && isDigits(s.owner.Name[i+1:]) {
				mark(s.w.Namespace()+"/"+s.owner.Name[:i]+"[CronJob]", 0)
			}
		}
	}
	groups := map[string][]*peerSource{}
	var order []string
	for _, s := range sources {
		if s.owner == nil && represented[s.key] {
			continue // its pods are in the input and stand for it
		}
		if s.owner == nil && s.w.Ref.Kind != "Pod" {
			if o := controllerOf(s.w.Meta); o != nil && byKey[s.w.Namespace()+"/"+o.Name+"["+o.Kind+"]"] != nil {
				continue // its owner is in the input and stands for it
			}
		}
		if _, ok := groups[s.key]; !ok {
			order = append(order, s.key)
		}
		groups[s.key] = append(groups[s.key], s)
	}
	peers := make([]*Peer, 0, len(order))
	for _, key := range order {
		g := groups[key]
		if g[0].owner == nil && len(g) > 1 {
			// The same object twice in the input: the first one counts,
			// as before owners were folded.
			g = g[:1]
		}
		peers = append(peers, peerOf(g))
	}
	return peers, probs
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// notNetworked says why a workload has no pods on the pod network.
func notNetworked(s *peerSource) string {
	if s.w.Spec != nil && s.w.Spec.HostNetwork {
		return "uses the host network: NetworkPolicies do not select it and its traffic is the node's"
	}
	if s.pod != nil {
		switch s.pod.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed:
			return fmt.Sprintf("phase %s: a finished pod holds no address", s.pod.Status.Phase)
		}
	}
	return ""
}

func sourceOf(w *workload.Workload) (string, int) {
	if w.Source == nil {
		return "", 0
	}
	return w.Source.File, w.Source.Line
}

// peerOf makes one peer of the workloads of a group: one workload object,
// or the pods of one controller, sorted by name. The peer takes the first
// pod's labels (see labelConflicts for when pods disagree) and the named
// ports of every container of every pod.
func peerOf(g []*peerSource) *Peer {
	sort.SliceStable(g, func(i, j int) bool { return g[i].w.Ref.Name < g[j].w.Ref.Name })
	first := g[0].w
	p := peerFromWorkload(first)
	if o := g[0].owner; o != nil {
		p.Name, p.Kind = o.Name, o.Kind
		p.Ref = finding.ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: first.Namespace(), Name: o.Name}
		p.Pods = make([]string, len(g))
		for i, s := range g {
			p.Pods[i] = s.w.Ref.Name
			p.podLabels = append(p.podLabels, podLabels(s.w))
			if i > 0 {
				addNamedPorts(p, s.w.Spec)
			}
		}
	}
	for k, v := range p.Labels {
		if !perPodLabels[k] {
			if p.StableLabels == nil {
				p.StableLabels = labels.Set{}
			}
			p.StableLabels[k] = v
		}
	}
	return p
}

func podLabels(w *workload.Workload) labels.Set {
	if w.PodMeta == nil {
		return labels.Set{}
	}
	return labels.Set(w.PodMeta.Labels)
}

// addNamedPorts adds the named ports of a pod's containers (and of its
// sidecars: init containers that keep running), without repeating one.
func addNamedPorts(p *Peer, spec *corev1.PodSpec) {
	if spec == nil {
		return
	}
	add := func(c *corev1.Container) {
		for _, cp := range c.Ports {
			if cp.Name == "" {
				continue
			}
			np := NamedPort{Protocol: cp.Protocol, Port: cp.ContainerPort}
			if np.Protocol == "" {
				np.Protocol = corev1.ProtocolTCP
			}
			if !slices.Contains(p.NamedPorts[cp.Name], np) {
				p.NamedPorts[cp.Name] = append(p.NamedPorts[cp.Name], np)
			}
		}
	}
	for i := range spec.InitContainers {
		if c := &spec.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	for i := range spec.Containers {
		add(&spec.Containers[i])
	}
}

// labelConflicts reports, as notes, owners whose pods do not behave as one
// peer: their labels differ beyond perPodLabels, or some selector of the
// input's policies selects some of their pods and not others. The owner is
// analysed with the labels of its first pod by name.
func (m *Model) labelConflicts() []finding.Problem {
	// sels are the pod selectors of the input with the pods they can see:
	// a policy's own in its namespace, a rule peer's in the namespaces it
	// names.
	type scoped struct {
		sel     labels.Selector
		applies func(*Peer) bool
	}
	var sels []scoped
	for _, pol := range m.Policies {
		sels = append(sels, scoped{pol.Selector, func(q *Peer) bool { return q.Namespace == pol.Namespace }})
		for _, rules := range [][]*Rule{pol.Ingress, pol.Egress} {
			for _, r := range rules {
				for _, rp := range r.Peers {
					if rp.PodSelector != nil {
						all := RulePeer{NamespaceSelector: rp.NamespaceSelector}
						sels = append(sels, scoped{rp.PodSelector, func(q *Peer) bool { return m.matchesPeer(pol, all, q) }})
					}
				}
			}
		}
	}
	var out []finding.Problem
	for _, p := range m.Peers {
		if len(p.podLabels) < 2 {
			continue
		}
		var why []string
		keys := map[string]bool{}
		for _, l := range p.podLabels[1:] {
			for _, k := range differingKeys(p.podLabels[0], l) {
				if !perPodLabels[k] {
					keys[k] = true
				}
			}
		}
		if len(keys) > 0 {
			ks := make([]string, 0, len(keys))
			for k := range keys {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			why = append(why, "their labels differ in "+strings.Join(ks, ", "))
		}
		// A pod's port names are unique, so a name with several ports
		// means pods that disagree: a policy naming it allows each pod
		// one of them, and the peer shows them all.
		var ports []string
		for name, nps := range p.NamedPorts {
			if len(nps) > 1 {
				ports = append(ports, fmt.Sprintf("%q is %s", name, namedPortList(nps)))
			}
		}
		if len(ports) > 0 {
			sort.Strings(ports)
			why = append(why, "their named ports differ: "+strings.Join(ports, ", ")+", and the peer has them all")
		}
		for _, s := range sels {
			if s.applies(p) && splitsPods(s.sel, p.podLabels) {
				why = append(why, fmt.Sprintf("selector %q selects some of them and not others", s.sel))
				break
			}
		}
		if len(why) == 0 {
			continue
		}
		out = append(out, finding.Problem{File: p.File, Line: p.Line, Level: finding.LevelNote,
			Message: fmt.Sprintf("%s: its %d pods do not behave as one peer (%s); analysed with the labels of pod %s", p, len(p.podLabels), strings.Join(why, "; "), p.Pods[0])})
	}
	return out
}

func differingKeys(a, b labels.Set) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func splitsPods(s labels.Selector, sets []labels.Set) bool {
	first := s.Matches(sets[0])
	for _, l := range sets[1:] {
		if s.Matches(l) != first {
			return true
		}
	}
	return false
}

// namedPortList renders the ports one name stands for: "TCP 8080 or TCP 9090".
func namedPortList(nps []NamedPort) string {
	out := make([]string, len(nps))
	for i, np := range nps {
		out[i] = fmt.Sprintf("%s %d", np.Protocol, np.Port)
	}
	sort.Strings(out)
	return strings.Join(out, " or ")
}
