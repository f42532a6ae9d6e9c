package render

import (
	"testing"
)

// FuzzPatchLocate parses arbitrary text as a patch (strategic-merge or
// JSON 6902) and locates arbitrary field paths in it: no panic, and a
// line within the patch.
func FuzzPatchLocate(f *testing.F) {
	f.Add("apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        securityContext: {privileged: true}\n", "spec.template.spec.containers[3].securityContext.privileged", 0)
	f.Add("- op: add\n  path: /spec/template/spec/hostIPC\n  value: true\n- {op: remove, path: /spec/x~1y/0}\n", "spec.template.spec", 12)
	f.Add("[", "a[", 0)
	f.Add("a: [[[[]]]]\n", "a[0][0][-1]", 3)
	f.Fuzz(func(t *testing.T, text, field string, offset int) {
		if len(text) > 16<<10 || offset < 0 || offset > 1<<20 {
			return
		}
		p := &Patch{File: "k.yaml", Line: offset + 1, doc: firstDocument([]byte(text)), offset: offset}
		lines := 1
		for _, c := range text {
			if c == '\n' {
				lines++
			}
		}
		if l := p.Locate(field); l < 1 || l > offset+lines+1 {
			t.Fatalf("line %d for %q in a %d-line patch at offset %d", l, field, lines, offset)
		}
		_ = pointerToField(field)
	})
}
