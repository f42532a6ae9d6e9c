package workload

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/manifest"
)

// FuzzFromManifests feeds arbitrary input through the loader into the
// normalisation: API version lookup, lenient decoding of removed versions,
// owner indexing and folding. It must not panic; every object is either in
// the inventory or an error naming its line.
func FuzzFromManifests(f *testing.F) {
	f.Add([]byte("apiVersion: extensions/v1beta1\nkind: DaemonSet\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: c, image: x}]}}}\n"))
	f.Add([]byte("apiVersion: apps/v9\nkind: Deployment\nmetadata: {name: d}\n---\napiVersion: v1\nkind: Deployment\nmetadata: {name: e}\nspec: {rollbackTo: {revision: 1}}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: r, uid: u, controller: true}]\nspec: {containers: [{name: c, image: x}]}\n---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: r\n  ownerReferences: [{apiVersion: v1, kind: Pod, name: p, uid: v, controller: true}]\n"))
	f.Add([]byte("apiVersion: rbac.authorization.k8s.io/v1alpha1\nkind: Role\nmetadata: {name: r}\nrules: [{verbs: ['*']}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		set, err := manifest.Load(context.Background(), []string{manifest.StdinPath}, manifest.Options{Stdin: bytes.NewReader(data), Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		n := len(set.Objects)
		owners := OwnersOf(set.Objects, "")
		inv, probs := FromManifests(set, "")
		if len(inv.Objects)+len(probs) != n {
			t.Fatalf("%d objects in, %d in the inventory and %d problems out", n, len(inv.Objects), len(probs))
		}
		for _, p := range probs {
			if p.Level != "error" || p.Line < 1 || !strings.Contains(p.Message, "\"") {
				t.Fatalf("problem %+v", p)
			}
		}
		inv.FoldOwned(owners)
		for _, o := range inv.Objects {
			info := LookupAPIVersion(o.Source.APIVersion, o.Source.Kind)
			if info.Status == APIUnknown {
				t.Fatalf("object of an unknown API evaluated: %+v", o.Ref)
			}
			_ = info.Message()
		}
	})
}

// FuzzLookupAPIVersion: any apiVersion and kind classify without panic, and
// only replaced and unknown ones have a message.
func FuzzLookupAPIVersion(f *testing.F) {
	for _, s := range [][2]string{{"apps/v1", "Deployment"}, {"extensions/v1beta1", "Ingress"}, {"v2", "Pod"}, {"/", ""}, {"a/b/c", "X"}, {"policy/v1beta1", "PodSecurityPolicy"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, apiVersion, kind string) {
		info := LookupAPIVersion(apiVersion, kind)
		msg := info.Message()
		if (info.Status == APIReplaced || info.Status == APIUnknown) != (msg != "") {
			t.Fatalf("status %d, message %q", info.Status, msg)
		}
	})
}
