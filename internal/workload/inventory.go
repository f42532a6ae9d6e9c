package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/palisade-sec/palisade/internal/celvalue"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
)

// Inventory holds every object a scan evaluates and the context rules need
// about them. It is built once and then only read, so rules may run on it
// concurrently.
type Inventory struct {
	Workloads       []*Workload
	Namespaces      map[string]*Namespace
	ServiceAccounts map[string]*ServiceAccount // key: namespace/name
	Services        []*Service
	NetworkPolicies []*NetworkPolicy
	RBAC            RBAC
	// PodDisruptionBudgets and HorizontalPodAutoscalers are the objects
	// that decide how a workload's replicas are kept and scaled; the
	// reliability rules judge each workload against them.
	PodDisruptionBudgets     []*policyv1.PodDisruptionBudget
	HorizontalPodAutoscalers []*autoscalingv2.HorizontalPodAutoscaler
	// Objects is every object read, typed or not, for custom (CEL) rules.
	Objects []*Object
	// Templates, when not nil, stands for Workloads in rules that relate
	// other objects to the pods that exist (a Service selecting none): a
	// scan that evaluates workloads in batches keeps only this summary of
	// them, and sets it before running the inventory-wide rules. Use
	// PodTemplates.
	Templates []PodTemplate
	// Unlisted names the kinds ("Role", "ClusterRole") a live read could
	// not list (forbidden, not served): rules that judge an object by the
	// absence of another must not count on those kinds. Nil for manifests.
	Unlisted map[string]bool
}

// PodTemplate is what relations between objects need of a workload: its
// namespace, owner and pod labels.
type PodTemplate struct {
	Ref    finding.ObjectRef
	Labels map[string]string
}

// TemplateOf summarises a workload.
func TemplateOf(w *Workload) PodTemplate {
	return PodTemplate{Ref: w.Ref, Labels: w.PodMeta.Labels}
}

// PodTemplates returns every workload's pod template: Templates when a
// batched scan set it, else the inventory's own workloads.
func (inv *Inventory) PodTemplates() []PodTemplate {
	if inv.Templates != nil {
		return inv.Templates
	}
	out := make([]PodTemplate, len(inv.Workloads))
	for i, w := range inv.Workloads {
		out[i] = TemplateOf(w)
	}
	return out
}

// Object is any object with its decoded JSON form and source.
type Object struct {
	Ref         finding.ObjectRef
	Source      *manifest.Object
	content     map[string]any
	contentErr  error
	contentOnce sync.Once
	// Typed is the decoded typed object when the kind is known, else nil.
	Typed any
	// Workload is set when the object is a workload.
	Workload *Workload
}

// Namespace is a namespace and where it was declared.
type Namespace struct {
	*corev1.Namespace
	Source *manifest.Object
	object *Object
}

// ServiceAccount is a service account and where it was declared.
type ServiceAccount struct {
	*corev1.ServiceAccount
	Source *manifest.Object
}

// Service is a service and where it was declared.
type Service struct {
	*corev1.Service
	Source *manifest.Object
}

// NetworkPolicy is a network policy and where it was declared.
type NetworkPolicy struct {
	*networkingv1.NetworkPolicy
	Source *manifest.Object

	selectorOnce sync.Once
	selector     labels.Selector
	selectorErr  error
}

// PodSelector returns spec.podSelector as a label selector, converted on
// first use and then shared: rules match every workload of the namespace
// against every policy, and converting the selector each time was most
// of that cost. The policy must not change after the first call.
func (np *NetworkPolicy) PodSelector() (labels.Selector, error) {
	np.selectorOnce.Do(func() {
		np.selector, np.selectorErr = metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	})
	return np.selector, np.selectorErr
}

// RBAC holds the RBAC objects of the input.
type RBAC struct {
	Roles               []*rbacv1.Role
	ClusterRoles        []*rbacv1.ClusterRole
	RoleBindings        []*rbacv1.RoleBinding
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
}

// NewInventory returns an empty inventory.
func NewInventory() *Inventory {
	return &Inventory{
		Namespaces:      map[string]*Namespace{},
		ServiceAccounts: map[string]*ServiceAccount{},
	}
}

