package manifest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/palisade-sec/palisade/internal/finding"
)

// utf16Text encodes s as UTF-16 with a byte order mark.
func utf16Text(order binary.AppendByteOrder, s string) string {
	b := order.AppendUint16(nil, 0xFEFF)
	for _, u := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, u)
	}
	return string(b)
}

// describe prints what a Set holds, one line per object and problem, so
// that table tests compare the whole result.
func describe(set *Set) string {
	var b strings.Builder
	for _, o := range set.Objects {
		fmt.Fprintf(&b, "%s:%d %s %s %s/%s\n", o.File, o.Line, o.APIVersion, o.Kind, o.Namespace, o.Name)
	}
	for _, p := range set.Problems {
		fmt.Fprintf(&b, "%s:%d %s: %s\n", p.File, p.Line, p.Level, p.Message)
	}
	fmt.Fprintf(&b, "documents %d, not understood %d\n", set.Documents, set.NotUnderstood)
	return b.String()
}

func TestLoadDumps(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"podlist.yaml", `podlist.yaml:7 v1 Pod shop/web-7d4b9c8f6d-x2k9p
podlist.yaml:84 v1 Pod shop/debug
documents 1, not understood 0
`},
		{"get-all.yaml", `get-all.yaml:7 apps/v1 Deployment shop/web
get-all.yaml:55 v1 Service shop/web
documents 1, not understood 0
`},
		{"namespaces.json", `namespaces.json:4 v1 Namespace /default
namespaces.json:23 v1 Namespace /shop
documents 1, not understood 0
`},
		{"objects-array.json", `objects-array.json:2 v1 ServiceAccount ci/builder
objects-array.json:3 rbac.authorization.k8s.io/v1 RoleBinding ci/builder-admin
documents 2, not understood 0
`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			set, err := Load(context.Background(), []string{"testdata/dumps/" + tt.file}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range set.Objects {
				o.File = strings.TrimPrefix(o.File, "testdata/dumps/")
			}
			if got := describe(set); got != tt.want {
				t.Errorf("got:\n%swant:\n%s", got, tt.want)
			}
		})
	}
}

