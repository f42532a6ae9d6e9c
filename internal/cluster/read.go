// Package cluster reads a live cluster through the Kubernetes API into the
// same inventory that manifests produce, so every rule runs unchanged on
// both. It only lists (paginated, never one GET per object), never reads
// Secrets, keeps of ConfigMaps only what rules read (ReduceConfigMap), and
// turns API failures into problems naming the resource, so a scan with
// partial access still reports what it could read.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// DefaultPageSize is how many objects one list request asks for.
const DefaultPageSize = 500

// ReadOptions select what to read.
type ReadOptions struct {
	// Namespace limits namespaced resources to one namespace; "" reads all.
	Namespace string
	// PageSize is the list chunk size; 0 means DefaultPageSize.
	PageSize int64
	// Progress, when set, is called after each page with the resource
	// being listed and the objects read so far.
	Progress func(resource string, objects int)
}

// Stats describe the API traffic of a read.
type Stats struct {
	// Requests counts list requests (pages), for the "no per-object GET" promise.
	Requests int64
	Objects  int
	Duration time.Duration
}

// Snapshot is what was read from the cluster.
type Snapshot struct {
	Inventory *workload.Inventory
	// Problems name resources that could not be listed (forbidden, not
	// served, timed out); the inventory is then partial.
	Problems []finding.Problem
	// Partial is true when some resource could not be listed.
	Partial bool
	// Owners name each object read under the controller the scan verified
	// (read, with the UID the object names), for workload.FoldOwned.
	Owners *workload.Owners
	Stats  Stats
}

// resource lists one kind into the inventory.
type resource struct {
	name       string // plural, for messages: "deployments.apps"
	kind       string
	namespaced bool
	// maxPage, when set, caps the page size: a page of ConfigMaps is
	// held whole until it is reduced, and each may be 1 MiB.
	maxPage int64
	list    func(ctx context.Context, c kubernetes.Interface, ns string, opts metav1.ListOptions, add func(any, metav1.TypeMeta)) (string, error)
}

// Read lists every resource Palisade evaluates. It fails outright only when
// the API server cannot be reached or rejects the credentials; anything
// else becomes a problem in the snapshot.
func Read(ctx context.Context, client kubernetes.Interface, opts ReadOptions) (*Snapshot, error) {
	start := time.Now()
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if err := probe(ctx, client); err != nil {
		return nil, err
	}
	snap := &Snapshot{Inventory: workload.NewInventory()}
	var requests atomic.Int64
	var typed []typedObject
	for _, r := range resources() {
		ns := ""
		if r.namespaced {
			ns = opts.Namespace
		}
		cont := ""
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			requests.Add(1)
			limit := opts.PageSize
			if r.maxPage > 0 && limit > r.maxPage {
				limit = r.maxPage
			}
			next, err := r.list(ctx, client, ns, metav1.ListOptions{Limit: limit, Continue: cont}, func(obj any, tm metav1.TypeMeta) {
				if cm, ok := obj.(*corev1.ConfigMap); ok {
					ReduceConfigMap(cm)
				}
				typed = append(typed, typedObject{obj: obj, typeMeta: tm})
			})
			if err != nil {
				if fatal := fatalError(err); fatal != nil {
					return nil, fatal
				}
				snap.Partial = true
				if snap.Inventory.Unlisted == nil {
					snap.Inventory.Unlisted = map[string]bool{}
				}
				snap.Inventory.Unlisted[r.kind] = true
				snap.Problems = append(snap.Problems, finding.Problem{Level: finding.LevelError,
					Message: fmt.Sprintf("cannot list %s: %s; results for it are missing", r.name, describe(err))})
				break
			}
			if opts.Progress != nil {
				opts.Progress(r.name, len(typed))
			}
			if next == "" {
				break
			}
			cont = next
		}
	}
	listed := listedOwners(typed)
	snap.Owners = workload.NewOwners()
	for _, t := range typed {
		if shadowedByOwner(t.obj, listed) {
			continue // its owner is scanned: the same template, reported once
		}
		r := ref(t.obj, t.typeMeta)
		snap.Inventory.Add(t.obj, r, nil)
		snap.Owners.Note(r, verifiedControllers(t.obj, listed))
	}
	snap.Stats = Stats{Requests: requests.Load(), Objects: len(snap.Inventory.Objects), Duration: time.Since(start)}
	return snap, nil
}

