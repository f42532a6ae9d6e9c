// Package workload normalises Kubernetes objects, from manifests or from a
// live cluster, into the model every rule evaluates: workloads reduced to
// their pod template, plus the objects around them (namespaces, service
// accounts, services, network policies, RBAC).
package workload

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
)

// Workload is a pod template and the object that owns it.
type Workload struct {
	// Ref is the owning object (the Deployment, CronJob, or the Pod itself);
	// after Inventory.FoldOwned, a controlled object's top owner.
	Ref finding.ObjectRef
	// Own is the object's own reference when Ref names its controller
	// owner instead (Inventory.FoldOwned); nil when Ref is the object.
	Own *finding.ObjectRef
	// Meta is the owning object's metadata.
	Meta *metav1.ObjectMeta
	// PodMeta is the pod template's metadata (for a Pod, its own).
	PodMeta *metav1.ObjectMeta
	// Spec is the pod spec with the API server's defaulting applied where it
	// changes what a rule sees.
	Spec *corev1.PodSpec
	// SpecPath is where the pod spec sits inside the owning object, such as
	// "spec.template.spec", to locate fields in the source.
	SpecPath string
	// Source is where the object was read from; nil for a live cluster.
	Source *manifest.Object
	// Replicas is the owning object's spec.replicas as written (nil when
	// unset, which the API server defaults to 1) for the kinds that have
	// one: Deployment, StatefulSet, ReplicaSet, ReplicationController.
	Replicas *int32
	// Scaled reports a kind that runs a number of replicas (those with
	// Replicas), as opposed to one per node (DaemonSet), to completion
	// (Job, CronJob) or a single Pod.
	Scaled bool

	// containers is Containers(containersOf), listed once when the
	// workload is built (see Workload.Containers).
	containers   []Container
	containersOf *corev1.PodSpec
}

// Containers lists the workload's containers, as Containers(w.Spec)
// does. Every container rule lists them for every workload (25 rules),
// and each list was a new slice: 17 MB of a 10,000-workload scan's
// allocations. A workload built by FromTyped lists them once; the list
// is shared, so callers must not modify it. A workload whose Spec was
// replaced, or whose container lists changed length, since it was built
// gets a fresh list.
func (w *Workload) Containers() []Container {
	if s := w.Spec; w.containersOf == s && s != nil &&
		len(w.containers) == len(s.InitContainers)+len(s.Containers)+len(s.EphemeralContainers) {
		return w.containers
	}
	return Containers(w.Spec)
}

// Namespace returns the namespace the workload runs in.
func (w *Workload) Namespace() string { return w.Ref.Namespace }

// Field returns the full path of a field given relative to the pod spec.
func (w *Workload) Field(rel string) string {
	if rel == "" {
		return w.SpecPath
	}
	if rel[0] == '[' {
		return w.SpecPath + rel
	}
	return w.SpecPath + "." + rel
}

// Container is any container of a pod: init, regular or ephemeral.
type Container struct {
	*corev1.Container
	// Path is the field path relative to the pod spec, e.g. "containers[1]".
	Path string
	// Init reports an init container.
	Init bool
	// Ephemeral reports an ephemeral (debug) container, which can have no
	// resources, ports or probes.
	Ephemeral bool
}

// Containers lists all containers of a pod spec, init containers first,
// then regular and ephemeral ones.
func Containers(spec *corev1.PodSpec) []Container {
	out := make([]Container, 0, len(spec.InitContainers)+len(spec.Containers)+len(spec.EphemeralContainers))
	for i := range spec.InitContainers {
		out = append(out, Container{Container: &spec.InitContainers[i], Path: indexPath("initContainers", i), Init: true})
	}
	for i := range spec.Containers {
		out = append(out, Container{Container: &spec.Containers[i], Path: indexPath("containers", i)})
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		out = append(out, Container{Container: &c, Path: indexPath("ephemeralContainers", i), Ephemeral: true})
	}
	return out
}

func indexPath(field string, i int) string {
	if i < len(smallIndexPaths) {
		switch field {
		case "containers":
			return smallIndexPaths[i].containers
		case "initContainers":
			return smallIndexPaths[i].initContainers
		}
	}
	return field + "[" + itoa(i) + "]"
}