// FromManifests decodes the objects of a manifest set. Objects without a
// namespace are placed in defaultNamespace, as kubectl would. Objects that
// do not decode (wrong field types) are reported as errors naming the file
// and line of the field at fault.
func FromManifests(set *manifest.Set, defaultNamespace string) (*Inventory, []finding.Problem) {
	if defaultNamespace == "" {
		defaultNamespace = metav1.NamespaceDefault
	}
	typed, errs := decodeAll(set.Objects)
	inv := NewInventory()
	var probs []finding.Problem
	for i, src := range set.Objects {
		if err := errs[i]; err != nil {
			line, msg := describeDecodeError(src, err)
			probs = append(probs, finding.Problem{File: src.File, Line: line, Level: finding.LevelError,
				Message: fmt.Sprintf("%s %q: %s", src.Kind, src.Name, msg)})
			continue
		}
		ref := finding.ObjectRef{APIVersion: src.APIVersion, Kind: src.Kind, Namespace: src.Namespace, Name: src.Name}
		if ref.Namespace == "" && IsNamespaced(apiGroup(src), src.Kind) {
			ref.Namespace = defaultNamespace
		}
		inv.Add(typed[i], ref, src)
	}
	return inv, probs
}

// decodeAll decodes the objects into typed API objects on every core:
// reflection-based decoding is the largest serial cost of a scan. Once an
// object is typed its JSON is released (Object.Content re-encodes the typed
// object when a custom rule asks), which keeps large scans' memory down.
func decodeAll(objs []*manifest.Object) ([]any, []error) {
	typed := make([]any, len(objs))
	errs := make([]error, len(objs))
	workers := runtime.GOMAXPROCS(0)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cache directCache
			for {
				i := int(next.Add(1)) - 1
				if i >= len(objs) {
					return
				}
				typed[i], errs[i] = decodeTyped(objs[i], &cache)
				if typed[i] != nil && errs[i] == nil {
					objs[i].JSON = nil
				}
			}
		}()
	}
	wg.Wait()
	return typed, errs
}

