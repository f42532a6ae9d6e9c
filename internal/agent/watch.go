package agent

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/kubelist"
	"github.com/palisade-sec/palisade/internal/workload"
)

// stripForCache drops what no rule reads and costs memory in the informer
// caches: managed fields and the last-applied annotation (a full copy of
// the object) everywhere; a Pod's status except the containers' image IDs
// (image digests for the image report); a Node's image list and volumes
// (hundreds of entries on busy nodes; the inventory reads node info,
// capacity, allocatable and conditions only); a ConfigMap's content except
// its credential keys (cluster.ReduceConfigMap). Custom CEL rules therefore
// see no pod status and no ConfigMap settings in the agent.
func stripForCache(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a != nil {
			if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
				delete(a, corev1.LastAppliedConfigAnnotation)
				m.SetAnnotations(a)
			}
		}
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status = corev1.PodStatus{
			InitContainerStatuses: imageIDsOnly(o.Status.InitContainerStatuses),
			ContainerStatuses:     imageIDsOnly(o.Status.ContainerStatuses),
		}
	case *corev1.Node:
		o.Status.Images = nil
		o.Status.VolumesInUse = nil
		o.Status.VolumesAttached = nil
	case *corev1.ConfigMap:
		// Only the credential keys hardening/configmap-secret reports are
		// kept: the cache holds ConfigMaps at the cost of their metadata.
		cluster.ReduceConfigMap(o)
	}
	return obj, nil
}

// imageIDsOnly keeps each container status's name and image ID.
func imageIDsOnly(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, cs := range in {
		out[i] = corev1.ContainerStatus{Name: cs.Name, ImageID: cs.ImageID}
	}
	return out
}

// kinds watched, with how a change affects evaluation.
type watchedKind struct {
	apiVersion, kind string
	informer         cache.SharedIndexInformer
	// workload kinds (and ConfigMaps, which no rule relates to other
	// objects) are re-evaluated alone; context kinds (namespaces, service
	// accounts, services, policies, RBAC, disruption budgets, autoscalers,
	// ingresses) can change any workload's findings and trigger a full
	// evaluation.
	workload bool
	// pods feed images and counts; nodes the inventory.
	pods, nodes bool
}

// scannedOwnerKinds own pod templates that are scanned themselves.
var scannedOwnerKinds = map[string]bool{
	"Deployment": true, "ReplicaSet": true, "StatefulSet": true, "DaemonSet": true,
	"Job": true, "CronJob": true, "ReplicationController": true,
}

// controlled reports whether a Pod, ReplicaSet or Job is controlled by a
// scanned kind (its owner carries the same template, reported once).
func controlled(obj any) bool {
	switch obj.(type) {
	case *corev1.Pod, *appsv1.ReplicaSet, *batchv1.Job:
	default:
		return false
	}
	for _, o := range obj.(metav1.Object).GetOwnerReferences() {
		if o.Controller != nil && *o.Controller && scannedOwnerKinds[o.Kind] {
			return true
		}
	}
	return false
}

// watcher keeps informer caches and turns changes into findings deltas.
type watcher struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	kinds   []*watchedKind

	mu          sync.Mutex
	dirty       map[string]bool // workload object keys
	fullPending bool
	imagesDirty bool
	nodesDirty  bool
	kick        chan struct{}
}

func objectKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// newWatcher makes the informers of every watched kind, in namespace
// ("": all). Pods are listed listPage at a time (0: kubelist.Page) where
// the API server does not stream initial lists (podInformer).
func newWatcher(client kubernetes.Interface, namespace string, resync time.Duration, listPage int64) (*watcher, error) {
	opts := []informers.SharedInformerOption{informers.WithTransform(stripForCache)}
	if namespace != "" {
		// Cluster-scoped kinds (namespaces, cluster RBAC, nodes) are still
		// watched whole.
		opts = append(opts, informers.WithNamespace(namespace))
	}
	f := informers.NewSharedInformerFactoryWithOptions(client, resync, opts...)
	w := &watcher{client: client, factory: f, dirty: map[string]bool{}, fullPending: true, imagesDirty: true, nodesDirty: true, kick: make(chan struct{}, 1)}
	add := func(apiVersion, kind string, inf cache.SharedIndexInformer, wl, pods, nodes bool) {
		w.kinds = append(w.kinds, &watchedKind{apiVersion: apiVersion, kind: kind, informer: inf, workload: wl, pods: pods, nodes: nodes})
	}
	pods, err := podInformer(client, namespace, resync, listPage)
	if err != nil {
		return nil, err
	}
	// The factory's listers (w.pods) then read this informer.
	add("v1", "Pod", f.InformerFor(&corev1.Pod{}, func(kubernetes.Interface, time.Duration) cache.SharedIndexInformer { return pods }), true, true, false)
	add("apps/v1", "Deployment", f.Apps().V1().Deployments().Informer(), true, false, false)
	add("apps/v1", "StatefulSet", f.Apps().V1().StatefulSets().Informer(), true, false, false)
	add("apps/v1", "DaemonSet", f.Apps().V1().DaemonSets().Informer(), true, false, false)
	add("apps/v1", "ReplicaSet", f.Apps().V1().ReplicaSets().Informer(), true, false, false)
	add("batch/v1", "Job", f.Batch().V1().Jobs().Informer(), true, false, false)
	add("batch/v1", "CronJob", f.Batch().V1().CronJobs().Informer(), true, false, false)
	add("v1", "ReplicationController", f.Core().V1().ReplicationControllers().Informer(), true, false, false)
	add("v1", "Namespace", f.Core().V1().Namespaces().Informer(), false, false, false)
	add("v1", "ServiceAccount", f.Core().V1().ServiceAccounts().Informer(), false, false, false)
	add("v1", "Service", f.Core().V1().Services().Informer(), false, false, false)
	add("networking.k8s.io/v1", "NetworkPolicy", f.Networking().V1().NetworkPolicies().Informer(), false, false, false)
	add("rbac.authorization.k8s.io/v1", "Role", f.Rbac().V1().Roles().Informer(), false, false, false)
	add("rbac.authorization.k8s.io/v1", "RoleBinding", f.Rbac().V1().RoleBindings().Informer(), false, false, false)
	add("rbac.authorization.k8s.io/v1", "ClusterRole", f.Rbac().V1().ClusterRoles().Informer(), false, false, false)
	add("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", f.Rbac().V1().ClusterRoleBindings().Informer(), false, false, false)
	add("v1", "Node", f.Core().V1().Nodes().Informer(), false, false, true)
	// Read by the cluster rules that require a LimitRange and a
	// ResourceQuota in each namespace that runs workloads.
	add("v1", "LimitRange", f.Core().V1().LimitRanges().Informer(), false, false, false)
	add("v1", "ResourceQuota", f.Core().V1().ResourceQuotas().Informer(), false, false, false)
	// Read by the reliability rules that judge workloads against their
	// disruption budgets and autoscalers, and Ingresses against Services.
	add("policy/v1", "PodDisruptionBudget", f.Policy().V1().PodDisruptionBudgets().Informer(), false, false, false)
	add("autoscaling/v2", "HorizontalPodAutoscaler", f.Autoscaling().V2().HorizontalPodAutoscalers().Informer(), false, false, false)
	add("networking.k8s.io/v1", "Ingress", f.Networking().V1().Ingresses().Informer(), false, false, false)
	// hardening/configmap-secret judges each ConfigMap alone.
	add("v1", "ConfigMap", f.Core().V1().ConfigMaps().Informer(), true, false, false)
	for _, k := range w.kinds {
		_, _ = k.informer.AddEventHandler(w.handler(k))
	}
	return w, nil
}

