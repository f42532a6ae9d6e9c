package workload

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestWorkloadContainersListedOnce holds Workload.Containers to
// Containers(w.Spec): the same list (defaults applied, ephemeral
// containers as copies), built once per workload, and a fresh list once
// the spec is replaced or its containers change in number.
func TestWorkloadContainersListedOnce(t *testing.T) {
	spec := func() corev1.PodSpec {
		return corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Ports: []corev1.ContainerPort{{ContainerPort: 1}}}},
			Containers:     []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}, {Name: "b"}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Ports: []corev1.ContainerPort{{ContainerPort: 9}}}}},
		}
	}
	objs := map[string]any{
		"Pod":        &corev1.Pod{Spec: spec()},
		"Deployment": &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: spec()}}},
		"CronJob": &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec()}}}}},
		"empty": &corev1.Pod{},
	}
	for name, obj := range objs {
		t.Run(name, func(t *testing.T) {
			w := FromTyped(obj, finding.ObjectRef{Kind: name, Name: "x"}, nil)
			got, want := w.Containers(), Containers(w.Spec)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Containers() = %+v, want %+v", got, want)
			}
			if n := len(w.Spec.InitContainers) + len(w.Spec.Containers); n > 0 {
				if again := w.Containers(); &again[0] != &got[0] {
					t.Error("the list was built again, not once per workload")
				}
			}
			w.Spec.Containers = append(w.Spec.Containers, corev1.Container{Name: "added"})
			if got, want := w.Containers(), Containers(w.Spec); !reflect.DeepEqual(got, want) {
				t.Errorf("after adding a container: %d containers, want %d", len(got), len(want))
			}
			other := spec()
			w.Spec = &other
			if got, want := w.Containers(), Containers(w.Spec); len(got) > 0 && got[0].Container != want[0].Container {
				t.Error("after replacing the spec: the old spec's containers")
			}
		})
	}
}