// Add places a typed (or nil, for unknown kinds) object in the inventory.
func (inv *Inventory) Add(typed any, ref finding.ObjectRef, src *manifest.Object) {
	obj := &Object{Ref: ref, Source: src, Typed: typed}
	switch o := typed.(type) {
	case *corev1.Namespace:
		inv.Namespaces[o.Name] = &Namespace{Namespace: o, Source: src, object: obj}
	case *corev1.ServiceAccount:
		o.Namespace = ref.Namespace
		inv.ServiceAccounts[ref.Namespace+"/"+o.Name] = &ServiceAccount{ServiceAccount: o, Source: src}
	case *corev1.Service:
		o.Namespace = ref.Namespace
		inv.Services = append(inv.Services, &Service{Service: o, Source: src})
	case *networkingv1.NetworkPolicy:
		o.Namespace = ref.Namespace
		inv.NetworkPolicies = append(inv.NetworkPolicies, &NetworkPolicy{NetworkPolicy: o, Source: src})
	case *rbacv1.Role:
		o.Namespace = ref.Namespace
		inv.RBAC.Roles = append(inv.RBAC.Roles, o)
	case *rbacv1.ClusterRole:
		inv.RBAC.ClusterRoles = append(inv.RBAC.ClusterRoles, o)
	case *rbacv1.RoleBinding:
		o.Namespace = ref.Namespace
		inv.RBAC.RoleBindings = append(inv.RBAC.RoleBindings, o)
	case *rbacv1.ClusterRoleBinding:
		inv.RBAC.ClusterRoleBindings = append(inv.RBAC.ClusterRoleBindings, o)
	case *policyv1.PodDisruptionBudget:
		o.Namespace = ref.Namespace
		inv.PodDisruptionBudgets = append(inv.PodDisruptionBudgets, o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		o.Namespace = ref.Namespace
		inv.HorizontalPodAutoscalers = append(inv.HorizontalPodAutoscalers, o)
	default:
		if w := FromTyped(typed, ref, src); w != nil {
			w.Meta.Namespace = ref.Namespace
			inv.Workloads = append(inv.Workloads, w)
			obj.Workload = w
		}
	}
	inv.Objects = append(inv.Objects, obj)
}

// newTyped returns an empty typed object for the kinds rules understand.
func newTyped(group, kind string) any {
	switch group + "/" + kind {
	case "/Pod":
		return &corev1.Pod{}
	case "/ReplicationController":
		return &corev1.ReplicationController{}
	case "/Namespace":
		return &corev1.Namespace{}
	case "/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "/Service":
		return &corev1.Service{}
	case "/ConfigMap":
		return &corev1.ConfigMap{}
	case "networking.k8s.io/Ingress":
		return &networkingv1.Ingress{}
	case "policy/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "autoscaling/HorizontalPodAutoscaler":
		// autoscaling/v1 decodes leniently: scaleTargetRef and the
		// replica bounds, which rules read, have the same shape.
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "apps/Deployment":
		return &appsv1.Deployment{}
	case "apps/StatefulSet":
		return &appsv1.StatefulSet{}
	case "apps/DaemonSet":
		return &appsv1.DaemonSet{}
	case "apps/ReplicaSet":
		return &appsv1.ReplicaSet{}
	case "batch/Job":
		return &batchv1.Job{}
	case "batch/CronJob":
		return &batchv1.CronJob{}
	case "networking.k8s.io/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "rbac.authorization.k8s.io/Role":
		return &rbacv1.Role{}
	case "rbac.authorization.k8s.io/ClusterRole":
		return &rbacv1.ClusterRole{}
	case "rbac.authorization.k8s.io/RoleBinding":
		return &rbacv1.RoleBinding{}
	case "rbac.authorization.k8s.io/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	}
	return nil
}

// notUnderstoodError is an object of a built-in API group whose version
// or kind Kubernetes does not know: it is reported, never evaluated.
type notUnderstoodError struct{ info APIVersionInfo }

func (e *notUnderstoodError) Error() string { return e.info.Message() }

// apiGroup is the group an object is evaluated in: its own, or the current
// group of a kind written under a removed or mistaken group/version.
func apiGroup(src *manifest.Object) string {
	return LookupAPIVersion(src.APIVersion, src.Kind).Group
}

// decodeTyped decodes the kinds rules understand into their current typed
// form. A kind written under a removed group/version (extensions/v1beta1
// DaemonSet) decodes leniently into the current one: the old shapes are
// compatible where rules look, and fields the current type lacks (such as
// rollbackTo) are ignored.
//
// A NetworkPolicy under a removed version is the exception: it is never
// enforced by a current cluster, so counting it as isolation would be a
// false clean. It stays an untyped object (hardening/deprecated-api-version
// reports it; netpol names it as not modelled).
//
// cache shares decoded values between the objects one goroutine decodes
// (directCache); nil shares nothing.
func decodeTyped(src *manifest.Object, cache *directCache) (any, error) {
	info := LookupAPIVersion(src.APIVersion, src.Kind)
	switch {
	case info.Status == APIUnknown:
		return nil, &notUnderstoodError{info}
	case info.Status == APIReplaced && src.Kind == "NetworkPolicy":
		return nil, nil
	}
	// The workload kinds, most of a large input, decode without
	// reflection unless they use what only encoding/json decides.
	if typed, ok := decodeDirectShared(src.JSON, info.Group, src.Kind, cache); ok {
		return typed, nil
	}
	typed := newTyped(info.Group, src.Kind)
	if typed == nil {
		return nil, nil
	}
	return unmarshalTyped(src.JSON, typed, func() any { return newTyped(info.Group, src.Kind) })
}

// describeDecodeError turns a JSON type error into a message and the line
// of the offending field.
func describeDecodeError(src *manifest.Object, err error) (int, string) {
	var nu *notUnderstoodError
	if errors.As(err, &nu) {
		return src.LineOf("apiVersion"), nu.Error()
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		msg := fmt.Sprintf("field %s: cannot use %s as %s", field, te.Value, te.Type)
		// The JSON field path has no list indexes; its deepest
		// existing prefix still gives a close line.
		return src.LineOf(field), msg
	}
	return src.Line, err.Error()
}

// clusterScoped lists the built-in kinds that live outside namespaces,
// keyed "group/Kind".
var clusterScoped = map[string]bool{
	"/Namespace": true, "/Node": true, "/PersistentVolume": true, "/ComponentStatus": true,
	"rbac.authorization.k8s.io/ClusterRole": true, "rbac.authorization.k8s.io/ClusterRoleBinding": true,
	"storage.k8s.io/StorageClass": true, "storage.k8s.io/CSIDriver": true, "storage.k8s.io/CSINode": true,
	"storage.k8s.io/VolumeAttachment": true, "scheduling.k8s.io/PriorityClass": true,
	"node.k8s.io/RuntimeClass": true, "networking.k8s.io/IngressClass": true,
	"apiextensions.k8s.io/CustomResourceDefinition": true, "apiregistration.k8s.io/APIService": true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
	"certificates.k8s.io/CertificateSigningRequest":                 true,
}

// IsNamespaced reports whether a kind lives in a namespace. Unknown kinds
// are assumed namespaced, as most custom resources are.
func IsNamespaced(group, kind string) bool {
	return !clusterScoped[group+"/"+kind]
}

// Content returns the object as generic JSON (maps, slices, strings,
// bools, int64 for whole numbers and float64 otherwise, as Kubernetes' own
// CEL sees them), decoded once; safe for concurrent use.
func (o *Object) Content() (map[string]any, error) {
	o.contentOnce.Do(func() {
		var data []byte
		var err error
		if o.Source != nil && o.Source.JSON != nil {
			data = o.Source.JSON
		} else if o.Typed != nil {
			data, err = json.Marshal(o.Typed)
		} else {
			err = errors.New("object has no content")
		}
		if err == nil {
			o.content, err = celvalue.DecodeObject(data)
		}
		o.contentErr = err
	})
	return o.content, o.contentErr
}

// ServiceAccountFor returns the service account a workload runs as, if the
// inventory has it.
func (inv *Inventory) ServiceAccountFor(w *Workload) *ServiceAccount {
	return inv.ServiceAccounts[w.Namespace()+"/"+w.Spec.ServiceAccountName]
}

// PolicyLevelLabel returns the value of a namespace's
// pod-security.kubernetes.io/<mode> label, if the namespace is known.
func (inv *Inventory) PolicyLevelLabel(namespace, mode string) (string, bool) {
	ns, ok := inv.Namespaces[namespace]
	if !ok {
		return "", false
	}
	v, ok := ns.Labels["pod-security.kubernetes.io/"+mode]
	return strings.TrimSpace(v), ok
}

// Annotations returns the object's metadata annotations.
func (o *Object) Annotations() map[string]string {
	if a, ok := o.Typed.(interface{ GetAnnotations() map[string]string }); ok {
		return a.GetAnnotations()
	}
	content, err := o.Content()
	if err != nil {
		return nil
	}
	md, _ := content["metadata"].(map[string]any)
	raw, _ := md["annotations"].(map[string]any)
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// NamespaceObject returns the Namespace object of a namespace, if the input has it.
func (inv *Inventory) NamespaceObject(name string) (*Object, bool) {
	ns, ok := inv.Namespaces[name]
	if !ok || name == "" {
		return nil, false
	}
	return ns.object, ns.object != nil
}

// Partition decodes the set's context objects (everything that is not a
// workload: namespaces, service accounts, services, policies, RBAC, custom
// resources) into an inventory, and returns the workloads' sources still
// undecoded, so a large scan can decode and evaluate them in batches
// (WithBatch) instead of holding every typed workload at once.
func Partition(set *manifest.Set, defaultNamespace string) (*Inventory, []*manifest.Object, []finding.Problem) {
	var context, workloads []*manifest.Object
	for _, o := range set.Objects {
		if isWorkloadKind(apiGroup(o), o.Kind) {
			workloads = append(workloads, o)
		} else {
			context = append(context, o)
		}
	}
	inv, probs := FromManifests(&manifest.Set{Objects: context}, defaultNamespace)
	return inv, workloads, probs
}

// WithBatch returns an inventory that shares inv's context (namespaces,
// service accounts, services, network policies, RBAC) but whose Workloads
// and Objects are only the decoded batch.
func (inv *Inventory) WithBatch(batch []*manifest.Object, defaultNamespace string) (*Inventory, []finding.Problem) {
	b, probs := FromManifests(&manifest.Set{Objects: batch}, defaultNamespace)
	shared := *inv
	shared.Workloads, shared.Objects = b.Workloads, b.Objects
	return &shared, probs
}

func isWorkloadKind(group, kind string) bool {
	switch group + "/" + kind {
	case "/Pod", "/ReplicationController", "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "batch/Job", "batch/CronJob":
		return true
	}
	return false
}
