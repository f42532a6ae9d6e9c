package runtimenode

// Policy intent on the node sensor (PAL-RT-011): each established
// connection is judged against the cluster's network policies where it is
// seen. The sensor, not the cluster agent, evaluates: the agent already
// has the objects, but every connection would then have to reach it as
// an Event (an API write per connection), while the sensor needs only
// four more watches, stripped to what the model reads (bench figures in
// docs/runtime.md), and two more where the API server serves the admin
// tiers. With intent on, the sensor's pod informer is cluster-wide (pod
// addresses name destinations) and its own node's pods feed the pod index
// as before; the other nodes' pods name the peers of the workloads'
// observations.
//
// AdminNetworkPolicies and the BaselineAdminNetworkPolicy (v1alpha1) and
// ClusterNetworkPolicies (v1alpha2) are custom resources (the
// network-policy-api project's CRDs): the sensor asks the API server's
// discovery whether it serves them, at start and every
// AdminDiscoverEvery, and watches each kind served in the version the
// model reads (netpol.ModelledResources) with a dynamic informer. Every
// answer is in the sensor state: served and modelled (IntentPolicies),
// not served (IntentPolicies says "NetworkPolicies only"), served in a
// form the model does not read, or not listable (IntentReason: nothing
// is judged, a coverage gap).
//
// Node objects, stripped to name, labels and status.addresses, let the
// model judge ClusterNetworkPolicies' nodes peers and connections to
// other nodes' addresses. Their informer is apart from the others: until
// it has listed (the API server refuses it to a role from before the
// nodes rule, or has not answered yet), snapshots are built without Node
// objects (and it lists only after the first snapshot, so its list and
// the pods' are not decoded at once), so connections a nodes peer could
// change stay undecided,
// never allowed or denied, and IntentPolicies says why; everything else
// is judged as before. A refused list is logged once.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/netpol"
	"github.com/palisade-sec/palisade/internal/runtime/policyintent"
)

// intentEvery is how often a changed cluster is rebuilt into a snapshot.
const intentEvery = 2 * time.Second

// adminDiscoverEvery is how often the API server's discovery is asked
// again whether it serves the admin tiers (a CRD installed or removed
// while the sensor runs): one small request per node.
const adminDiscoverEvery = 5 * time.Minute

// intentWatch keeps the judge's snapshot in step with the informers.
type intentWatch struct {
	judge                    *policyintent.Judge
	node                     string
	dirty                    atomic.Bool
	pods, ns, policies, svcs cache.SharedIndexInformer
	log                      *slog.Logger
	every, discoverEvery     time.Duration
	built                    atomic.Uint64
	// listErr is the last list/watch error of an informer (forbidden by
	// RBAC, the API server unreachable): the reason shown while an
	// informer has not synced and nothing is judged.
	listErr atomic.Pointer[string]

	// discover lists the resources of a group version (the API server's
	// discovery); dyn watches the admin tiers (nil: it cannot).
	discover func(ctx context.Context, gv string) (*metav1.APIResourceList, error)
	dyn      dynamic.Interface
	// admin are the admin tiers' informers, by resource, while served.
	mu    sync.Mutex
	admin map[string]*adminInformer
	// tiers says which tiers the snapshot holds (the state's
	// IntentPolicies).
	tiers atomic.Pointer[string]

	// nodes watches the Node objects (nil: not watched); nodesErr is its
	// last list/watch error, nodesWarned whether it was logged;
	// nodesIn whether the last snapshot was built with them.
	nodes       cache.SharedIndexInformer
	nodesErr    atomic.Pointer[string]
	nodesWarned atomic.Bool
	nodesIn     atomic.Bool
}

// adminInformer watches one admin tier's kind until stop.
type adminInformer struct {
	inf  cache.SharedIndexInformer
	stop context.CancelFunc
}

// reason completes the judge's reason with why the informers have not
// synced, if they have not.
func (w *intentWatch) reason(r string) string {
	if e := w.listErr.Load(); e != nil && !w.synced() && r != "" {
		return r + ": " + *e
	}
	return r
}

