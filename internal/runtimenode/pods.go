package runtimenode

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	rt "github.com/palisade-sec/palisade/internal/runtime"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// podIndex is the runtime sensor's runtime.PodLookup over a pod informer:
// container ID → pod. A deleted pod stays known for deletedTTL (at most
// maxDeletedPods of them), so the events a short-lived container sent
// just before its pod went away, still in the ring buffer or the
// resolver's queue, are attributed to it (pod churn).
type podIndex struct {
	mu          sync.Mutex
	byContainer map[string]*podEntry
	byUID       map[string]*podEntry
	// byIP names the workload of each pod address on the node, for the
	// peers of the workloads' observations.
	byIP    map[netip.Addr]*podEntry
	deleted []*podEntry // oldest first
	now     func() time.Time
	// remote names the workload of each pod address on other nodes, when
	// the informer is cluster-wide (policy intent): only what a peer's
	// name needs, at most maxRemotePeers addresses; beyond, an address
	// stays an address and remoteOver counts it.
	remote     map[netip.Addr]remotePeer
	remoteIPs  map[string][]netip.Addr // by pod UID
	remoteOver uint64
}

// remotePeer is a pod of another node as a peer: its UID (an address is
// reused by a later pod) and workload.
type remotePeer struct {
	uid string
	w   profile.Workload
}

type podEntry struct {
	uid        string
	containers map[string]*rt.Pod // container ID → pod as that container sees it
	any        *rt.Pod            // the pod with no container named (lookup by UID)
	ips        []netip.Addr
	goneAt     time.Time
}

const (
	deletedPodTTL  = 5 * time.Minute
	maxDeletedPods = 4096
	// maxRemotePeers bounds the other nodes' pod addresses kept (about
	// 100 bytes each: 6 MiB at the bound).
	maxRemotePeers = 65_536
)

func newPodIndex(now func() time.Time) *podIndex {
	if now == nil {
		now = time.Now
	}
	return &podIndex{byContainer: map[string]*podEntry{}, byUID: map[string]*podEntry{}, byIP: map[netip.Addr]*podEntry{}, remote: map[netip.Addr]remotePeer{}, remoteIPs: map[string][]netip.Addr{}, now: now}
}

// LookupPod implements runtime.PodLookup.
func (x *podIndex) LookupPod(_ context.Context, containerID, podUID string) (*rt.Pod, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.byContainer[containerID]; e != nil {
		return e.containers[containerID], true
	}
	// A container the pod's status does not list yet (the informer lags
	// the runtime by a moment): the pod is known by its cgroup's UID, the
	// container is not.
	if e := x.byUID[podUID]; e != nil && podUID != "" {
		return e.any, true
	}
	return nil, false
}

// LookupPeer implements runtime.PeerLookup: the workload of a pod address
// on this node, or on another node when the informer is cluster-wide.
// Host-network pods share their node's address and are not indexed: the
// address names no one workload.
func (x *podIndex) LookupPeer(addr netip.Addr) (profile.Workload, bool) {
	x.mu.Lock()
	e := x.byIP[addr]
	r, remote := x.remote[addr]
	x.mu.Unlock()
	if e == nil {
		return r.w, remote
	}
	return rt.WorkloadOf(&rt.Attribution{ContainerID: "-", Pod: e.any})
}

// remoteHandler indexes the pods of other nodes as peers.
func (x *podIndex) remoteHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { x.setRemote(obj) },
		UpdateFunc: func(_, obj any) { x.setRemote(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				x.removeRemote(p)
			}
		},
	}
}

func (x *podIndex) setRemote(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	x.removeRemote(p) // its addresses may have changed
	if p.Spec.HostNetwork {
		return
	}
	w, _ := rt.WorkloadOf(&rt.Attribution{ContainerID: "-", Pod: &rt.Pod{Namespace: p.Namespace, Name: p.Name, Owner: ownerOf(p)}})
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, ip := range p.Status.PodIPs {
		a, err := netip.ParseAddr(ip.IP)
		if err != nil {
			continue
		}
		if _, known := x.remote[a.Unmap()]; !known && len(x.remote) >= maxRemotePeers {
			x.remoteOver++
			continue
		}
		x.remote[a.Unmap()] = remotePeer{uid: string(p.UID), w: w}
		x.remoteIPs[string(p.UID)] = append(x.remoteIPs[string(p.UID)], a.Unmap())
	}
}

// removeRemote forgets a pod's addresses, unless a later pod holds them.
func (x *podIndex) removeRemote(p *corev1.Pod) {
	x.mu.Lock()
	defer x.mu.Unlock()
	uid := string(p.UID)
	for _, a := range x.remoteIPs[uid] {
		if x.remote[a].uid == uid {
			delete(x.remote, a)
		}
	}
	delete(x.remoteIPs, uid)
}

