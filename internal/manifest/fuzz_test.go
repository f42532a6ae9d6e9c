package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// FuzzLoad feeds arbitrary bytes to the whole loader as standard input: it
// must not panic, and what it returns must stay bounded by the input.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n"))
	f.Add([]byte("{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}}\n"))
	f.Add([]byte("a: &a [x, *a]\n"))
	// Typed lists, kind: List with mixed and broken items, JSON arrays.
	f.Add([]byte("apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n  spec: {containers: [{name: c, securityContext: {privileged: true}}]}\n- kind: Pod\n  metadata: {name: b}\n- ~\nmetadata: {resourceVersion: \"1\"}\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}\n- {apiVersion: v1, metadata: {name: nokind}}\n- {kind: Pod}\n- x\n- {apiVersion: v1, kind: PodList, items: [{metadata: {name: nested}}]}\nmetadata: {resourceVersion: \"\"}\n"))
	f.Add([]byte("apiVersion: apps/v1\nkind: DeploymentList\nitems: {a: b}\n---\napiVersion: v1\nkind: ServiceList\nitems: null\n---\nkind: RoleList\nitems: []\n---\nmetadata: {name: m}\n---\nreplicas: 1\n"))
	f.Add([]byte("[{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}},\n {\"kind\": \"Pod\"}, {}, \"s\", 1, [2], null]\n{\"apiVersion\": \"v1\", \"kind\": \"NamespaceList\", \"items\": [{\"metadata\": {\"name\": \"n\"}}]}\n[]"))
	f.Add([]byte("\ufeff{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\"}]}\n]"))
	f.Add([]byte("---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n---\n# Source: c/templates/b.yaml\n"))
	f.Add([]byte("{apiVersion: v1, kind: PodList, items: [{metadata: {name: flow}}]}\n"))
	// UTF-16 with a byte order mark, odd length, lone surrogate.
	f.Add([]byte("\xff\xfek\x00i\x00n\x00d\x00:\x00 \x00X\x00\n\x00\x00\xd8"))
	f.Add([]byte("\xfe\xff\x00{\x00}\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: bytes.NewReader(data), Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, o := range set.Objects {
			size += len(o.JSON)
			if o.Line < 1 || o.APIVersion == "" || o.Kind == "" {
				t.Fatalf("object %+v", o)
			}
			o.LineOf("spec.template.spec.containers[0].image")
			// The JSON is an object whose type is the Object's, inferred
			// or not.
			var meta struct{ APIVersion, Kind any }
			if err := json.Unmarshal(o.JSON, &meta); err != nil {
				t.Fatalf("invalid JSON %s: %v", o.JSON, err)
			}
			if meta.APIVersion == nil || meta.Kind == nil || !typeMatches(meta.APIVersion, o.APIVersion) || !typeMatches(meta.Kind, o.Kind) {
				t.Fatalf("JSON type %v %v, object %q %q: %s", meta.APIVersion, meta.Kind, o.APIVersion, o.Kind, o.JSON)
			}
		}
		errs := 0
		for _, p := range set.Problems {
			if p.Line < 0 || p.File == "" || p.Message == "" {
				t.Fatalf("problem %+v", p)
			}
			if p.Level == finding.LevelError {
				errs++
			}
		}
		// Every document or item not understood has an error; an error
		// may stand for several cut at once, and a file that cannot be
		// read at all (binary) is an error that counts no document.
		if (set.NotUnderstood > 0 && errs == 0) || set.Documents < 0 {
			t.Fatalf("%d not understood, %d errors: %v", set.NotUnderstood, errs, set.Problems)
		}
		if len(set.Objects) > len(data) || size > 4*maxDocumentBytes*(1+len(set.Objects)) {
			t.Fatalf("%d objects, %d bytes of JSON from %d bytes", len(set.Objects), size, len(data))
		}
	})
}

// typeMatches reports whether a JSON value is the Object's apiVersion or
// kind: the same string, or a scalar of another type (apiVersion: 1).
func typeMatches(v any, s string) bool {
	if str, ok := v.(string); ok {
		return str == s
	}
	return true
}

// FuzzYAMLListSplit cuts arbitrary YAML as lists over the document limit
// are cut (with a limit of 16 bytes): it must not panic, every item must be
// a document of its own list with a line inside the input, and what the
// items parse to must be typed objects.
func FuzzYAMLListSplit(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nitems:\n- metadata: {name: a}\n  spec: {}\n- x\nkind: PodList\nmetadata: {}\n"))
	f.Add([]byte("kind: List\napiVersion: v1\nitems:\n  - apiVersion: v1\n    kind: Pod\n  # c\n  -\n    kind: Pod\n  - |\n    - x\n"))
	f.Add([]byte("apiVersion: v1\nitems:\n- &a {metadata: {name: a}}\n- *a\nitems:\n- b\nkind: PodList\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		err := yamlSplitter{limit: 16, listLimit: 1 << 20}.split(bytes.NewReader(data), func(d document) error {
			if d.startLine < 1 || d.startLine > lines {
				t.Fatalf("document at line %d of %d", d.startLine, lines)
			}
			if d.oversized || d.list == nil {
				return nil
			}
			r := parseDocumentYAML(docJob{file: "f.yaml", doc: d})
			for _, o := range r.objects {
				if o.Line < d.startLine || o.APIVersion == "" || o.Kind == "" {
					t.Fatalf("object %+v of item at line %d", o, d.startLine)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