// startIntent sets up the cluster-wide informers on f: pods (own node's
// into the pod index as well), namespaces, NetworkPolicies and Services,
// each stripped to what the model reads; the admin tiers' informers are
// started by run, after discovery.
func (n *Node) startIntent(ctx context.Context, f informers.SharedInformerFactory) (*intentWatch, error) {
	w := &intentWatch{judge: &policyintent.Judge{}, node: n.cfg.Node, log: n.log, every: intentEvery, discoverEvery: adminDiscoverEvery,
		dyn: n.cfg.Dynamic, admin: map[string]*adminInformer{}, discover: n.cfg.Client.Discovery().ServerResourcesForGroupVersionWithContext}
	if n.cfg.IntentEvery > 0 {
		w.every = n.cfg.IntentEvery
	}
	if n.cfg.AdminDiscoverEvery > 0 {
		w.discoverEvery = n.cfg.AdminDiscoverEvery
	}
	// The first snapshot is built once the informers have synced, even
	// if they listed nothing.
	w.dirty.Store(true)
	// The pods, the largest list, are listed page by page where the
	// server does not stream (lists.go); the factory starts the
	// informer with the others.
	pods, err := newPodInformer(n.cfg.Client, listPage, stripPodForIntent(n.cfg.Node), nil)
	if err != nil {
		return nil, err
	}
	w.pods = f.InformerFor(&corev1.Pod{}, func(kubernetes.Interface, time.Duration) cache.SharedIndexInformer { return pods })
	w.ns = f.Core().V1().Namespaces().Informer()
	w.policies = f.Networking().V1().NetworkPolicies().Informer()
	w.svcs = f.Core().V1().Services().Informer()
	for _, t := range []struct {
		inf cache.SharedIndexInformer
		fn  cache.TransformFunc
	}{{w.pods, nil}, {w.ns, stripNamespace}, {w.policies, stripPolicy}, {w.svcs, stripService}} {
		if err := w.watch(t.inf, t.fn); err != nil {
			return nil, err
		}
	}
	nodes, err := newNodeInformer(n.cfg.Client, listPage)
	if err != nil {
		return nil, err
	}
	if err := w.watchNodes(nodes); err != nil {
		return nil, err
	}
	own := n.pods.handler()
	onNode := func(obj any) bool {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		p, ok := obj.(*corev1.Pod)
		return ok && p.Spec.NodeName == n.cfg.Node
	}
	reg, err := w.pods.AddEventHandler(cache.FilteringResourceEventHandler{FilterFunc: onNode, Handler: own})
	if err != nil {
		return nil, err
	}
	// The other nodes' pods name the peers of this node's workloads.
	offNode := func(obj any) bool { return !onNode(obj) }
	remote, err := w.pods.AddEventHandler(cache.FilteringResourceEventHandler{FilterFunc: offNode, Handler: n.pods.remoteHandler()})
	if err != nil {
		return nil, err
	}
	n.podsSynced = append(n.podsSynced, reg.HasSynced, remote.HasSynced)
	return w, nil
}

// watch sets an informer's transform (fn, unless nil), its list error handler and the
// handler that marks the snapshot stale.
func (w *intentWatch) watch(inf cache.SharedIndexInformer, fn cache.TransformFunc) error {
	if fn != nil { // nil: set when the informer was made
		if err := inf.SetTransform(fn); err != nil {
			return err
		}
	}
	if err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		msg := err.Error()
		w.listErr.Store(&msg)
		cache.DefaultWatchErrorHandler(ctx, r, err)
	}); err != nil {
		return err
	}
	_, err := inf.AddEventHandler(w.changed())
	return err
}

