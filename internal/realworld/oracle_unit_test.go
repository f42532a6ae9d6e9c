package realworld

import "testing"

// TestOracle pins the oracle's own reading on small inputs, each written
// from kubectl's and the API server's documented behaviour.
func TestOracle(t *testing.T) {
	tests := []struct {
		name, in         string
		objects          []string // "apiVersion kind name"
		unreadable, nots int
	}{
		{"typed list items take the list's kind and version",
			"apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: a}\n", []string{"apps/v1 Deployment a"}, 0, 0},
		{"kind List items name their own", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n",
			[]string{"v1 Pod p"}, 0, 0},
		{"kind List item without kind is unreadable", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, metadata: {name: p}}\n", nil, 1, 0},
		{"nested lists are flattened", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: PodList, items: [{metadata: {name: p}}]}\n",
			[]string{"v1 Pod p"}, 0, 0},
		{"items: null is an empty list", `{"apiVersion":"v1","kind":"PodList","items":null}`, nil, 0, 0},
		{"a List kind without items is an object", "apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: a}\n",
			[]string{"example.com/v1 AllowList a"}, 0, 0},
		{"JSON array of objects", `[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}},{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"}}]`,
			[]string{"v1 Pod a", "v1 Pod b"}, 0, 0},
		{"JSON stream", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}} {"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"}}`,
			[]string{"v1 Pod a", "v1 Pod b"}, 0, 0},
		{"duplicate YAML key", "apiVersion: v1\nkind: Pod\nkind: Pod\nmetadata: {name: a}\n", nil, 1, 0},
		{"duplicate JSON key", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"}}`, nil, 1, 0},
		{"object that lost its kind", "apiVersion: v1\nind: Pod\nmetadata: {name: a}\n", nil, 1, 0},
		{"values file is no manifest", "replicaCount: 2\nimage: {tag: x}\n", nil, 0, 1},
		{"scalar document is no manifest", "just text\n", nil, 0, 1},
		{"empty documents", "---\n---\n", nil, 0, 0},
		{"UTF-16 with a byte order mark", "\xff\xfea\x00p\x00i\x00V\x00e\x00r\x00s\x00i\x00o\x00n\x00:\x00 \x00v\x001\x00\n\x00k\x00i\x00n\x00d\x00:\x00 \x00P\x00o\x00d\x00\n\x00",
			[]string{"v1 Pod "}, 0, 0},
		{"not UTF-8", "apiVersion: v1\nkind: \xff\n", nil, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := decodeBytes("in", []byte(tt.in))
			var got []string
			for _, o := range f.Objects {
				got = append(got, o.ID.APIVersion+" "+o.ID.Kind+" "+o.ID.Name)
			}
			if fmtList(got) != fmtList(tt.objects) || len(f.Unreadable) != tt.unreadable || f.NotManifests != tt.nots {
				t.Errorf("objects %v, unreadable %v, not manifests %d; want %v, %d, %d", got, f.Unreadable, f.NotManifests, tt.objects, tt.unreadable, tt.nots)
			}
		})
	}
}

func fmtList(s []string) string {
	out := ""
	for _, x := range s {
		out += x + ";"
	}
	return out
}