// smallIndexPaths are the paths of the first containers, built once:
// every rule lists a pod's containers, and building the same strings for
// each was a fifth of the allocations of rule evaluation.
var smallIndexPaths = func() (out [16]struct{ containers, initContainers string }) {
	for i := range out {
		out[i].containers = "containers[" + itoa(i) + "]"
		out[i].initContainers = "initContainers[" + itoa(i) + "]"
	}
	return out
}()

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// fromPodTemplate builds a workload from any owner with a pod template.
func fromPodTemplate(ref finding.ObjectRef, meta *metav1.ObjectMeta, tmpl *corev1.PodTemplateSpec, path string, src *manifest.Object) *Workload {
	w := &Workload{Ref: ref, Meta: meta, PodMeta: &tmpl.ObjectMeta, Spec: &tmpl.Spec, SpecPath: path, Source: src}
	applyDefaults(w.Spec)
	w.listContainers()
	return w
}

// listContainers lists the spec's containers once, for
// Workload.Containers, after applyDefaults: the list is what
// Containers(w.Spec) returns afterwards.
func (w *Workload) listContainers() {
	w.containers, w.containersOf = Containers(w.Spec), w.Spec
}

// FromTyped normalises a typed workload object. It returns nil for objects
// that are not workloads. The namespace of ref must already be resolved.
func FromTyped(obj any, ref finding.ObjectRef, src *manifest.Object) *Workload {
	switch o := obj.(type) {
	case *corev1.Pod:
		w := &Workload{Ref: ref, Meta: &o.ObjectMeta, PodMeta: &o.ObjectMeta, Spec: &o.Spec, SpecPath: "spec", Source: src}
		applyDefaults(w.Spec)
		w.listContainers()
		return w
	case *appsv1.Deployment:
		return scaled(fromPodTemplate(ref, &o.ObjectMeta, &o.Spec.Template, "spec.template.spec", src), o.Spec.Replicas)
	case *appsv1.StatefulSet:
		return scaled(fromPodTemplate(ref, &o.ObjectMeta, &o.Spec.Template, "spec.template.spec", src), o.Spec.Replicas)
	case *appsv1.DaemonSet:
		return fromPodTemplate(ref, &o.ObjectMeta, &o.Spec.Template, "spec.template.spec", src)
	case *appsv1.ReplicaSet:
		return scaled(fromPodTemplate(ref, &o.ObjectMeta, &o.Spec.Template, "spec.template.spec", src), o.Spec.Replicas)
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			o.Spec.Template = &corev1.PodTemplateSpec{}
		}
		return scaled(fromPodTemplate(ref, &o.ObjectMeta, o.Spec.Template, "spec.template.spec", src), o.Spec.Replicas)
	case *batchv1.Job:
		return fromPodTemplate(ref, &o.ObjectMeta, &o.Spec.Template, "spec.template.spec", src)
	case *batchv1.CronJob:
		return fromPodTemplate(ref, &o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template, "spec.jobTemplate.spec.template.spec", src)
	}
	return nil
}

func scaled(w *Workload, replicas *int32) *Workload {
	w.Replicas, w.Scaled = replicas, true
	return w
}

// ReplicaCount is the number of replicas the workload asks for: spec.replicas,
// 1 when unset; 0 for kinds that are not scaled by a replica count.
func (w *Workload) ReplicaCount() int32 {
	switch {
	case !w.Scaled:
		return 0
	case w.Replicas == nil:
		return 1
	}
	return *w.Replicas
}

// applyDefaults applies the API server's defaulting that changes what the
// rules see, so results match what the cluster would admit:
//   - a volume with no source is an emptyDir;
//   - a container port with no protocol is TCP;
//   - a pod with no service account runs as "default".
func applyDefaults(spec *corev1.PodSpec) {
	for i := range spec.Volumes {
		if isEmptyVolumeSource(&spec.Volumes[i].VolumeSource) {
			spec.Volumes[i].EmptyDir = &corev1.EmptyDirVolumeSource{}
		}
	}
	for _, c := range Containers(spec) {
		for j := range c.Ports {
			if c.Ports[j].Protocol == "" {
				c.Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = "default"
	}
}

func isEmptyVolumeSource(v *corev1.VolumeSource) bool {
	return *v == (corev1.VolumeSource{})
}
