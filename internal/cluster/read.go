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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	Stats   Stats
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
	for _, t := range typed {
		if controlledByScannedKind(t.obj) {
			continue // its owner is scanned: the same template, reported once
		}
		snap.Inventory.Add(t.obj, ref(t.obj, t.typeMeta), nil)
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

// scannedOwnerKinds are the owners whose pod templates are scanned
// themselves; objects they control are skipped to avoid duplicates.
var scannedOwnerKinds = map[string]bool{
	"Deployment": true, "ReplicaSet": true, "StatefulSet": true, "DaemonSet": true,
	"Job": true, "CronJob": true, "ReplicationController": true,
}

func controlledByScannedKind(obj any) bool {
	m, ok := obj.(metav1.Object)
	if !ok {
		return false
	}
	switch obj.(type) {
	case *corev1.Pod, *appsv1.ReplicaSet, *batchv1.Job:
	default:
		return false
	}
	for _, o := range m.GetOwnerReferences() {
		if o.Controller != nil && *o.Controller && scannedOwnerKinds[o.Kind] {
			return true
		}
	}
	return false
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
