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
