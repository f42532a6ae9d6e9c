package agent

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStripForCache(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "a",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
			Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: "{…}", "keep": "me"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "registry.example.com/app:1", ImageID: "registry.example.com/app@sha256:abc", RestartCount: 3}}},
	}
	if _, err := stripForCache(pod); err != nil {
		t.Fatal(err)
	}
	if pod.ManagedFields != nil || pod.Annotations[corev1.LastAppliedConfigAnnotation] != "" || pod.Annotations["keep"] != "me" {
		t.Errorf("metadata: %+v", pod.ObjectMeta)
	}
	want := corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ImageID: "registry.example.com/app@sha256:abc"}}}
	if len(pod.Status.ContainerStatuses) != 1 || !reflect.DeepEqual(pod.Status.ContainerStatuses, want.ContainerStatuses) || pod.Status.Phase != "" || pod.Status.Conditions != nil {
		t.Errorf("status: %+v", pod.Status)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Errorf("spec changed: %+v", pod.Spec)
	}
	uses := imageUses([]*corev1.Pod{pod})
	if len(uses) != 1 || uses[0].Ref != "registry.example.com/app:1" {
		t.Errorf("image uses after strip: %+v", uses)
	}

	node := &corev1.Node{Status: corev1.NodeStatus{
		Images:     []corev1.ContainerImage{{Names: []string{"x"}, SizeBytes: 1}},
		NodeInfo:   corev1.NodeSystemInfo{Architecture: "arm64"},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
	}}
	if _, err := stripForCache(node); err != nil {
		t.Fatal(err)
	}
	if node.Status.Images != nil || node.Status.NodeInfo.Architecture != "arm64" || len(node.Status.Conditions) != 1 {
		t.Errorf("node: %+v", node.Status)
	}
}
