package agent

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Distribution names.
const (
	DistK3s       = "k3s"
	DistRKE2      = "rke2"
	DistMicroK8s  = "microk8s"
	DistKubeadm   = "kubeadm"
	DistEKS       = "eks"
	DistGKE       = "gke"
	DistAKS       = "aks"
	DistOpenShift = "openshift"
	DistKind      = "kind"
	DistUnknown   = "unknown"
)

// detectDistribution names the Kubernetes distribution from the server
// version and the nodes' labels, annotations, provider IDs and kubelet
// versions. Managed offerings are checked first: they also run kubeadm-like
// control planes, but what matters to the operator is who manages it.
func detectDistribution(serverVersion string, nodes []*corev1.Node) string {
	has := func(pred func(n *corev1.Node) bool) bool {
		for _, n := range nodes {
			if pred(n) {
				return true
			}
		}
		return false
	}
	label := func(k string) func(n *corev1.Node) bool {
		return func(n *corev1.Node) bool { _, ok := n.Labels[k]; return ok }
	}
	kubelet := func(sub string) func(n *corev1.Node) bool {
		return func(n *corev1.Node) bool { return strings.Contains(n.Status.NodeInfo.KubeletVersion, sub) }
	}
	provider := func(prefix string) func(n *corev1.Node) bool {
		return func(n *corev1.Node) bool { return strings.HasPrefix(n.Spec.ProviderID, prefix) }
	}
	switch {
	case strings.Contains(serverVersion, "-eks-") || has(label("eks.amazonaws.com/nodegroup")) || has(kubelet("-eks-")):
		return DistEKS
	case strings.Contains(serverVersion, "-gke.") || has(label("cloud.google.com/gke-nodepool")):
		return DistGKE
	case has(label("kubernetes.azure.com/cluster")) || has(provider("azure://")):
		return DistAKS
	case has(label("node.openshift.io/os_id")):
		return DistOpenShift
	case strings.Contains(serverVersion, "+k3s") || has(kubelet("+k3s")) || has(func(n *corev1.Node) bool { return n.Labels["node.kubernetes.io/instance-type"] == "k3s" }):
		return DistK3s
	case strings.Contains(serverVersion, "+rke2") || has(kubelet("+rke2")):
		return DistRKE2
	case has(label("microk8s.io/cluster")):
		return DistMicroK8s
	case has(provider("kind://")):
		return DistKind
	case has(func(n *corev1.Node) bool { _, ok := n.Annotations["kubeadm.alpha.kubernetes.io/cri-socket"]; return ok }):
		return DistKubeadm
	}
	return DistUnknown
}

// nodeInfo reduces a node to what the hub stores.
func nodeInfo(n *corev1.Node) fleetapi.Node {
	out := fleetapi.Node{
		Name:             n.Name,
		Architecture:     n.Status.NodeInfo.Architecture,
		OS:               n.Status.NodeInfo.OperatingSystem,
		OSImage:          n.Status.NodeInfo.OSImage,
		KernelVersion:    n.Status.NodeInfo.KernelVersion,
		KubeletVersion:   n.Status.NodeInfo.KubeletVersion,
		ContainerRuntime: n.Status.NodeInfo.ContainerRuntimeVersion,
		Labels:           n.Labels,
		Capacity:         map[string]string{},
		Allocatable:      map[string]string{},
		Conditions:       map[string]string{},
		Unschedulable:    n.Spec.Unschedulable,
	}
	// Labels are the source of truth for arch/OS when status is empty
	// (nodes registered but not yet reporting).
	if out.Architecture == "" {
		out.Architecture = n.Labels["kubernetes.io/arch"]
	}
	if out.OS == "" {
		out.OS = n.Labels["kubernetes.io/os"]
	}
	for k, v := range n.Status.Capacity {
		out.Capacity[string(k)] = v.String()
	}
	for k, v := range n.Status.Allocatable {
		out.Allocatable[string(k)] = v.String()
	}
	for _, c := range n.Status.Conditions {
		out.Conditions[string(c.Type)] = string(c.Status)
	}
	return out
}

// imageUses aggregates the images of pods: each (reference, digest) with
// the workloads (controllers, or bare pods) and namespaces using it.
func imageUses(pods []*corev1.Pod) []fleetapi.ImageUse {
	type key struct{ ref, digest string }
	type agg struct {
		workloads  map[string]bool
		namespaces map[string]bool
	}
	m := map[key]*agg{}
	for _, p := range pods {
		owner := "Pod/" + p.Name
		for _, o := range p.OwnerReferences {
			if o.Controller != nil && *o.Controller {
				owner = o.Kind + "/" + o.Name
			}
		}
		statusDigest := map[string]string{}
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			statusDigest[cs.Name] = fleetapi.DigestOf(cs.ImageID)
		}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			d := fleetapi.DigestOf(c.Image)
			if d == "" {
				d = statusDigest[c.Name]
			}
			k := key{c.Image, d}
			a := m[k]
			if a == nil {
				a = &agg{workloads: map[string]bool{}, namespaces: map[string]bool{}}
				m[k] = a
			}
			a.workloads[p.Namespace+"/"+owner] = true
			a.namespaces[p.Namespace] = true
		}
	}
	out := make([]fleetapi.ImageUse, 0, len(m))
	for k, a := range m {
		u := fleetapi.ImageUse{Ref: k.ref, Digest: k.digest, Workloads: len(a.workloads)}
		for ns := range a.namespaces {
			u.Namespaces = append(u.Namespaces, ns)
		}
		sort.Strings(u.Namespaces)
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ref != out[j].Ref {
			return out[i].Ref < out[j].Ref
		}
		return out[i].Digest < out[j].Digest
	})
	return out
}
