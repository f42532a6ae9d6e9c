package workload

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
)

func controlledBy(apiVersion, kind, name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "not-a-controller"},
		{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &yes},
	}
}

func TestOwnersTop(t *testing.T) {
	ref := func(kind, name string) finding.ObjectRef {
		return finding.ObjectRef{Kind: kind, Namespace: "shop", Name: name}
	}
	o := NewOwners()
	o.Note(ref("Pod", "web-1-a"), controlledBy("apps/v1", "ReplicaSet", "web-1"))
	o.Note(ref("ReplicaSet", "web-1"), controlledBy("apps/v1", "Deployment", "web"))
	o.Note(ref("Pod", "report-28-x"), controlledBy("batch/v1", "Job", "report-28"))
	o.Note(ref("Job", "report-28"), controlledBy("batch/v1", "CronJob", "report"))
	o.Note(ref("Pod", "etcd-cp1"), controlledBy("v1", "Node", "cp1"))
	o.Note(ref("Pod", "lonely"), []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "not-controller"}})
	o.Note(ref("Pod", "loop-a"), controlledBy("example.com/v1", "Loop", "b"))
	o.Note(ref("Loop", "b"), controlledBy("v1", "Pod", "loop-a"))
	tests := []struct {
		ref    finding.ObjectRef
		want   string
		folded bool
	}{
		{ref("Pod", "web-1-a"), "Deployment/shop/web", true},
		{ref("ReplicaSet", "web-1"), "Deployment/shop/web", true},
		{ref("Deployment", "web"), "Deployment/shop/web", false},
		{ref("Pod", "report-28-x"), "CronJob/shop/report", true},
		{ref("Pod", "etcd-cp1"), "Pod/shop/etcd-cp1", false},
		{ref("Pod", "lonely"), "Pod/shop/lonely", false},
		{ref("Pod", "loop-a"), "Loop/shop/b", true},
	}
	for _, tt := range tests {
		t.Run(tt.ref.String(), func(t *testing.T) {
			got, folded := o.Top(tt.ref)
			if got.String() != tt.want || folded != tt.folded {
				t.Errorf("Top = %s %v, want %s %v", got, folded, tt.want, tt.folded)
			}
		})
	}
}

func TestFoldOwnedFromManifests(t *testing.T) {
	inv, probs := load(t, `apiVersion: v1
kind: Pod
metadata:
  name: web-1-a
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u1, controller: true}]
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec: {containers: [{name: c, image: x}]}
`, "shop")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	owners := OwnersOf(nil, "")
	for _, o := range inv.Objects {
		owners.Note(o.Ref, o.Workload.Meta.OwnerReferences)
	}
	inv.FoldOwned(owners)
	got := map[string]string{}
	for _, o := range inv.Objects {
		own := ""
		if o.Workload.Own != nil {
			own = o.Workload.Own.String()
		}
		if o.Ref != o.Workload.Ref {
			t.Errorf("object and workload named differently: %s, %s", o.Ref, o.Workload.Ref)
		}
		got[o.Ref.String()] = own
	}
	want := map[string]string{"ReplicaSet/shop/web-1": "Pod/shop/web-1-a", "Pod/shop/debug": ""}
	if len(got) != len(want) || got["ReplicaSet/shop/web-1"] != want["ReplicaSet/shop/web-1"] || got["Pod/shop/debug"] != "" {
		t.Errorf("folded %v, want %v", got, want)
	}
}

// mentionOwners searches on every core; each object keeps its own answer.
func TestMentionOwners(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 1000} {
		objs := make([]*manifest.Object, n)
		want := make([]bool, n)
		for i := range objs {
			objs[i] = &manifest.Object{JSON: []byte(`{"metadata":{"name":"x"}}`)}
			if i%7 == 3 {
				objs[i].JSON = []byte(`{"metadata":{"ownerReferences":[]}}`)
				want[i] = true
			}
		}
		if got := mentionOwners(objs); !slices.Equal(got, want) {
			t.Errorf("%d objects: mentionOwners = %v, want %v", n, got, want)
		}
	}
}

// TestOwnersOfMatchesNamesExactly: a name that only folds to
// ownerReferences is an unknown field to the API server, so it makes no
// owner, and does not replace the real one.
func TestOwnersOfMatchesNamesExactly(t *testing.T) {
	for _, tt := range []struct {
		name, meta string
		folded     bool
	}{
		{"exact", `"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u","controller":true}]`, true},
		{"folded name after an empty exact one", `"ownerReferences":[],"OwnerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u","controller":true}]`, false},
		{"folded name after the exact one", `"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u","controller":true}],"OwnerReferences":[]`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obj := &manifest.Object{Kind: "Pod", Namespace: "shop", Name: "p", APIVersion: "v1",
				JSON: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop",` + tt.meta + `}}`)}
			_, folded := OwnersOf([]*manifest.Object{obj}, "").Top(finding.ObjectRef{Kind: "Pod", Namespace: "shop", Name: "p"})
			if folded != tt.folded {
				t.Errorf("owned: %v, the API server reads %v", folded, tt.folded)
			}
		})
	}
}