// podInformer is the agent's pod informer in namespace ("": all), with
// stripForCache as its transform and client-go's namespace index (as
// the factory's own): streamed where the API server streams initial
// lists; where it does not, listed page of page pods at a time, each
// page stripped before the next is fetched, and a list whose continue
// token expired or whose pages come at different resource versions
// failed, so the reflector lists again from the start rather than
// caching part of a list (kubelist.Paged). client-go's pager would hold
// every pod of the list, with status and managed fields, at once.
func podInformer(client kubernetes.Interface, namespace string, resync time.Duration, page int64) (cache.SharedIndexInformer, error) {
	pods := client.CoreV1().Pods(namespace)
	inf, err := kubelist.NewInformer(client, kubelist.Informer{Example: &corev1.Pod{}, What: "pods", Page: page, Strip: stripForCache,
		Resync: resync, Indexers: cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
		List: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return pods.List(ctx, opts)
		},
		Watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return pods.Watch(ctx, opts)
		}})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return inf, nil
}

func (w *watcher) handler(k *watchedKind) cache.ResourceEventHandler {
	on := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		m, ok := obj.(metav1.Object)
		if !ok {
			return
		}
		w.mu.Lock()
		switch {
		case k.nodes:
			w.nodesDirty = true
		case k.workload:
			if k.pods {
				w.imagesDirty = true
			}
			if !controlled(obj) {
				w.dirty[objectKey(k.kind, m.GetNamespace(), m.GetName())] = true
			}
		default:
			w.fullPending = true
		}
		w.mu.Unlock()
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: on,
		UpdateFunc: func(old, cur any) {
			o, _ := old.(metav1.Object)
			c, _ := cur.(metav1.Object)
			if o != nil && c != nil && o.GetResourceVersion() == c.GetResourceVersion() {
				return // periodic resync: nothing changed
			}
			on(cur)
		},
		DeleteFunc: on,
	}
}

// start runs the informers and waits for their caches.
func (w *watcher) start(ctx context.Context) error {
	w.factory.Start(ctx.Done())
	for t, ok := range w.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer cache for %v did not sync", t)
		}
	}
	return nil
}

// pending takes the accumulated changes.
func (w *watcher) pending() (dirty map[string]bool, full, images, nodes bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dirty, full, images, nodes = w.dirty, w.fullPending, w.imagesDirty, w.nodesDirty
	w.dirty, w.fullPending, w.imagesDirty, w.nodesDirty = map[string]bool{}, false, false, false
	return
}

// requeue puts back changes whose evaluation failed.
func (w *watcher) requeue(dirty map[string]bool, full bool) {
	w.mu.Lock()
	for k := range dirty {
		w.dirty[k] = true
	}
	w.fullPending = w.fullPending || full
	w.mu.Unlock()
}

func (w *watcher) forceFull() {
	w.mu.Lock()
	w.fullPending = true
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// addToInventory deep-copies a cached object (the cache is shared and
// read-only; the inventory normalises objects in place) and adds it.
func addToInventory(inv *workload.Inventory, k *watchedKind, obj any) {
	ro, ok := obj.(runtime.Object)
	if !ok {
		return
	}
	cp := ro.DeepCopyObject()
	cp.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(k.apiVersion, k.kind))
	m := cp.(metav1.Object)
	inv.Add(cp, finding.ObjectRef{APIVersion: k.apiVersion, Kind: k.kind, Namespace: m.GetNamespace(), Name: m.GetName()}, nil)
}

// evaluation is the result of one evaluation.
type evaluation struct {
	// byObject holds the findings of every evaluated object (empty slice:
	// clean), keyed by store-compatible object key.
	byObject map[string]fleetapi.ObjectFindings
	// deleted are dirty workloads that no longer exist.
	deleted []finding.ObjectRef
	objects int
}