type typedObject struct {
	obj      any
	typeMeta metav1.TypeMeta
}

func ref(obj any, tm metav1.TypeMeta) finding.ObjectRef {
	m := obj.(metav1.Object)
	return finding.ObjectRef{APIVersion: tm.APIVersion, Kind: tm.Kind, Namespace: m.GetNamespace(), Name: m.GetName()}
}

// An object is skipped as a duplicate of its controller only when the
// scan itself read that controller and saw the same template in it: an
// owner reference is written by whoever creates the object, so a Pod that
// names a ReplicaSet (or a CronJob, or a UID that exists nowhere) as its
// controller must not hide from the scan by that claim alone, and a
// replica that no longer matches its template (an ephemeral debug
// container added by `kubectl debug`, an image set on the Pod) runs what
// the template does not say.

// listedOwners indexes, by UID, the objects read that create others from
// a pod template.
func listedOwners(typed []typedObject) map[types.UID]typedObject {
	out := map[types.UID]typedObject{}
	for _, t := range typed {
		if podTemplate(t.obj) == nil {
			continue
		}
		if m, ok := t.obj.(metav1.Object); ok && m.GetUID() != "" {
			out[m.GetUID()] = t
		}
	}
	return out
}

// createsFromTemplate reports whether a controller of kind owner creates
// objects of kind child from its pod template, as the built-in
// controllers do.
func createsFromTemplate(owner, child string) bool {
	switch child {
	case "Pod":
		return owner == "ReplicaSet" || owner == "StatefulSet" || owner == "DaemonSet" || owner == "Job" || owner == "ReplicationController"
	case "ReplicaSet":
		return owner == "Deployment"
	case "Job":
		return owner == "CronJob"
	}
	return false
}

// controllerRef returns the controller among an object's owner references.
func controllerRef(obj any) (metav1.OwnerReference, bool) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return metav1.OwnerReference{}, false
	}
	for _, o := range m.GetOwnerReferences() {
		if o.Controller != nil && *o.Controller {
			return o, true
		}
	}
	return metav1.OwnerReference{}, false
}

// verifiedOwner returns the controller the scan read of obj: the object
// with the reference's UID, of the reference's kind and name, in obj's
// namespace.
func verifiedOwner(obj any, listed map[types.UID]typedObject) (typedObject, bool) {
	c, ok := controllerRef(obj)
	if !ok {
		return typedObject{}, false
	}
	owner, ok := listed[c.UID]
	if !ok || owner.typeMeta.Kind != c.Kind {
		return typedObject{}, false
	}
	om, m := owner.obj.(metav1.Object), obj.(metav1.Object)
	if om.GetName() != c.Name || om.GetNamespace() != m.GetNamespace() {
		return typedObject{}, false
	}
	return owner, true
}

func shadowedByOwner(obj any, listed map[types.UID]typedObject) bool {
	own := podTemplate(obj)
	if own == nil {
		if p, ok := obj.(*corev1.Pod); ok {
			own = &p.Spec
		}
	}
	if own == nil {
		return false
	}
	owner, ok := verifiedOwner(obj, listed)
	if !ok || !createsFromTemplate(owner.typeMeta.Kind, kindOf(obj)) {
		return false
	}
	return sameRuntime(own, podTemplate(owner.obj))
}

// verifiedControllers returns the owner references under which obj may be
// reported (workload.Owners): its controller when the scan read it, or
// when it is of a kind the scan does not read (a custom controller's
// resource, which it cannot check); nothing for a claimed controller of a
// kind it reads that is not there (or could not be listed).
func verifiedControllers(obj any, listed map[types.UID]typedObject) []metav1.OwnerReference {
	c, ok := controllerRef(obj)
	if !ok {
		return nil
	}
	if _, ok := verifiedOwner(obj, listed); ok {
		if !createsFromTemplate(c.Kind, kindOf(obj)) {
			return nil // a real object, but not one that creates this kind: the claim is false
		}
		return []metav1.OwnerReference{c}
	}
	if podTemplateKind(c.Kind) {
		return nil
	}
	return []metav1.OwnerReference{c}
}

// podTemplateKind reports whether Read lists objects of kind and reads
// their pod template (podTemplate).
func podTemplateKind(kind string) bool {
	switch kind {
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController":
		return true
	}
	return false
}

