package workload

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/palisade-sec/palisade/internal/manifest"
)

// shareInput has three Deployments whose containers repeat one resource
// list, and a list with a quantity held as a decimal pointer (1.5Gi).
const shareInput = `apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec:
  template:
    spec:
      containers:
      - name: c
        image: x
        resources:
          limits: {cpu: 500m, memory: 256Mi}
          requests: {cpu: 100m, memory: 128Mi}
      - name: d
        image: x
        resources:
          requests: {cpu: 100m, memory: 128Mi}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b}
spec:
  template:
    spec:
      containers:
      - name: c
        image: x
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 1.5Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: c}
spec:
  template:
    spec:
      containers:
      - name: c
        image: x
        resources:
          limits: {memory: 1.5Gi}
`

// TestDecodeSharesResourceLists: identical resource lists decode to one
// map (issue #18: the lists were 18 MB of a 10,000-workload scan's
// decoding), equal to what each decodes to alone; a list holding a
// decimal pointer is never shared, so changing one container's quantity
// cannot change another's.
func TestDecodeSharesResourceLists(t *testing.T) {
	load := func() *manifest.Set {
		set, err := manifest.Load(context.Background(), []string{manifest.StdinPath},
			manifest.Options{Stdin: bytes.NewReader([]byte(shareInput)), Workers: 1})
		if err != nil || len(set.Objects) != 3 {
			t.Fatalf("%v, %d objects", err, len(set.Objects))
		}
		return set
	}
	inv, probs := FromManifests(load(), "")
	if len(probs) != 0 || len(inv.Workloads) != 3 {
		t.Fatalf("%d workloads, problems %v", len(inv.Workloads), probs)
	}
	if cs := inv.Workloads[0].Spec.Containers; !sameMap(cs[0].Resources.Requests, cs[1].Resources.Requests) {
		t.Error("one object's identical request lists are not one map")
	}
	// The decoding goroutines split the objects between them: decode
	// them again through one cache, as one goroutine does.
	var cache directCache
	typed := make([]*appsv1.Deployment, 3)
	for i, o := range load().Objects {
		alone, ok := decodeDirect(o.JSON, "apps", "Deployment")
		v, err := decodeTyped(o, &cache)
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		typed[i] = v.(*appsv1.Deployment)
		if !reflect.DeepEqual(typed[i], alone) {
			t.Fatalf("object %d decodes differently through a cache", i)
		}
	}
	res := func(w, c int) corev1.ResourceRequirements { return typed[w].Spec.Template.Spec.Containers[c].Resources }
	want := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	for _, r := range []corev1.ResourceList{res(0, 0).Requests, res(0, 1).Requests, res(1, 0).Requests} {
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("requests %v, want %v", r, want)
		}
	}
	if !sameMap(res(0, 0).Requests, res(0, 1).Requests) || !sameMap(res(0, 0).Requests, res(1, 0).Requests) {
		t.Error("the three identical request lists are not one map")
	}
	if sameMap(res(0, 0).Requests, res(0, 0).Limits) {
		t.Error("different lists share a map")
	}
	b, c := res(1, 0).Limits, res(2, 0).Limits
	if sameMap(b, c) {
		t.Fatal("a list with a decimal quantity is shared")
	}
	q := b[corev1.ResourceMemory]
	q.Add(resource.MustParse("1Gi"))
	if got := c[corev1.ResourceMemory]; got.String() != "1536Mi" {
		t.Errorf("another container's limit changed to %s", got.String())
	}
}

// TestDirectCacheBounded: past maxSharedLists lists, or for a list
// longer than maxSharedListBytes, decoding goes on without sharing.
func TestDirectCacheBounded(t *testing.T) {
	var c directCache
	l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	for i := range maxSharedLists + 10 {
		c.keep([]byte{byte(i), byte(i >> 8)}, l)
	}
	c.keep(bytes.Repeat([]byte("x"), maxSharedListBytes+1), l)
	if len(c.lists) != maxSharedLists {
		t.Fatalf("%d lists kept, at most %d", len(c.lists), maxSharedLists)
	}
}

// sameMap reports whether a and b are one map.
func sameMap(a, b corev1.ResourceList) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
