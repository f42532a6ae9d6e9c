package workload

import (
	"bytes"
	"runtime"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
)

// maxOwnerDepth bounds the walk up a chain of controller owners; real
// chains are at most Pod → ReplicaSet → Deployment (or Pod → Job →
// CronJob) plus a custom controller or two, and a cycle must not loop.
const maxOwnerDepth = 8

// Owners indexes the controller owner of every object of the input that
// has one, so that replicas are reported as the workload an operator
// fixes and exempts: a Pod of a ReplicaSet as the ReplicaSet, or as its
// Deployment when the ReplicaSet is in the input too. Built once, then
// only read.
type Owners struct {
	controller map[objectKey]finding.ObjectRef
}

type objectKey struct{ kind, namespace, name string }

func keyOf(r finding.ObjectRef) objectKey { return objectKey{r.Kind, r.Namespace, r.Name} }

// NewOwners returns an empty index.
func NewOwners() *Owners {
	return &Owners{controller: map[objectKey]finding.ObjectRef{}}
}

// Note records the controller among an object's owner references. A Node
// owning a mirror Pod is not a controller that replicates a template:
// each static Pod is a workload of its own and stays itself.
func (o *Owners) Note(ref finding.ObjectRef, owners []metav1.OwnerReference) {
	for _, or := range owners {
		if or.Controller == nil || !*or.Controller || or.Kind == "" || or.Name == "" || or.Kind == "Node" {
			continue
		}
		ns := ref.Namespace
		if !IsNamespaced(groupOf(or.APIVersion), or.Kind) {
			ns = ""
		}
		o.controller[keyOf(ref)] = finding.ObjectRef{APIVersion: or.APIVersion, Kind: or.Kind, Namespace: ns, Name: or.Name}
		return
	}
}

// Top returns the name an object is reported under: its controller
// owner, followed up through every owner that is itself in the input and
// controlled (so a Pod whose ReplicaSet and Deployment are both in the
// input is the Deployment); ok is false when the object has no controller.
func (o *Owners) Top(ref finding.ObjectRef) (top finding.ObjectRef, ok bool) {
	top = ref
	for range maxOwnerDepth {
		owner, found := o.controller[keyOf(top)]
		if !found || keyOf(owner) == keyOf(ref) {
			break
		}
		top, ok = owner, true
	}
	return top, ok
}

// OwnersOf indexes the controller owners of manifest objects before they
// are decoded (a scan decodes workloads in batches, and a Pod's owner may
// be in another batch). Objects without a namespace are in
// defaultNamespace, as FromManifests places them.
func OwnersOf(objs []*manifest.Object, defaultNamespace string) *Owners {
	if defaultNamespace == "" {
		defaultNamespace = metav1.NamespaceDefault
	}
	withOwners := mentionOwners(objs)
	o := NewOwners()
	for i, src := range objs {
		// Most manifests have no owner references: skip decoding them.
		if !withOwners[i] {
			continue
		}
		var meta struct {
			Metadata struct {
				OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
			} `json:"metadata"`
		}
		// Names match exactly, as the API server reads them (decode.go).
		if kjson.UnmarshalCaseSensitivePreserveInts(src.JSON, &meta) != nil {
			continue // the decoder reports the object itself
		}
		ref := finding.ObjectRef{Kind: src.Kind, Namespace: src.Namespace, Name: src.Name}
		if ref.Namespace == "" && IsNamespaced(apiGroup(src), src.Kind) {
			ref.Namespace = defaultNamespace
		}
		o.Note(ref, meta.Metadata.OwnerReferences)
	}
	return o
}

// mentionOwners reports, per object, whether its JSON mentions
// "ownerReferences", searching on every core: the search covers the
// whole input's JSON (~30 MB for 10,000 workloads) and ran on one core
// between loading and decoding.
func mentionOwners(objs []*manifest.Object) []bool {
	out := make([]bool, len(objs))
	workers := min(runtime.GOMAXPROCS(0), 1+len(objs)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * len(objs) / workers; i < (w+1)*len(objs)/workers; i++ {
				out[i] = bytes.Contains(objs[i].JSON, []byte(`"ownerReferences"`))
			}
		})
	}
	wg.Wait()
	return out
}

// OwnersOfInventory indexes the controller owners of an inventory's
// workloads (read from a live cluster, say).
func OwnersOfInventory(inv *Inventory) *Owners {
	o := NewOwners()
	for _, w := range inv.Workloads {
		o.Note(w.Ref, w.Meta.OwnerReferences)
	}
	return o
}

// FoldOwned names each controlled workload of the inventory after its top
// owner (Owners.Top): its findings are then the owner's, exemptions and
// policy exceptions written for the owner apply to it, and findings that
// several replicas share can be reported once. The workload keeps its
// own source, so findings still point at its file and line; Workload.Own
// keeps its own reference.
func (inv *Inventory) FoldOwned(owners *Owners) {
	for _, obj := range inv.Objects {
		w := obj.Workload
		if w == nil {
			continue
		}
		top, ok := owners.Top(w.Ref)
		if !ok {
			continue
		}
		own := w.Ref
		w.Own, w.Ref, obj.Ref = &own, top, top
	}
}