func (x *podIndex) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { x.set(obj) },
		UpdateFunc: func(_, obj any) { x.set(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				x.remove(string(p.UID))
			}
		},
	}
}

func (x *podIndex) set(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	e := podEntryOf(p)
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.byUID[e.uid]; old != nil {
		for id := range old.containers {
			if x.byContainer[id] == old {
				delete(x.byContainer, id)
			}
		}
		for _, ip := range old.ips {
			if x.byIP[ip] == old {
				delete(x.byIP, ip)
			}
		}
	}
	x.byUID[e.uid] = e
	for id := range e.containers {
		x.byContainer[id] = e
	}
	for _, ip := range e.ips {
		x.byIP[ip] = e
	}
	x.expireLocked()
}

func (x *podIndex) remove(uid string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.byUID[uid]
	if e == nil || !e.goneAt.IsZero() {
		return
	}
	e.goneAt = x.now()
	x.deleted = append(x.deleted, e)
	x.expireLocked()
}

// expireLocked forgets deleted pods older than deletedPodTTL, and the
// oldest beyond maxDeletedPods.
func (x *podIndex) expireLocked() {
	now := x.now()
	n := 0
	for n < len(x.deleted) && (len(x.deleted)-n > maxDeletedPods || now.Sub(x.deleted[n].goneAt) > deletedPodTTL) {
		e := x.deleted[n]
		if x.byUID[e.uid] == e {
			delete(x.byUID, e.uid)
		}
		for id := range e.containers {
			if x.byContainer[id] == e {
				delete(x.byContainer, id)
			}
		}
		for _, ip := range e.ips {
			if x.byIP[ip] == e {
				delete(x.byIP, ip)
			}
		}
		n++
	}
	x.deleted = x.deleted[n:]
}

// podEntryOf reads what the detections need from a pod: its owner
// workload (a ReplicaSet made by a Deployment is named after the
// Deployment), each container's ID, image (digest when known) and whether
// the spec asked for a non-root user.
func podEntryOf(p *corev1.Pod) *podEntry {
	owner := ownerOf(p)
	podNonRoot := false
	if sc := p.Spec.SecurityContext; sc != nil {
		podNonRoot = (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsUser != nil && *sc.RunAsUser != 0)
	}
	specs := map[string]corev1.Container{}
	for _, c := range append(append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...), ephemeralContainers(p)...) {
		specs[c.Name] = c
	}
	e := &podEntry{uid: string(p.UID), containers: map[string]*rt.Pod{},
		any: &rt.Pod{Namespace: p.Namespace, Name: p.Name, Owner: owner, RunAsNonRoot: podNonRoot}}
	if !p.Spec.HostNetwork {
		for _, ip := range p.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				e.ips = append(e.ips, a.Unmap())
			}
		}
	}
	statuses := append(append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...), p.Status.EphemeralContainerStatuses...)
	for _, cs := range statuses {
		_, id, ok := strings.Cut(cs.ContainerID, "://")
		if !ok || id == "" {
			continue
		}
		c := specs[cs.Name]
		nonRoot := podNonRoot
		if sc := c.SecurityContext; sc != nil {
			if sc.RunAsNonRoot != nil {
				nonRoot = *sc.RunAsNonRoot
			}
			if sc.RunAsUser != nil {
				nonRoot = *sc.RunAsUser != 0
			}
		}
		image := c.Image
		if d := fleetapi.DigestOf(cs.ImageID); d != "" && fleetapi.DigestOf(image) == "" {
			image += "@" + d
		}
		e.containers[id] = &rt.Pod{Namespace: p.Namespace, Name: p.Name, Owner: owner, Container: cs.Name, Image: image, RunAsNonRoot: nonRoot}
	}
	return e
}

// ownerOf is the pod's controlling workload, "Kind/name" (a ReplicaSet
// made by a Deployment is named after the Deployment), or "Pod/name".
func ownerOf(p *corev1.Pod) string {
	owner := "Pod/" + p.Name
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			owner = o.Kind + "/" + o.Name
			if h := p.Labels["pod-template-hash"]; o.Kind == "ReplicaSet" && h != "" && strings.HasSuffix(o.Name, "-"+h) {
				owner = "Deployment/" + strings.TrimSuffix(o.Name, "-"+h)
			}
		}
	}
	return owner
}

func ephemeralContainers(p *corev1.Pod) []corev1.Container {
	out := make([]corev1.Container, 0, len(p.Spec.EphemeralContainers))
	for _, c := range p.Spec.EphemeralContainers {
		out = append(out, corev1.Container(c.EphemeralContainerCommon))
	}
	return out
}