// watchNodes sets up the Node informer (newNodeInformer): its list
// errors kept (and the first logged) without holding up the others.
func (w *intentWatch) watchNodes(inf cache.SharedIndexInformer) error {
	if err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		msg := err.Error()
		w.nodesErr.Store(&msg)
		if !w.nodesWarned.Swap(true) {
			// Before the first list nothing is judged by Node; after it the
			// informer keeps the last Nodes it saw (as the other informers
			// keep theirs) while the reflector retries.
			if w.nodes != nil && w.nodes.HasSynced() {
				w.log.Warn("policy intent: watching Node objects failed: judging on with the Nodes last listed while it retries", slog.String("error", msg))
			} else {
				w.log.Warn("policy intent: Node objects not listed: connections a nodes peer could change stay undecided", slog.String("error", msg))
			}
		}
		cache.DefaultWatchErrorHandler(ctx, r, err)
	}); err != nil {
		return err
	}
	// A Node's status is written every few minutes (1,000 nodes: a few
	// updates a second): only a change of what is kept rebuilds.
	// Any event means the list or watch works again: a past error no
	// longer describes the Nodes held (a relist after a failed watch
	// delivers every Node as an update).
	mark := func() { w.nodesErr.Store(nil); w.dirty.Store(true) }
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(any) { mark() }, DeleteFunc: func(any) { mark() },
		UpdateFunc: func(old, cur any) {
			w.nodesErr.Store(nil)
			o, ok1 := old.(*corev1.Node)
			c, ok2 := cur.(*corev1.Node)
			if !ok1 || !ok2 || !maps.Equal(o.Labels, c.Labels) || !slices.Equal(o.Status.Addresses, c.Status.Addresses) {
				mark()
			}
		}}); err != nil {
		return err
	}
	w.nodes = inf
	return nil
}

// nodesNote says whether the judged snapshot has the Node objects.
func (w *intentWatch) nodesNote(s *policyintent.Snapshot) string {
	switch {
	case s.NodesKnown:
		if e := w.nodesErr.Load(); e != nil {
			return fmt.Sprintf("; %d Nodes as last listed (watching them failed since: %s)", s.Nodes, *e)
		}
		return fmt.Sprintf("; %d Nodes", s.Nodes)
	case w.nodes != nil && w.nodes.HasSynced():
		return "; no Nodes listed: connections a nodes peer could change are undecided"
	}
	why := "not listed yet"
	if e := w.nodesErr.Load(); e != nil {
		why = *e
	}
	return "; Node addresses unknown (" + why + "): connections a nodes peer could change are undecided"
}