func kindOf(obj any) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "Pod"
	case *appsv1.ReplicaSet:
		return "ReplicaSet"
	case *batchv1.Job:
		return "Job"
	}
	return ""
}

// podTemplate returns the pod template of a workload controller.
func podTemplate(obj any) *corev1.PodSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.Spec
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec
	case *corev1.ReplicationController:
		if o.Spec.Template != nil {
			return &o.Spec.Template.Spec
		}
	}
	return nil
}

// sameRuntime reports whether a replica runs what its owner's template
// says, in what the rules read of a pod: its containers (no ephemeral
// ones), their images and security contexts, the pod's security context,
// host namespaces and host paths. Admission adds a service account token
// volume and tolerations to every Pod; those are not compared.
func sameRuntime(own, tmpl *corev1.PodSpec) bool {
	if tmpl == nil || len(own.EphemeralContainers) > 0 || len(tmpl.EphemeralContainers) > 0 {
		return false
	}
	if own.HostNetwork != tmpl.HostNetwork || own.HostPID != tmpl.HostPID || own.HostIPC != tmpl.HostIPC ||
		!equality.Semantic.DeepEqual(own.HostUsers, tmpl.HostUsers) ||
		!equality.Semantic.DeepEqual(own.SecurityContext, tmpl.SecurityContext) ||
		!sameContainers(own.InitContainers, tmpl.InitContainers) || !sameContainers(own.Containers, tmpl.Containers) {
		return false
	}
	return equality.Semantic.DeepEqual(hostPaths(own.Volumes), hostPaths(tmpl.Volumes))
}

func sameContainers(a, b []corev1.Container) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Image != b[i].Image ||
			!equality.Semantic.DeepEqual(a[i].SecurityContext, b[i].SecurityContext) ||
			!equality.Semantic.DeepEqual(hostPorts(a[i].Ports), hostPorts(b[i].Ports)) {
			return false
		}
	}
	return true
}

func hostPaths(vs []corev1.Volume) []string {
	var out []string
	for _, v := range vs {
		if v.HostPath != nil {
			out = append(out, v.Name+"="+v.HostPath.Path)
		}
	}
	return out
}

func hostPorts(ps []corev1.ContainerPort) []int32 {
	var out []int32
	for _, p := range ps {
		if p.HostPort != 0 {
			out = append(out, p.HostPort)
		}
	}
	return out
}

// probe makes one cheap request so that an unreachable server or bad
// credentials fail fast with one clear message instead of one per resource.
func probe(ctx context.Context, client kubernetes.Interface) error {
	_, err := client.Discovery().ServerVersion()
	if err == nil {
		return nil
	}
	if fatal := fatalError(err); fatal != nil {
		return fatal
	}
	return fmt.Errorf("cannot reach the Kubernetes API: %s", describe(err))
}

// fatalError returns a clear error for failures that doom every request.
func fatalError(err error) error {
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server rejected the credentials (401 Unauthorized): they may have expired; refresh the kubeconfig or token")
	case isConnectionError(err):
		return fmt.Errorf("cannot reach the Kubernetes API: %s", describe(err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("scan interrupted: %w", err)
	}
	return nil
}

// isConnectionError reports transport failures (refused, DNS, TLS,
// client timeouts): client-go wraps them in *url.Error, while answers from
// the server are *StatusError.
func isConnectionError(err error) bool {
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe)
}

func describe(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden (the identity lacks list permission; see deploy/rbac/scanner.yaml)"
	case apierrors.IsNotFound(err):
		return "not served by this API server"
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return "timed out"
	}
	return err.Error()
}

// maxConfigMapPage bounds a page of ConfigMaps (at most 1 MiB each on the
// API server) held before ReduceConfigMap drops their content.
const maxConfigMapPage = 50