// TestLoadTypedListItems checks what a typed list's items become: their
// type inferred, in the JSON too, and their fields' lines their own.
func TestLoadTypedListItems(t *testing.T) {
	set, err := Load(context.Background(), []string{"testdata/dumps/podlist.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) != 2 {
		t.Fatalf("objects: %s", describe(set))
	}
	web, debug := set.Objects[0], set.Objects[1]
	lines := []struct {
		o    *Object
		path string
		want int
	}{
		{web, "spec.containers[0].securityContext.privileged", 48},
		{web, "metadata.ownerReferences[0].kind", 36},
		{web, "spec.containers[0].securityContext.runAsUser", 47},
		{debug, "spec.hostNetwork", 102},
		{debug, "kind", 84},
		{debug, "spec", 92},
	}
	for _, l := range lines {
		if got := l.o.LineOf(l.path); got != l.want {
			t.Errorf("%s: line of %s = %d, want %d", l.o.Name, l.path, got, l.want)
		}
	}
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(web.JSON, &obj); err != nil {
		t.Fatalf("invalid JSON %s: %v", web.JSON, err)
	}
	if obj.APIVersion != "v1" || obj.Kind != "Pod" || obj.Metadata.Name != "web-7d4b9c8f6d-x2k9p" {
		t.Errorf("JSON type %q %q name %q", obj.APIVersion, obj.Kind, obj.Metadata.Name)
	}
	if !bytes.HasPrefix(web.JSON, []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{`)) {
		t.Errorf("JSON does not start with the inferred type: %.80s", web.JSON)
	}
}

func TestLoadListsAndNonManifests(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                string
	}{
		{"typed list, items typed by the list", "l.yaml", "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: a}\n- kind: Deployment\n  metadata: {name: b}\n", `l.yaml:4 apps/v1 Deployment /a
l.yaml:5 apps/v1 Deployment /b
documents 1, not understood 0
`},
		{"typed list item keeps its own type", "l.yaml", "apiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1beta1, kind: Other, metadata: {name: a}}\n", `l.yaml:4 v1beta1 Other /a
documents 1, not understood 0
`},
		{"rbac typed lists", "l.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBindingList\nitems:\n- metadata: {name: a}\n  roleRef: {kind: ClusterRole, name: cluster-admin}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleList\nitems:\n- metadata: {name: r, namespace: n}\n", `l.yaml:4 rbac.authorization.k8s.io/v1 ClusterRoleBinding /a
l.yaml:10 rbac.authorization.k8s.io/v1 Role n/r
documents 2, not understood 0
`},
		{"empty typed lists", "l.yaml", "apiVersion: v1\nkind: PodList\nitems: []\n---\napiVersion: v1\nkind: ServiceList\nitems: null\nmetadata: {resourceVersion: \"1\"}\n", `documents 2, not understood 0
`},
		{"kind: List item without type", "l.yaml", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: ok}\n- apiVersion: apps/v1\n  metadata: {name: nokind}\n- kind: Pod\n  metadata: {name: noversion}\n- metadata: {name: neither}\n- just a string\n", `l.yaml:4 v1 Pod /ok
l.yaml:7 error: document 1: List item 2: apiVersion apps/v1 but no kind (an item of kind: List must name its own); not read
l.yaml:9 error: document 1: List item 3: kind Pod but no apiVersion (an item of kind: List must name its own); not read
l.yaml:11 error: document 1: List item 4: no apiVersion and no kind (an item of kind: List must name its own); not read
l.yaml:12 error: document 1: List item 5 is a scalar, not an object; not read
documents 1, not understood 4
`},
		{"list items not a list", "l.yaml", "apiVersion: v1\nkind: PodList\nitems: {a: b}\n", `l.yaml:3 error: document 1: PodList whose items is a mapping, not a list; not read
documents 1, not understood 1
`},
		{"objects missing a type", "o.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: apps/v1\nmetadata: {name: b}\n---\nkind: Deployment\nspec: {}\n---\nmetadata: {name: c}\n", `o.yaml:1 v1 Pod /a
o.yaml:5 error: document 2: apiVersion apps/v1 but no kind; not read
o.yaml:8 error: document 3: kind Deployment but no apiVersion; not read
o.yaml:11 error: document 4: no apiVersion and no kind; not read
documents 4, not understood 3
`},
		{"null is no value", "n.yaml", "apiVersion: v1\nkind: ~\nmetadata: {name: a}\n---\napiVersion: null\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: ~\n  namespace: null\n", `n.yaml:8 v1 Pod /
n.yaml:1 error: document 1: apiVersion v1 but no kind; not read
n.yaml:5 error: document 2: kind Pod but no apiVersion; not read
documents 3, not understood 2
`},
		{"typed list without apiVersion", "o.yaml", "kind: PodList\nitems:\n- metadata: {name: a}\n", `o.yaml:1 error: document 1: kind PodList but no apiVersion; not read
documents 1, not understood 1
`},
		{"values file is a note", "values.yaml", "replicaCount: 1\nimage:\n  repository: nginx\n", `values.yaml:1 note: document 1 is not a Kubernetes object (no apiVersion, kind or metadata: a values or configuration file?); skipped
documents 1, not understood 0
`},
		{"package.json is a note", "package.json", "{\n  \"name\": \"x\",\n  \"version\": \"1.0.0\"\n}\n", `package.json:1 note: document 1 is not a Kubernetes object (no apiVersion, kind or metadata: a values or configuration file?); skipped
documents 1, not understood 0
`},
		{"JSON array of strings is a note", "a.json", "[\"a\",\n \"b\", 3]\n", `a.json:1 note: JSON array at line 1: 3 elements are not objects, so not Kubernetes manifests; skipped
documents 0, not understood 0
`},
		{"scalar JSON is a note", "s.json", "42\n", `s.json:1 note: document 1 is a scalar, not a Kubernetes object; skipped
documents 1, not understood 0
`},
		{"empty documents are silent", "e.yaml", "---\n# nothing\n---\n~\n---\n{}\n---\n", `documents 0, not understood 0
`},
		{"JSON array of objects, one with a type missing", "a.json", "[\n {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}},\n {\"kind\": \"Pod\"},\n {},\n \"x\"\n]\n", `a.json:2 v1 Pod /a
a.json:3 error: JSON array element 2: kind Pod but no apiVersion; not read
a.json:5 note: JSON array at line 1: 1 elements are not objects, so not Kubernetes manifests; skipped
documents 2, not understood 1
`},
		{"JSON arrays and objects in one stream", "a.json", "  [{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}]\n{\"apiVersion\": \"v1\", \"kind\": \"PodList\", \"items\": [\n {\"metadata\": {\"name\": \"b\"}}]}\n[]\n", `a.json:1 v1 Pod /
a.json:3 v1 Pod /b
documents 2, not understood 0
`},
		{"JSON lists read item by item", "l.json", "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}},\n {\"metadata\": {\"name\": \"b\"}}, 7]}\n{\"kind\": \"ServiceList\", \"apiVersion\": \"v1\", \"items\": [{\"metadata\": {\"name\": \"s\", \"name\": \"t\"}}, {\"metadata\": {\"name\": \"u\"}}]}\n", `l.json:2 v1 Pod /a
l.json:4 v1 Service /u
l.json:3 error: document 1: List item 2: no apiVersion and no kind (an item of kind: List must name its own); not read
l.json:3 error: document 1: List item 3 is a scalar, not an object; not read
l.json:4 error: document 2: ServiceList item 1: duplicate key "name"
documents 2, not understood 3
`},
		{"JSON lists that are not read item by item", "l.json", "{\"apiVersion\": \"v1\", \"kind\": \"PodList\", \"items\": []}\n{\"apiVersion\": \"v1\", \"kind\": \"PodList\", \"items\": [{}], \"items\": []}\n{\"apiVersion\": 1, \"kind\": \"PodList\", \"items\": [{}]}\n{\"kind\": \"PodList\", \"items\": [{}]}\n", `l.json:3 1 Pod /
l.json:2 error: document 2: duplicate key "items"
l.json:4 error: document 4: kind PodList but no apiVersion; not read
documents 4, not understood 2
`},
		{"JSON array cut short", "a.json", "[{\"apiVersion\": \"v1\", \"kind\": \"Pod\"},\n", `a.json:1 v1 Pod /
a.json:1 error: invalid JSON: unexpected EOF
documents 1, not understood 1
`},
		{"UTF-16LE with CRLF, as PowerShell 5 redirects kubectl", "ps.yaml", utf16Text(binary.LittleEndian, "apiVersion: v1\r\nitems:\r\n- metadata:\r\n    name: p\r\n  spec:\r\n    hostPID: true\r\nkind: PodList\r\n"), `ps.yaml:3 v1 Pod /p
documents 1, not understood 0
`},
		{"UTF-16BE JSON", "be.json", utf16Text(binary.BigEndian, "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"ü\"}}"), `be.json:1 v1 Namespace /ü
documents 1, not understood 0
`},
		{"CRLF typed list", "crlf.yaml", "apiVersion: v1\r\nkind: ServiceList\r\nitems:\r\n- metadata: {name: s}\r\n", `crlf.yaml:4 v1 Service /s
documents 1, not understood 0
`},
		{"JSON with a byte order mark", "bom.json", "\ufeff{\"apiVersion\": \"v1\",\n \"kind\": \"Namespace\", \"metadata\": {\"name\": \"n\"}}\n", `bom.json:1 v1 Namespace /n
documents 1, not understood 0
`},
		{"YAML with a byte order mark", "bom.yaml", "\ufeffapiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n", `bom.yaml:1 v1 Namespace /n
documents 1, not understood 0
`},
		{"YAML flow mapping is not JSON", "f.yaml", "{apiVersion: v1, kind: Namespace,\n metadata: {name: n}}\n", `f.yaml:1 v1 Namespace /n
documents 1, not understood 0
`},
		{"invalid JSON after a good value", "bad.json", "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\"}\n{\"apiVersion\": \n", `bad.json:1 v1 Namespace /
bad.json:2 error: invalid JSON: unexpected EOF
documents 1, not understood 1
`},
		{"invalid JSON first", "bad.json", "{\"apiVersion\": \"v1\",\n \"kind\": }\n", `bad.json:2 error: invalid JSON: invalid character '}' looking for beginning of value
documents 0, not understood 1
`},
		{"multi-document mix", "mix.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n---\napiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p, namespace: n}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s, namespace: n}}\n- {apiVersion: v1, kind: ServiceAccountList, items: []}\n", `mix.yaml:1 v1 Namespace /n
mix.yaml:8 v1 Pod n/p
mix.yaml:13 v1 Service n/s
documents 3, not understood 0
`},
		// kubectl flattens a list inside kind: List; its items are typed by
		// the inner list.
		{"list nested in kind: List", "nested.yaml", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleList\n  items:\n  - metadata: {name: r}\n    rules: []\n", `nested.yaml:4 v1 Service /s
nested.yaml:10 rbac.authorization.k8s.io/v1 Role /r
documents 1, not understood 0
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := loadString(t, tt.file, tt.content)
			if got := describe(set); got != tt.want {
				t.Errorf("got:\n%swant:\n%s", got, tt.want)
			}
		})
	}
}