// syncAdmin asks discovery and starts or stops the admin tiers' informers
// to match. A kind newly served leaves nothing judged until its informer
// has synced: the snapshot without it could be wrong either way.
func (w *intentWatch) syncAdmin(ctx context.Context) {
	served, off := netpol.ServedPolicies(ctx, w.discover)
	w.judge.Disable(off)
	if off != "" {
		return
	}
	var names []string
	for _, r := range served {
		names = append(names, r.Resource+" ("+r.GroupVersion().String()+")")
	}
	sort.Strings(names)
	if len(served) > 0 && w.dyn == nil {
		w.judge.Disable("the API server serves " + strings.Join(names, " and ") + ", which the sensor has no client to watch")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := false
	want := map[string]bool{}
	for _, r := range served {
		res := r.Resource
		want[res] = true
		if w.admin[res] != nil {
			continue
		}
		gvr := r.GroupVersionResource
		inf := dynamicinformer.NewFilteredDynamicInformer(w.dyn, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
		if err := w.watch(inf, stripAdmin(r)); err != nil {
			w.judge.Disable(fmt.Sprintf("%s: %v", res, err))
			return
		}
		ictx, stop := context.WithCancel(ctx)
		go inf.RunWithContext(ictx)
		w.admin[res] = &adminInformer{inf: inf, stop: stop}
		changed = true
		w.log.Info("policy intent watches an admin tier", slog.String("resource", gvr.String()))
	}
	for res, a := range w.admin {
		if !want[res] {
			a.stop()
			delete(w.admin, res)
			changed = true
			w.log.Info("policy intent: admin tier no longer served", slog.String("resource", res))
		}
	}
	if changed {
		w.judge.Set(nil)
		w.dirty.Store(true)
	}
	note := "NetworkPolicies only: the API server serves no AdminNetworkPolicies, BaselineAdminNetworkPolicies or ClusterNetworkPolicies"
	if len(served) > 0 {
		note = "NetworkPolicies and " + strings.Join(names, ", ")
	}
	w.tiers.Store(&note)
}

// synced reports whether every informer has listed.
func (w *intentWatch) synced() bool {
	if !w.pods.HasSynced() || !w.ns.HasSynced() || !w.policies.HasSynced() || !w.svcs.HasSynced() {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.admin {
		if !a.inf.HasSynced() {
			return false
		}
	}
	return true
}

// policiesNote is the state's IntentPolicies: which tiers the judged
// snapshot holds.
func (w *intentWatch) policiesNote() string {
	s := w.judge.Snapshot()
	t := w.tiers.Load()
	if s == nil || t == nil {
		return ""
	}
	note := fmt.Sprintf("%s; %d NetworkPolicies", *t, s.Policies)
	w.mu.Lock()
	watching := len(w.admin) > 0
	w.mu.Unlock()
	if watching {
		base := "no BaselineAdminNetworkPolicy"
		if s.Baseline {
			base = "a BaselineAdminNetworkPolicy"
		}
		note += fmt.Sprintf(", %d AdminNetworkPolicies, %s, %d ClusterNetworkPolicies", s.AdminPolicies, base, s.ClusterPolicies)
	}
	return note + w.nodesNote(s)
}

func (w *intentWatch) changed() cache.ResourceEventHandler {
	mark := func() { w.dirty.Store(true) }
	return cache.ResourceEventHandlerFuncs{AddFunc: func(any) { mark() }, UpdateFunc: func(any, any) { mark() }, DeleteFunc: func(any) { mark() }}
}

// run asks discovery for the admin tiers every discoverEvery and rebuilds
// the snapshot when the informers have changed, at most once per every,
// after they have synced.
func (w *intentWatch) run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	defer func() {
		w.mu.Lock()
		for _, a := range w.admin {
			a.stop()
		}
		w.mu.Unlock()
	}()
	nodesStarted := false
	var discovered time.Time
	for {
		// The Nodes are listed after the first snapshot: their list (the
		// whole objects, decoded before the transform strips them) and
		// the pods' would otherwise be in memory at once, at start-up.
		if w.nodes != nil && !nodesStarted && w.built.Load() > 0 {
			go w.nodes.RunWithContext(ctx)
			nodesStarted = true
		}
		if discovered.IsZero() || time.Since(discovered) >= w.discoverEvery {
			w.syncAdmin(ctx)
			discovered = time.Now()
		}
		if w.nodes != nil && w.nodes.HasSynced() != w.nodesIn.Load() {
			w.dirty.Store(true) // listed (even none): judge with them
		}
		if w.synced() && w.dirty.Swap(false) {
			w.judge.Set(w.snapshot())
			w.built.Add(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *intentWatch) snapshot() *policyintent.Snapshot {
	pods := listOf[*corev1.Pod](w.pods)
	ns := listOf[*corev1.Namespace](w.ns)
	pols := listOf[*networkingv1.NetworkPolicy](w.policies)
	svcs := listOf[*corev1.Service](w.svcs)
	var admin []*unstructured.Unstructured
	w.mu.Lock()
	for _, a := range w.admin {
		admin = append(admin, listOf[*unstructured.Unstructured](a.inf)...)
	}
	w.mu.Unlock()
	// Node objects only once listed: a partial list could leave out the
	// node a nodes peer selects.
	var nodes []*corev1.Node
	w.nodesIn.Store(w.nodes != nil && w.nodes.HasSynced())
	if w.nodesIn.Load() {
		nodes = listOf[*corev1.Node](w.nodes)
	}
	return policyintent.BuildWithNodes(pods, ns, pols, svcs, admin, nodes)
}

func listOf[T any](inf cache.SharedIndexInformer) []T {
	items := inf.GetStore().List()
	out := make([]T, 0, len(items))
	for _, o := range items {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// stripPodForIntent keeps the whole runtime view of the node's own pods
// (stripPodForRuntime) and, of every other pod, only what the policy
// model reads: name, namespace, labels, controller, host network, the
// containers' ports, phase and addresses.
func stripPodForIntent(node string) cache.TransformFunc {
	return func(obj any) (any, error) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return obj, nil
		}
		status := corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs, HostIP: p.Status.HostIP}
		if p.Spec.NodeName == node {
			out, err := stripPodForRuntime(p)
			if q, ok := out.(*corev1.Pod); ok {
				q.Status.Phase, q.Status.PodIP, q.Status.PodIPs, q.Status.HostIP = status.Phase, status.PodIP, status.PodIPs, status.HostIP
			}
			return out, err
		}
		ports := func(in []corev1.Container) []corev1.Container {
			out := make([]corev1.Container, 0, len(in))
			for _, c := range in {
				if len(c.Ports) > 0 {
					out = append(out, corev1.Container{Name: c.Name, Ports: c.Ports, RestartPolicy: c.RestartPolicy})
				}
			}
			return out
		}
		return &corev1.Pod{
			TypeMeta: p.TypeMeta,
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
				Labels: p.Labels, OwnerReferences: p.OwnerReferences},
			Spec:   corev1.PodSpec{NodeName: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork, Containers: ports(p.Spec.Containers), InitContainers: ports(p.Spec.InitContainers)},
			Status: status,
		}, nil
	}
}

// StripNode is the Node informer's transform: it keeps of a Node what
// nodes peers read, its name, labels and status.addresses. The rest (images, conditions, capacity, managed
// fields, annotations: most of a Node's size) is never cached.
func StripNode(obj any) (any, error) {
	nd, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{TypeMeta: nd.TypeMeta, ObjectMeta: metav1.ObjectMeta{Name: nd.Name, UID: nd.UID, ResourceVersion: nd.ResourceVersion, Labels: nd.Labels},
		Status: corev1.NodeStatus{Addresses: nd.Status.Addresses}}, nil
}

func stripNamespace(obj any) (any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	return &corev1.Namespace{TypeMeta: ns.TypeMeta, ObjectMeta: metav1.ObjectMeta{Name: ns.Name, UID: ns.UID, ResourceVersion: ns.ResourceVersion, Labels: ns.Labels}}, nil
}

func stripPolicy(obj any) (any, error) {
	np, ok := obj.(*networkingv1.NetworkPolicy)
	if !ok {
		return obj, nil
	}
	np.ManagedFields, np.Annotations = nil, nil
	return np, nil
}

func stripService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	return &corev1.Service{TypeMeta: s.TypeMeta, ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, UID: s.UID, ResourceVersion: s.ResourceVersion},
		Spec: corev1.ServiceSpec{Selector: s.Spec.Selector, ClusterIP: s.Spec.ClusterIP, ClusterIPs: s.Spec.ClusterIPs, Ports: s.Spec.Ports}}, nil
}

// stripAdmin keeps of an admin policy what the model reads: its kind,
// name and spec (no managed fields, annotations or status). The kind and
// version are set from the resource where a list left them out.
func stripAdmin(r netpol.ModelledResource) cache.TransformFunc {
	return func(obj any) (any, error) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return obj, nil
		}
		out := &unstructured.Unstructured{Object: map[string]any{"apiVersion": r.GroupVersion().String(), "kind": r.Kind, "spec": u.Object["spec"]}}
		if u.GetKind() != "" {
			out.SetKind(u.GetKind())
		}
		if u.GetAPIVersion() != "" {
			out.SetAPIVersion(u.GetAPIVersion())
		}
		out.SetName(u.GetName())
		out.SetUID(u.GetUID())
		out.SetResourceVersion(u.GetResourceVersion())
		return out, nil
	}
}
