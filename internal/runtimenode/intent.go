package runtimenode

// Policy intent on the node sensor (PAL-RT-011): each established
// connection is judged against the cluster's NetworkPolicies where it is
// seen. The sensor, not the cluster agent, evaluates: the agent already
// has the objects, but every connection would then have to reach it as
// an Event (an API write per connection), while the sensor needs only
// four more watches, stripped to what the model reads (bench figures in
// docs/runtime.md). With intent on, the sensor's pod informer is
// cluster-wide (pod addresses name destinations) and its own node's pods
// feed the pod index as before; the other nodes' pods name the peers of
// the workloads' observations.

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/palisade-sec/palisade/internal/runtime/policyintent"
)

// intentEvery is how often a changed cluster is rebuilt into a snapshot.
const intentEvery = 2 * time.Second

// adminPolicyGroups serve policy kinds that change connectivity but that
// the sensor does not watch: with them served, judging is off (the model
// without them would be wrong both ways).
var adminPolicyGroups = []string{"policy.networking.k8s.io/v1alpha1", "policy.networking.k8s.io/v1alpha2", "policy.networking.k8s.io/v1"}

// intentWatch keeps the judge's snapshot in step with the informers.
type intentWatch struct {
	judge                    *policyintent.Judge
	node                     string
	dirty                    atomic.Bool
	pods, ns, policies, svcs cache.SharedIndexInformer
	log                      *slog.Logger
	every                    time.Duration
	built                    atomic.Uint64
	// listErr is the last list/watch error of an informer not synced yet
	// (forbidden by RBAC, the API server unreachable): the reason shown
	// while nothing is judged.
	listErr atomic.Pointer[string]
}

// reason completes the judge's reason with why the informers have not
// synced, if they have not.
func (w *intentWatch) reason(r string) string {
	if e := w.listErr.Load(); e != nil && w.built.Load() == 0 && r != "" {
		return r + ": " + *e
	}
	return r
}

// startIntent sets up the cluster-wide informers on f: pods (own node's
// into the pod index as well), namespaces, NetworkPolicies and Services,
// each stripped to what the model reads.
func (n *Node) startIntent(ctx context.Context, f informers.SharedInformerFactory) (*intentWatch, error) {
	w := &intentWatch{judge: &policyintent.Judge{}, node: n.cfg.Node, log: n.log, every: intentEvery}
	if n.cfg.IntentEvery > 0 {
		w.every = n.cfg.IntentEvery
	}
	if reason := n.adminPoliciesServed(ctx); reason != "" {
		w.judge.Disable(reason)
	}
	w.pods = f.Core().V1().Pods().Informer()
	w.ns = f.Core().V1().Namespaces().Informer()
	w.policies = f.Networking().V1().NetworkPolicies().Informer()
	w.svcs = f.Core().V1().Services().Informer()
	for _, t := range []struct {
		inf cache.SharedIndexInformer
		fn  cache.TransformFunc
	}{{w.pods, stripPodForIntent(n.cfg.Node)}, {w.ns, stripNamespace}, {w.policies, stripPolicy}, {w.svcs, stripService}} {
		if err := t.inf.SetTransform(t.fn); err != nil {
			return nil, err
		}
		if err := t.inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
			msg := err.Error()
			w.listErr.Store(&msg)
			cache.DefaultWatchErrorHandler(ctx, r, err)
		}); err != nil {
			return nil, err
		}
		if _, err := t.inf.AddEventHandler(w.changed()); err != nil {
			return nil, err
		}
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

// adminPoliciesServed says why judging must be off when the API server
// serves AdminNetworkPolicies, "" when it does not.
func (n *Node) adminPoliciesServed(ctx context.Context) string {
	_ = ctx // discovery takes no context
	for _, gv := range adminPolicyGroups {
		res, err := n.cfg.Client.Discovery().ServerResourcesForGroupVersion(gv)
		if err != nil || res == nil {
			continue
		}
		for _, r := range res.APIResources {
			if r.Name == "adminnetworkpolicies" || r.Name == "baselineadminnetworkpolicies" || r.Name == "clusternetworkpolicies" {
				return "the API server serves " + gv + " " + r.Name + ", which the sensor does not model"
			}
		}
	}
	return ""
}

func (w *intentWatch) changed() cache.ResourceEventHandler {
	mark := func() { w.dirty.Store(true) }
	return cache.ResourceEventHandlerFuncs{AddFunc: func(any) { mark() }, UpdateFunc: func(any, any) { mark() }, DeleteFunc: func(any) { mark() }}
}

// run rebuilds the snapshot when the informers have changed, at most once
// per every, after they have synced.
func (w *intentWatch) run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		if w.pods.HasSynced() && w.ns.HasSynced() && w.policies.HasSynced() && w.svcs.HasSynced() && w.dirty.Swap(false) {
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
	return policyintent.Build(pods, ns, pols, svcs)
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
