package workload

import (
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// APIStatus says how Palisade understands an object's apiVersion for its kind.
type APIStatus int

// The API statuses.
const (
	// APICustom: the group is not built into Kubernetes (a custom
	// resource); the object is read as it is, untyped.
	APICustom APIStatus = iota
	// APIServed: a group/version Kubernetes serves for the kind.
	APIServed
	// APIReplaced: a built-in kind under a group/version that was removed
	// or never existed, where the intent is unambiguous (extensions/v1beta1
	// DaemonSet, v1 Deployment). The object is evaluated as the kind in its
	// current group/version, and hardening/deprecated-api-version reports
	// the apiVersion.
	APIReplaced
	// APIUnknown: a built-in group with a version or kind Kubernetes does
	// not know (apps/v9 Deployment, v2 Pod), where guessing the intent
	// would be a guess: the object is not understood and not evaluated.
	APIUnknown
)

// APIVersionInfo is what LookupAPIVersion knows about an apiVersion and kind.
type APIVersionInfo struct {
	Status APIStatus
	// APIVersion and Kind are as written.
	APIVersion, Kind string
	// Group is the API group the object is evaluated in: the current one
	// for APIReplaced, the written one otherwise.
	Group string
	// Replacement is the group/version to use instead ("apps/v1"), for
	// APIReplaced; "" when the kind has no successor (PodSecurityPolicy).
	Replacement string
	// Successor names what replaced a kind that has no Replacement.
	Successor string
	// RemovedIn is the Kubernetes minor version that stopped serving the
	// group/version ("1.16"); "" when it was never served (v1 Deployment).
	RemovedIn string
}

// Message explains an APIReplaced or APIUnknown apiVersion to a user.
func (i APIVersionInfo) Message() string {
	gvk := i.APIVersion + " " + i.Kind
	switch i.Status {
	case APIReplaced:
		use := "use " + i.Replacement
		if i.Replacement == "" {
			use = "use " + i.Successor + " instead"
		}
		if i.RemovedIn == "" {
			return fmt.Sprintf("%s does not exist in Kubernetes; %s — this object will not apply on any cluster", gvk, use)
		}
		return fmt.Sprintf("%s was removed in Kubernetes %s; %s — this object will not apply on a current cluster", gvk, i.RemovedIn, use)
	case APIUnknown:
		if versions := servedVersions(i.Kind); len(versions) > 0 {
			return fmt.Sprintf("apiVersion %q: Kubernetes serves %s as %s; not understood, not evaluated", i.APIVersion, i.Kind, strings.Join(versions, " or "))
		}
		group := "API group " + strconv.Quote(i.Group)
		if i.Group == "" {
			group = "the core API group"
		}
		return fmt.Sprintf("apiVersion %q: Kubernetes has no kind %s in %s; not understood, not evaluated", i.APIVersion, i.Kind, group)
	}
	return ""
}

// replacedAPI is a group/version of a built-in kind that no current
// Kubernetes serves, with what to use instead. The entries follow the
// Kubernetes deprecation guide
// (kubernetes.io/docs/reference/using-api/deprecation-guide/), plus the
// core group mistaken for apps, which never existed but whose intent is
// plain.
type replacedAPI struct {
	apiVersion, kinds, removedIn, replacement, successor string
}

var replacedAPIs = []replacedAPI{
	{"extensions/v1beta1", "Deployment DaemonSet ReplicaSet", "1.16", "apps/v1", ""},
	{"extensions/v1beta1", "NetworkPolicy", "1.16", "networking.k8s.io/v1", ""},
	{"extensions/v1beta1", "PodSecurityPolicy", "1.16", "", "Pod Security Admission (namespace labels)"},
	{"extensions/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1", ""},
	{"apps/v1beta1", "Deployment StatefulSet ControllerRevision", "1.16", "apps/v1", ""},
	{"apps/v1beta2", "Deployment StatefulSet DaemonSet ReplicaSet ControllerRevision", "1.16", "apps/v1", ""},
	{"v1", "Deployment StatefulSet DaemonSet ReplicaSet", "", "apps/v1", ""},
	{"batch/v2alpha1", "CronJob", "1.21", "batch/v1", ""},
	{"batch/v1beta1", "CronJob", "1.25", "batch/v1", ""},
	{"settings.k8s.io/v1alpha1", "PodPreset", "1.20", "", "a mutating admission webhook or policy"},
	{"networking.k8s.io/v1beta1", "Ingress IngressClass", "1.22", "networking.k8s.io/v1", ""},
	{"rbac.authorization.k8s.io/v1beta1", "Role ClusterRole RoleBinding ClusterRoleBinding", "1.22", "rbac.authorization.k8s.io/v1", ""},
	{"rbac.authorization.k8s.io/v1alpha1", "Role ClusterRole RoleBinding ClusterRoleBinding", "1.22", "rbac.authorization.k8s.io/v1", ""},
	{"admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration ValidatingWebhookConfiguration", "1.22", "admissionregistration.k8s.io/v1", ""},
	{"apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "1.22", "apiextensions.k8s.io/v1", ""},
	{"apiregistration.k8s.io/v1beta1", "APIService", "1.22", "apiregistration.k8s.io/v1", ""},
	{"authentication.k8s.io/v1beta1", "TokenReview", "1.22", "authentication.k8s.io/v1", ""},
	{"authorization.k8s.io/v1beta1", "SubjectAccessReview LocalSubjectAccessReview SelfSubjectAccessReview", "1.22", "authorization.k8s.io/v1", ""},
	{"certificates.k8s.io/v1beta1", "CertificateSigningRequest", "1.22", "certificates.k8s.io/v1", ""},
	{"coordination.k8s.io/v1beta1", "Lease", "1.22", "coordination.k8s.io/v1", ""},
	{"scheduling.k8s.io/v1beta1", "PriorityClass", "1.22", "scheduling.k8s.io/v1", ""},
	{"scheduling.k8s.io/v1alpha1", "PriorityClass", "1.22", "scheduling.k8s.io/v1", ""},
	{"storage.k8s.io/v1beta1", "CSIDriver CSINode StorageClass VolumeAttachment", "1.22", "storage.k8s.io/v1", ""},
	{"storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.27", "storage.k8s.io/v1", ""},
	{"discovery.k8s.io/v1beta1", "EndpointSlice", "1.25", "discovery.k8s.io/v1", ""},
	{"events.k8s.io/v1beta1", "Event", "1.25", "events.k8s.io/v1", ""},
	{"autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.25", "autoscaling/v2", ""},
	{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26", "autoscaling/v2", ""},
	{"policy/v1beta1", "PodDisruptionBudget", "1.25", "policy/v1", ""},
	{"policy/v1beta1", "PodSecurityPolicy", "1.25", "", "Pod Security Admission (namespace labels)"},
	{"node.k8s.io/v1beta1", "RuntimeClass", "1.25", "node.k8s.io/v1", ""},
	{"flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema PriorityLevelConfiguration", "1.26", "flowcontrol.apiserver.k8s.io/v1", ""},
	{"flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema PriorityLevelConfiguration", "1.29", "flowcontrol.apiserver.k8s.io/v1", ""},
	{"flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema PriorityLevelConfiguration", "1.32", "flowcontrol.apiserver.k8s.io/v1", ""},
}

// schemeKindList yields the kinds of schemeKinds: those of client-go's
// scheme, compiled in rather than read from the scheme, which client-go
// builds at init in every binary that links it (TestSchemeKindsMatchClientGo
// keeps them equal).
func schemeKindList() iter.Seq[schema.GroupVersionKind] {
	return func(yield func(schema.GroupVersionKind) bool) {
		for line := range strings.Lines(schemeKinds) {
			apiVersion, kind, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
			gv, err := schema.ParseGroupVersion(apiVersion)
			if err != nil || kind == "" {
				continue
			}
			if !yield(gv.WithKind(kind)) {
				return
			}
		}
	}
}

// servedOutsideScheme are built-in group/versions served by the API server
// but not in client-go's scheme (their types live in the API extension and
// aggregation servers).
var servedOutsideScheme = []schema.GroupVersionKind{
	{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"},
	{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"},
}

// apiTables indexes the served and replaced APIs; built once, then only read.
type apiTables struct {
	served   map[schema.GroupVersionKind]bool
	versions map[string][]string // kind -> served "group/version"s
	groups   map[string]bool     // built-in groups
	replaced map[schema.GroupVersionKind]replacedAPI
}

var apis = sync.OnceValue(func() *apiTables {
	t := &apiTables{served: map[schema.GroupVersionKind]bool{}, versions: map[string][]string{},
		groups: map[string]bool{}, replaced: map[schema.GroupVersionKind]replacedAPI{}}
	for _, r := range replacedAPIs {
		gv, _ := schema.ParseGroupVersion(r.apiVersion)
		t.groups[gv.Group] = true
		for _, kind := range strings.Fields(r.kinds) {
			t.replaced[gv.WithKind(kind)] = r
		}
	}
	add := func(gvk schema.GroupVersionKind) {
		if _, old := t.replaced[gvk]; old || t.served[gvk] {
			return
		}
		t.served[gvk] = true
		t.groups[gvk.Group] = true
		t.versions[gvk.Kind] = append(t.versions[gvk.Kind], gvk.GroupVersion().String())
	}
	for gvk := range schemeKindList() {
		add(gvk)
	}
	for _, gvk := range servedOutsideScheme {
		add(gvk)
	}
	for _, v := range t.versions {
		slices.Sort(v)
	}
	return t
})

// LookupAPIVersion classifies an object's apiVersion and kind against the
// APIs Kubernetes serves. An empty apiVersion or kind is the loader's
// concern (it reports them) and is classified as APICustom here.
func LookupAPIVersion(apiVersion, kind string) APIVersionInfo {
	info := APIVersionInfo{Status: APICustom, APIVersion: apiVersion, Kind: kind, Group: groupOf(apiVersion)}
	if apiVersion == "" || kind == "" {
		return info
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return info
	}
	t := apis()
	gvk := gv.WithKind(kind)
	switch r, old := t.replaced[gvk]; {
	case old:
		info.Status = APIReplaced
		info.RemovedIn, info.Replacement, info.Successor = r.removedIn, r.replacement, r.successor
		if r.replacement != "" {
			info.Group = groupOf(r.replacement)
		}
	case t.served[gvk]:
		info.Status = APIServed
	case t.groups[gv.Group]:
		info.Status = APIUnknown
	}
	return info
}

// servedVersions lists the group/versions Kubernetes serves a kind in.
func servedVersions(kind string) []string {
	return apis().versions[kind]
}

func groupOf(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}