// evaluate runs the rules over the context objects plus either every
// workload (full) or only the dirty ones, and returns the findings of the
// objects whose results are exact: all objects when full, else the dirty
// workloads.
func (w *watcher) evaluate(ctx context.Context, full bool, dirty map[string]bool, opts evalOptions, checks []Checks) (*evaluation, error) {
	inv := workload.NewInventory()
	ev := &evaluation{byObject: map[string]fleetapi.ObjectFindings{}}
	for _, k := range w.kinds {
		if k.nodes {
			continue
		}
		if !k.workload {
			for _, obj := range k.informer.GetStore().List() {
				addToInventory(inv, k, obj)
			}
			continue
		}
		if full {
			for _, obj := range k.informer.GetStore().List() {
				if !controlled(obj) {
					addToInventory(inv, k, obj)
				}
			}
		}
	}
	if !full {
		byKind := map[string]*watchedKind{}
		for _, k := range w.kinds {
			byKind[k.kind] = k
		}
		for key := range dirty {
			kind, ns, name := splitKey(key)
			k := byKind[kind]
			if k == nil {
				continue
			}
			storeKey := name
			if ns != "" {
				storeKey = ns + "/" + name
			}
			obj, exists, err := k.informer.GetStore().GetByKey(storeKey)
			if err != nil {
				return nil, err
			}
			if !exists || controlled(obj) {
				ev.deleted = append(ev.deleted, finding.ObjectRef{APIVersion: k.apiVersion, Kind: kind, Namespace: ns, Name: name})
				continue
			}
			addToInventory(inv, k, obj)
		}
	}
	fs, err := evaluateInventory(ctx, inv, opts)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	for _, c := range checks {
		extra, err := c.Evaluate(ctx, inv)
		if err != nil {
			return nil, fmt.Errorf("checks %s: %w", c.Name(), err)
		}
		fs = append(fs, extra...)
	}
	exact := func(key string) bool { return full || dirty[key] }
	for _, o := range inv.Objects {
		key := objectKey(o.Ref.Kind, o.Ref.Namespace, o.Ref.Name)
		if exact(key) {
			ev.byObject[key] = fleetapi.ObjectFindings{Object: o.Ref, Findings: []finding.Finding{}}
		}
	}
	for _, f := range fs {
		key := objectKey(f.Object.Kind, f.Object.Namespace, f.Object.Name)
		of, ok := ev.byObject[key]
		if !ok {
			if !full {
				continue // a context object's finding: exact only in full runs
			}
			of = fleetapi.ObjectFindings{Object: f.Object, Findings: []finding.Finding{}}
		}
		of.Findings = append(of.Findings, f)
		ev.byObject[key] = of
	}
	ev.objects = len(inv.Objects)
	return ev, nil
}

func splitKey(key string) (kind, ns, name string) {
	var parts [3]string
	i := 0
	start := 0
	for j := 0; j < len(key) && i < 2; j++ {
		if key[j] == '/' {
			parts[i] = key[start:j]
			i++
			start = j + 1
		}
	}
	parts[2] = key[start:]
	return parts[0], parts[1], parts[2]
}

// findingsHash fingerprints an object's findings to detect changes.
func findingsHash(fs []finding.Finding) uint64 {
	cp := append([]finding.Finding(nil), fs...)
	finding.Sort(cp)
	b, _ := json.Marshal(cp)
	s := sha256.Sum256(b)
	return binary.BigEndian.Uint64(s[:8])
}

// pods lists the cached pods.
func (w *watcher) pods() []*corev1.Pod {
	l, _ := w.factory.Core().V1().Pods().Lister().List(labels.Everything())
	return l
}

func (w *watcher) nodes() []*corev1.Node {
	l, _ := w.factory.Core().V1().Nodes().Lister().List(labels.Everything())
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	return l
}

func (w *watcher) namespaceCount() int {
	return len(w.factory.Core().V1().Namespaces().Informer().GetStore().ListKeys())
}
