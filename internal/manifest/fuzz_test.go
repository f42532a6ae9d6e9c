package manifest

import (
	"bytes"
	"context"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the whole loader as standard input: it
// must not panic, and what it returns must stay bounded by the input.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n"))
	f.Add([]byte("{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}}\n"))
	f.Add([]byte("a: &a [x, *a]\n"))
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
		}
		if len(set.Objects) > len(data) || size > 4*maxDocumentBytes*(1+len(set.Objects)) {
			t.Fatalf("%d objects, %d bytes of JSON from %d bytes", len(set.Objects), size, len(data))
		}
	})
}