// TestLoadLimits checks that the item limit bounds documents, JSON array
// elements and list items, and that what is cut is said.
func TestLoadLimits(t *testing.T) {
	podList := "apiVersion: v1\nkind: PodList\nitems:\n" + strings.Repeat("- metadata: {name: p}\n", 5)
	tests := []struct {
		name, file, content string
		want                string
	}{
		{"documents", "d.yaml", strings.Repeat("apiVersion: v1\nkind: Pod\n---\n", 5), `d.yaml:1 v1 Pod /
d.yaml:4 v1 Pod /
d.yaml:7 v1 Pod /
d.yaml:9 error: more than 3 documents, list items or JSON array elements in one file: the last 2, from this line on, were not read
documents 3, not understood 2
`},
		{"array elements", "a.json", "[" + strings.Repeat("{},\n", 5) + "{}]", `a.json:4 error: more than 3 documents, list items or JSON array elements in one file: the last 3, from this line on, were not read
documents 0, not understood 3
`},
		{"list items", "l.yaml", podList, `l.yaml:4 v1 Pod /p
l.yaml:5 v1 Pod /p
l.yaml:6 v1 Pod /p
l.yaml:7 error: document 1: PodList has 5 items: the last 2, from this line on, were not read
documents 1, not understood 2
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(tt.content), MaxItems: 3})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(describe(set), "<stdin>", tt.file)
			if got != tt.want {
				t.Errorf("got:\n%swant:\n%s", got, tt.want)
			}
		})
	}
}

// TestLoadMillionEmptyObjects reads a JSON array of a million empty
// objects with the default limits: it is cut, and the cut is an error.
func TestLoadMillionEmptyObjects(t *testing.T) {
	data := "[" + strings.Repeat("{},", 1_000_000-1) + "{}]"
	set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) != 0 || set.NotUnderstood != 1_000_000-defaultMaxItems || len(set.Problems) != 1 || set.Problems[0].Level != finding.LevelError {
		t.Errorf("got %d objects, %d not understood, problems %v", len(set.Objects), set.NotUnderstood, set.Problems)
	}
}

// TestLoadLargeJSONList reads a JSON PodList larger than the 4 MiB limit
// of one document, as `kubectl get pods -A -o json` gives on a cluster of
// a few hundred pods: its items are read one by one, each with its line.
func TestLoadLargeJSONList(t *testing.T) {
	var b strings.Builder
	b.WriteString("{\n \"apiVersion\": \"v1\",\n \"items\": [\n")
	const n = 1500
	pad := strings.Repeat("x", 4000)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "  {\"metadata\": {\"name\": \"p%d\", \"namespace\": \"n\", \"annotations\": {\"a\": %q}},\n   \"spec\": {\"hostPID\": true}}", i, pad)
	}
	b.WriteString("\n ],\n \"kind\": \"PodList\",\n \"metadata\": {\"resourceVersion\": \"9\"}\n}\n")
	if b.Len() <= maxDocumentBytes {
		t.Fatalf("test list is only %d bytes", b.Len())
	}
	set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(b.String())})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) != n || len(set.Problems) != 0 || set.Documents != 1 || set.NotUnderstood != 0 {
		t.Fatalf("%d objects, %d documents, %d not understood, problems %v", len(set.Objects), set.Documents, set.NotUnderstood, set.Problems)
	}
	for i, o := range set.Objects {
		line := 4 + 2*i
		if o.Kind != "Pod" || o.APIVersion != "v1" || o.Name != fmt.Sprintf("p%d", i) || o.Line != line || o.LineOf("spec.hostPID") != line+1 || o.Index != i {
			t.Fatalf("item %d: %s %s %s line %d, hostPID line %d, index %d; want line %d", i, o.APIVersion, o.Kind, o.Name, o.Line, o.LineOf("spec.hostPID"), o.Index, line)
		}
	}
}

// TestJSONListSplitMatchesWhole checks that a JSON list read item by item
// gives exactly the objects and problems of the same list parsed whole.
func TestJSONListSplitMatchesWhole(t *testing.T) {
	dump, err := os.ReadFile("testdata/dumps/namespaces.json")
	if err != nil {
		t.Fatal(err)
	}
	lists := []string{
		string(dump),
		"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n {\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {\"name\": \"a\"},\n  \"spec\": {\"template\": {\"spec\": {\"containers\": [{\"name\": \"c\"}]}}}},\n {\"kind\": \"Pod\"}, [], null,\n {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"kind\": \"Pod\"}]}",
		"{\"items\": [{\"metadata\": {\"name\": \"x\"}, \"kind\": \"\"}, {\"apiVersion\": \"v2\", \"kind\": null}], \"kind\": \"RoleList\", \"apiVersion\": \"rbac.authorization.k8s.io/v1\"}",
		"{\"kind\": \"PodList\", \"apiVersion\": \"v1\", \"metadata\": {\"continue\": \"abc\", \"remainingItemCount\": 3},\n \"items\": [\n  {\"metadata\": {\"name\": \"a\"}}, {\"metadata\": {\"name\": \"b\"}}]}",
		"{\"kind\": \"PodList\", \"apiVersion\": \"v1\", \"metadata\": {\"continue\": \"abc\"},\n \"items\": [{}]}",
	}
	for i, list := range lists {
		set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(list)})
		if err != nil {
			t.Fatal(err)
		}
		whole := parseDocumentYAML(docJob{file: "<stdin>", doc: document{startLine: 1, num: 1, data: []byte(list)}})
		sameResult(t, fmt.Sprintf("list %d", i), docResult{objects: set.Objects, problems: set.Problems, notUnderstood: set.NotUnderstood}, whole)
	}
}

// sameResult compares a list read item by item with the list parsed whole.
func sameResult(t *testing.T, name string, split, whole docResult) {
	t.Helper()
	if len(whole.objects) != len(split.objects) || fmt.Sprint(whole.problems) != fmt.Sprint(split.problems) || whole.notUnderstood != split.notUnderstood {
		t.Fatalf("%s: split gives %d objects, problems %v; whole %d, %v", name, len(split.objects), split.problems, len(whole.objects), whole.problems)
	}
	for k, o := range split.objects {
		w := whole.objects[k]
		if !bytes.Equal(o.JSON, w.JSON) || o.Line != w.Line || o.Name != w.Name || o.APIVersion != w.APIVersion || o.Kind != w.Kind {
			t.Errorf("%s item %d: split %d %s, whole %d %s", name, k, o.Line, o.JSON, w.Line, w.JSON)
		}
		for _, path := range fieldPaths(t, o.JSON) {
			if o.LineOf(path) != w.LineOf(path) {
				t.Errorf("%s item %d: line of %s split %d, whole %d", name, k, path, o.LineOf(path), w.LineOf(path))
			}
		}
	}
}

// TestLoadListAliasBudget checks that the items of one list share the
// document's alias expansion budget: ten items aliasing an anchor of
// 600,000 nodes must not cost six million.
func TestLoadListAliasBudget(t *testing.T) {
	doc := "apiVersion: v1\nkind: PodList\nmetadata:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e"} {
		doc += fmt.Sprintf("  %s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	doc += "  f: &f [*e, *e, *e, *e, *e, *e]\nitems:\n"
	for i := range 10 {
		doc += fmt.Sprintf("- {metadata: {name: p%d}, spec: *f}\n", i)
	}
	set := loadString(t, "bomb.yaml", doc)
	want := `bomb.yaml:11 v1 Pod /p0
bomb.yaml:12 error: document 1: PodList item 2: document expands to too many nodes (alias bomb?)
bomb.yaml:13 error: document 1: PodList expands to too many nodes (alias bomb?): the last 8 items, from this line on, were not read
documents 1, not understood 9
`
	if got := describe(set); got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
}

// TestYAMLListSplitMatchesWhole checks that a YAML list split into its
// items (as lists over 4 MiB are; here with a limit just past "items:") gives
// exactly the objects and problems of the same list parsed whole.
func TestYAMLListSplitMatchesWhole(t *testing.T) {
	var lists []string
	for _, f := range []string{"testdata/dumps/podlist.yaml", "testdata/dumps/get-all.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lists = append(lists, string(data))
	}
	lists = append(lists,
		"kind: PodList\napiVersion: v1\nitems:\n  - metadata:\n      name: a\n    spec:\n      containers:\n        - name: c\n          args:\n            - |\n              x\n              - y\n\n  # a comment\n  - metadata: {name: b}\n  -\n    metadata: {name: c}\n  - x\n",
		"apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: ok}\n- metadata: {name: nokind}\n-   kind: Pod\n    apiVersion: v1\n- [a]\n- {apiVersion: v1, kind: Secret, metadata: {name: s}, data: {a: b}}\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
		"apiVersion: v1\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\nkind: PodList\nmetadata:\n  continue: abc\n  remainingItemCount: 7\n",
		"apiVersion: v1\nkind: PodList\nitems:\n-\n- \n- # c\n- ~\n- metadata: {name: a}\n",
	)
	for i, list := range lists {
		whole := parseDocumentYAML(docJob{file: "l.yaml", doc: document{startLine: 1, num: 1, data: []byte(list)}})
		var split docResult
		docs := 0
		// Past the limit only a document that has shown its "items:"
		// may grow: the limit is just after it.
		limit := strings.Index(list, "\nitems:") + 10
		err := yamlSplitter{limit: limit, listLimit: 1 << 20}.split(strings.NewReader(list), func(d document) error {
			docs++
			if d.oversized || d.list == nil {
				t.Fatalf("list %d: not split: %+v", i, d)
			}
			r := parseDocumentYAML(docJob{file: "l.yaml", doc: d})
			split.objects = append(split.objects, r.objects...)
			split.problems = append(split.problems, r.problems...)
			split.notUnderstood += r.notUnderstood
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if docs < 2 {
			t.Fatalf("list %d: cut into %d documents", i, docs)
		}
		sameResult(t, fmt.Sprintf("list %d", i), split, whole)
	}
}

// TestLoadLargeYAMLList reads a YAML PodList larger than the 4 MiB limit
// of one document, as `kubectl get pods -A -o yaml` gives on a cluster of
// a few hundred pods, with its kind after the items as kubectl writes it.
func TestLoadLargeYAMLList(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nitems:\n")
	const n = 1200
	pad := strings.Repeat("x", 4000)
	for i := range n {
		fmt.Fprintf(&b, "- metadata:\n    annotations:\n      a: %s\n    name: p%d\n  spec:\n    hostPID: true\n", pad, i)
	}
	b.WriteString("kind: PodList\nmetadata:\n  resourceVersion: \"9\"\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: after}\n")
	if b.Len() <= maxDocumentBytes {
		t.Fatalf("test list is only %d bytes", b.Len())
	}
	set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(b.String())})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) != n+1 || len(set.Problems) != 0 || set.Documents != 2 || set.NotUnderstood != 0 {
		t.Fatalf("%d objects, %d documents, %d not understood, problems %v", len(set.Objects), set.Documents, set.NotUnderstood, set.Problems)
	}
	for i, o := range set.Objects[:n] {
		line := 3 + 6*i
		if o.Kind != "Pod" || o.APIVersion != "v1" || o.Name != fmt.Sprintf("p%d", i) || o.Line != line || o.LineOf("spec.hostPID") != line+5 {
			t.Fatalf("item %d: %s %s %s line %d, hostPID line %d; want line %d", i, o.APIVersion, o.Kind, o.Name, o.Line, o.LineOf("spec.hostPID"), line)
		}
	}
	if last := set.Objects[n]; last.Kind != "Namespace" || last.Name != "after" {
		t.Errorf("after the list: %+v", last)
	}
}

// TestLoadAPIServerCaptures reads lists exactly as a real kube-apiserver
// returned them (testdata/apiserver/README.md).
func TestLoadAPIServerCaptures(t *testing.T) {
	tests := []struct {
		file       string
		want       string
		privileged int // line of debug's privileged: true, 0 to skip
	}{
		{"pods.json", "pods.json:1 v1 Pod shop/debug\npods.json:1 v1 Pod shop/web\ndocuments 1, not understood 0\n", 1},
		{"pods.yaml", "pods.yaml:3 v1 Pod shop/debug\npods.yaml:76 v1 Pod shop/web\ndocuments 1, not understood 0\n", 53},
		// Read with ?limit=2: what is missing is said.
		{"clusterroles.yaml", `clusterroles.yaml:3 rbac.authorization.k8s.io/v1 ClusterRole /admin
clusterroles.yaml:34 rbac.authorization.k8s.io/v1 ClusterRole /cluster-admin
clusterroles.yaml:3 warning: document 1: ClusterRoleList is one page of a longer list: metadata.continue is set and 71 more items are not in the input
documents 1, not understood 0
`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			set, err := Load(context.Background(), []string{"testdata/apiserver/" + tt.file}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range set.Objects {
				o.File = strings.TrimPrefix(o.File, "testdata/apiserver/")
			}
			for i := range set.Problems {
				set.Problems[i].File = strings.TrimPrefix(set.Problems[i].File, "testdata/apiserver/")
			}
			if got := describe(set); got != tt.want {
				t.Errorf("got:\n%swant:\n%s", got, tt.want)
			}
			if tt.privileged > 0 {
				if got := set.Objects[0].LineOf("spec.containers[0].securityContext.privileged"); got != tt.privileged {
					t.Errorf("line of privileged = %d, want %d", got, tt.privileged)
				}
			}
		})
	}
}