// resources lists what a scan reads. Secrets are never read; ConfigMaps are
// read for hardening/configmap-secret and reduced to their credential keys
// as each page arrives (ReduceConfigMap).
func resources() []resource {
	configMaps := res("configmaps", true, "v1", "ConfigMap", func(c kubernetes.Interface, ns string) lister[*corev1.ConfigMapList] {
		return c.CoreV1().ConfigMaps(ns)
	},
		func(l *corev1.ConfigMapList) (string, []corev1.ConfigMap) { return l.Continue, l.Items })
	configMaps.maxPage = maxConfigMapPage
	return []resource{
		configMaps,
		res("namespaces", false, "v1", "Namespace", func(c kubernetes.Interface, _ string) lister[*corev1.NamespaceList] { return c.CoreV1().Namespaces() },
			func(l *corev1.NamespaceList) (string, []corev1.Namespace) { return l.Continue, l.Items }),
		res("serviceaccounts", true, "v1", "ServiceAccount", func(c kubernetes.Interface, ns string) lister[*corev1.ServiceAccountList] {
			return c.CoreV1().ServiceAccounts(ns)
		},
			func(l *corev1.ServiceAccountList) (string, []corev1.ServiceAccount) { return l.Continue, l.Items }),
		res("services", true, "v1", "Service", func(c kubernetes.Interface, ns string) lister[*corev1.ServiceList] { return c.CoreV1().Services(ns) },
			func(l *corev1.ServiceList) (string, []corev1.Service) { return l.Continue, l.Items }),
		res("pods", true, "v1", "Pod", func(c kubernetes.Interface, ns string) lister[*corev1.PodList] { return c.CoreV1().Pods(ns) },
			func(l *corev1.PodList) (string, []corev1.Pod) { return l.Continue, l.Items }),
		res("replicationcontrollers", true, "v1", "ReplicationController", func(c kubernetes.Interface, ns string) lister[*corev1.ReplicationControllerList] {
			return c.CoreV1().ReplicationControllers(ns)
		},
			func(l *corev1.ReplicationControllerList) (string, []corev1.ReplicationController) {
				return l.Continue, l.Items
			}),
		res("deployments.apps", true, "apps/v1", "Deployment", func(c kubernetes.Interface, ns string) lister[*appsv1.DeploymentList] {
			return c.AppsV1().Deployments(ns)
		},
			func(l *appsv1.DeploymentList) (string, []appsv1.Deployment) { return l.Continue, l.Items }),
		res("statefulsets.apps", true, "apps/v1", "StatefulSet", func(c kubernetes.Interface, ns string) lister[*appsv1.StatefulSetList] {
			return c.AppsV1().StatefulSets(ns)
		},
			func(l *appsv1.StatefulSetList) (string, []appsv1.StatefulSet) { return l.Continue, l.Items }),
		res("daemonsets.apps", true, "apps/v1", "DaemonSet", func(c kubernetes.Interface, ns string) lister[*appsv1.DaemonSetList] {
			return c.AppsV1().DaemonSets(ns)
		},
			func(l *appsv1.DaemonSetList) (string, []appsv1.DaemonSet) { return l.Continue, l.Items }),
		res("replicasets.apps", true, "apps/v1", "ReplicaSet", func(c kubernetes.Interface, ns string) lister[*appsv1.ReplicaSetList] {
			return c.AppsV1().ReplicaSets(ns)
		},
			func(l *appsv1.ReplicaSetList) (string, []appsv1.ReplicaSet) { return l.Continue, l.Items }),
		res("jobs.batch", true, "batch/v1", "Job", func(c kubernetes.Interface, ns string) lister[*batchv1.JobList] { return c.BatchV1().Jobs(ns) },
			func(l *batchv1.JobList) (string, []batchv1.Job) { return l.Continue, l.Items }),
		res("cronjobs.batch", true, "batch/v1", "CronJob", func(c kubernetes.Interface, ns string) lister[*batchv1.CronJobList] { return c.BatchV1().CronJobs(ns) },
			func(l *batchv1.CronJobList) (string, []batchv1.CronJob) { return l.Continue, l.Items }),
		res("networkpolicies.networking.k8s.io", true, "networking.k8s.io/v1", "NetworkPolicy", func(c kubernetes.Interface, ns string) lister[*networkingv1.NetworkPolicyList] {
			return c.NetworkingV1().NetworkPolicies(ns)
		},
			func(l *networkingv1.NetworkPolicyList) (string, []networkingv1.NetworkPolicy) {
				return l.Continue, l.Items
			}),
		res("ingresses.networking.k8s.io", true, "networking.k8s.io/v1", "Ingress", func(c kubernetes.Interface, ns string) lister[*networkingv1.IngressList] {
			return c.NetworkingV1().Ingresses(ns)
		},
			func(l *networkingv1.IngressList) (string, []networkingv1.Ingress) { return l.Continue, l.Items }),
		res("limitranges", true, "v1", "LimitRange", func(c kubernetes.Interface, ns string) lister[*corev1.LimitRangeList] {
			return c.CoreV1().LimitRanges(ns)
		},
			func(l *corev1.LimitRangeList) (string, []corev1.LimitRange) { return l.Continue, l.Items }),
		res("resourcequotas", true, "v1", "ResourceQuota", func(c kubernetes.Interface, ns string) lister[*corev1.ResourceQuotaList] {
			return c.CoreV1().ResourceQuotas(ns)
		},
			func(l *corev1.ResourceQuotaList) (string, []corev1.ResourceQuota) { return l.Continue, l.Items }),
		res("poddisruptionbudgets.policy", true, "policy/v1", "PodDisruptionBudget", func(c kubernetes.Interface, ns string) lister[*policyv1.PodDisruptionBudgetList] {
			return c.PolicyV1().PodDisruptionBudgets(ns)
		},
			func(l *policyv1.PodDisruptionBudgetList) (string, []policyv1.PodDisruptionBudget) {
				return l.Continue, l.Items
			}),
		res("horizontalpodautoscalers.autoscaling", true, "autoscaling/v2", "HorizontalPodAutoscaler", func(c kubernetes.Interface, ns string) lister[*autoscalingv2.HorizontalPodAutoscalerList] {
			return c.AutoscalingV2().HorizontalPodAutoscalers(ns)
		},
			func(l *autoscalingv2.HorizontalPodAutoscalerList) (string, []autoscalingv2.HorizontalPodAutoscaler) {
				return l.Continue, l.Items
			}),
		res("roles.rbac.authorization.k8s.io", true, "rbac.authorization.k8s.io/v1", "Role", func(c kubernetes.Interface, ns string) lister[*rbacv1.RoleList] { return c.RbacV1().Roles(ns) },
			func(l *rbacv1.RoleList) (string, []rbacv1.Role) { return l.Continue, l.Items }),
		res("rolebindings.rbac.authorization.k8s.io", true, "rbac.authorization.k8s.io/v1", "RoleBinding", func(c kubernetes.Interface, ns string) lister[*rbacv1.RoleBindingList] {
			return c.RbacV1().RoleBindings(ns)
		},
			func(l *rbacv1.RoleBindingList) (string, []rbacv1.RoleBinding) { return l.Continue, l.Items }),
		res("clusterroles.rbac.authorization.k8s.io", false, "rbac.authorization.k8s.io/v1", "ClusterRole", func(c kubernetes.Interface, _ string) lister[*rbacv1.ClusterRoleList] {
			return c.RbacV1().ClusterRoles()
		},
			func(l *rbacv1.ClusterRoleList) (string, []rbacv1.ClusterRole) { return l.Continue, l.Items }),
		res("clusterrolebindings.rbac.authorization.k8s.io", false, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", func(c kubernetes.Interface, _ string) lister[*rbacv1.ClusterRoleBindingList] {
			return c.RbacV1().ClusterRoleBindings()
		},
			func(l *rbacv1.ClusterRoleBindingList) (string, []rbacv1.ClusterRoleBinding) {
				return l.Continue, l.Items
			}),
	}
}

// lister is what every typed client's List has in common.
type lister[L any] interface {
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
}

// res describes one resource: how to list a page of it, and how to get the
// continue token and items out of the page. Items are handed to add with
// their TypeMeta set, which list items arrive without.
func res[L any, T any](name string, namespaced bool, apiVersion, kind string, client func(kubernetes.Interface, string) lister[L], items func(L) (string, []T)) resource {
	tm := metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
	gvk := schema.FromAPIVersionAndKind(apiVersion, kind)
	return resource{name: name, kind: kind, namespaced: namespaced, list: func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions, add func(any, metav1.TypeMeta)) (string, error) {
		l, err := client(c, ns).List(ctx, o)
		if err != nil {
			return "", err
		}
		cont, xs := items(l)
		for i := range xs {
			obj := any(&xs[i])
			if ro, ok := obj.(runtime.Object); ok {
				ro.GetObjectKind().SetGroupVersionKind(gvk)
			}
			add(obj, tm)
		}
		return cont, nil
	}}
}
