package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
)

// A finding in an object that a kustomize patch changed belongs to the
// patch when the patch caused it: a developer fixes it in the overlay, not
// in the base file kustomize's origin names. Which findings a patch
// caused is decided by the scan (internal/scan), which evaluates the
// object once more as it would be without that patch; the renderer
// provides that version of the object and the patch's location.

// Bounds of the rebuilds done to find what patches changed: kustomize
// builds are fast, but an overlay tree with hundreds of patches must not
// multiply the work of a scan without bound.
const (
	maxPatchRebuilds      = 32
	maxKustomizationFiles = 64
)

// Patched is an object changed by one kustomize patch, as it would be
// without that patch.
type Patched struct {
	// Stream is the name of the rendered stream (the File of the findings)
	// the patched object is in.
	Stream string
	// Unpatched is the object rendered without the patch, as YAML.
	Unpatched []byte
	// Patch is the patch.
	Patch *Patch
}

// Patch is one patch of a kustomization file (patches,
// patchesStrategicMerge or patchesJson6902), parsed to locate fields in it.
type Patch struct {
	// File is the patch file, or the kustomization file for an inline patch.
	File string
	// Line is where the patch starts in File.
	Line int
	// Kustomization is the kustomization file that applies the patch.
	Kustomization string

	doc    *yaml.Node // the patch's first document; nil when it does not parse
	offset int        // lines before the patch text in File (inline patches)
}

// Locate returns the line in the patch that sets field, a path such as
// "spec.template.spec.containers[0].securityContext.privileged": the
// deepest part of the path the patch writes (for a JSON 6902 patch, the
// operation whose path is the field, a parent or a child of it), or the
// patch's own line.
func (p *Patch) Locate(field string) int {
	if p.doc == nil {
		return p.Line
	}
	if p.doc.Kind == yaml.SequenceNode {
		return p.locateOperation(field)
	}
	n := p.doc
	line := n.Line
	for _, step := range fieldSteps(field) {
		n = child(n, step)
		if n == nil {
			break
		}
		line = n.Line
	}
	return p.offset + line
}

// locateOperation finds the JSON 6902 operation closest to field: the
// deepest one that writes the field or a parent of it, else the
// shallowest one that writes inside it.
func (p *Patch) locateOperation(field string) int {
	above, aboveLen := 0, -1
	below, belowLen := 0, -1
	for _, op := range p.doc.Content {
		path := child(op, "path")
		if path == nil || path.Kind != yaml.ScalarNode {
			continue
		}
		f := pointerToField(path.Value)
		switch {
		case f == field || within(field, f):
			if len(f) > aboveLen {
				above, aboveLen = p.offset+op.Line, len(f)
			}
		case within(f, field):
			if belowLen < 0 || len(f) < belowLen {
				below, belowLen = p.offset+op.Line, len(f)
			}
		}
	}
	switch {
	case aboveLen >= 0:
		return above
	case belowLen >= 0:
		return below
	}
	return p.Line
}

// within reports whether field path a lies inside field path b.
func within(a, b string) bool {
	return b == "" || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[")
}

// fieldSteps splits "a.b[0].c" into "a", "b", "[0]", "c".
func fieldSteps(field string) []string {
	var steps []string
	for _, part := range strings.Split(field, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			switch {
			case i < 0:
				steps = append(steps, part)
				part = ""
			case i > 0:
				steps = append(steps, part[:i])
				part = part[i:]
			default:
				j := strings.IndexByte(part, ']')
				if j < 0 {
					return steps
				}
				steps = append(steps, part[:j+1])
				part = part[j+1:]
			}
		}
	}
	return steps
}

// child steps into a mapping by key or a sequence by "[i]". A strategic
// merge patch lists only the elements it changes, so an index beyond the
// patch's list is the list's only element when there is one.
func child(n *yaml.Node, step string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == step {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		idx, err := strconv.Atoi(strings.Trim(step, "[]"))
		if err != nil || !strings.HasPrefix(step, "[") {
			return nil
		}
		switch {
		case idx >= 0 && idx < len(n.Content):
			return n.Content[idx]
		case len(n.Content) == 1:
			return n.Content[0]
		}
	}
	return nil
}

// pointerToField turns a JSON pointer (/spec/containers/0/image) into a
// field path (spec.containers[0].image).
func pointerToField(ptr string) string {
	var b strings.Builder
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		if _, err := strconv.Atoi(tok); err == nil || tok == "-" {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// patchEntry is one patch of a kustomization file and how to leave it out.
type patchEntry struct {
	patch *Patch
	// drop leaves the patch out of a build.
	drop dropPatch
}

// dropPatch names the element of a kustomization file's patch list that a
// build leaves out.
type dropPatch struct {
	file  string // absolute path of the kustomization file
	field string // patches, patchesStrategicMerge or patchesJson6902
	index int
}

// patchFields are the kustomization fields that hold patches.
var patchFields = []string{"patches", "patchesStrategicMerge", "patchesJson6902"}

// patchesOf lists the patches of an overlay and of its local bases and
// components. Paths are reported as the input named the overlay (relative
// when it was).
func patchesOf(dir string) []patchEntry {
	var out []patchEntry
	seen := map[string]bool{}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		key, _ := filepath.Abs(dir)
		if depth > maxKustomizeDepth || seen[key] || len(seen) >= maxKustomizationFiles {
			return
		}
		seen[key] = true
		kfile := kustomizationFile(dir)
		if kfile == "" {
			return
		}
		data, err := os.ReadFile(kfile)
		if err != nil {
			return
		}
		var root yaml.Node
		if yaml.Unmarshal(data, &root) != nil || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
			return
		}
		absK, _ := filepath.Abs(kfile)
		k := root.Content[0]
		for _, field := range patchFields {
			list := child(k, field)
			if list == nil || list.Kind != yaml.SequenceNode {
				continue
			}
			for i, e := range list.Content {
				if p := patchOf(dir, kfile, e); p != nil {
					out = append(out, patchEntry{patch: p, drop: dropPatch{file: absK, field: field, index: i}})
				}
			}
		}
		for _, field := range []string{"resources", "bases", "components"} {
			list := child(k, field)
			if list == nil || list.Kind != yaml.SequenceNode {
				continue
			}
			for _, e := range list.Content {
				sub := filepath.Join(dir, filepath.FromSlash(e.Value))
				if info, err := os.Stat(sub); err == nil && info.IsDir() {
					walk(sub, depth+1)
				}
			}
		}
	}
	walk(dir, 0)
	return out
}

// patchOf reads one element of a patch list: a mapping with path or patch
// (patches, patchesJson6902), or a string that is a path or an inline
// patch (patchesStrategicMerge).
func patchOf(dir, kfile string, e *yaml.Node) *Patch {
	var path string
	var inline *yaml.Node
	switch e.Kind {
	case yaml.MappingNode:
		if n := child(e, "path"); n != nil {
			path = n.Value
		} else if n := child(e, "patch"); n != nil {
			inline = n
		}
	case yaml.ScalarNode:
		if strings.Contains(e.Value, "\n") || strings.Contains(e.Value, ":") {
			inline = e
		} else {
			path = e.Value
		}
	}
	switch {
	case path != "":
		file := filepath.Join(dir, filepath.FromSlash(path))
		data, err := os.ReadFile(file)
		if err != nil {
			return nil // kustomize reports it
		}
		p := &Patch{File: file, Line: 1, Kustomization: kfile}
		p.doc = firstDocument(data)
		if p.doc != nil {
			p.Line = p.doc.Line
		}
		return p
	case inline != nil:
		p := &Patch{File: kfile, Line: e.Line, Kustomization: kfile}
		p.doc = firstDocument([]byte(inline.Value))
		// A block scalar's text starts on the line after its indicator.
		p.offset = inline.Line - 1
		if inline.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			p.offset = inline.Line
		}
		return p
	}
	return nil
}

func firstDocument(data []byte) *yaml.Node {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) != 1 {
		return nil
	}
	return doc.Content[0]
}

// unpatched rebuilds the overlay once without each patch and returns the
// objects each patch changed, as they are without it. Objects are matched
// by their final ID; an object a patch renames or creates is left out.
// full maps the final IDs of the full build to their stream and YAML.
// The objects kept are bounded to maxBytes of YAML in all: a patch that
// targets every object of a large overlay must not hold it 32 times.
func unpatched(k *krusty.Kustomizer, dir, abs string, full map[string]renderedObject, maxBytes int) []Patched {
	var out []Patched
	total := 0
	entries := patchesOf(dir)
	if len(entries) > maxPatchRebuilds {
		entries = entries[:maxPatchRebuilds]
	}
	for _, e := range entries {
		m, err := runKustomizeWith(k, abs, e.drop)
		if err != nil {
			continue // the patch is needed for the build to work at all
		}
		for _, r := range m.Resources() {
			f, ok := full[r.CurId().String()]
			if !ok {
				continue
			}
			if err := r.SetOrigin(nil); err != nil {
				continue
			}
			y, err := r.AsYAML()
			if err != nil || string(y) == string(f.yaml) {
				continue
			}
			if total += len(y); total > maxBytes {
				return out
			}
			out = append(out, Patched{Stream: f.stream, Unpatched: y, Patch: e.patch})
		}
	}
	return out
}

// renderedObject is one object of a full build: its stream and YAML.
type renderedObject struct {
	stream string
	yaml   []byte
}

// runKustomizeWith is runKustomize with one patch left out.
func runKustomizeWith(k *krusty.Kustomizer, dir string, drop dropPatch) (m resmap.ResMap, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	fs := originFS{FileSystem: diskFS(), drop: &drop}
	return k.Run(fs, dir)
}

// apply removes the dropped patch from a kustomization file's
// content, already decoded.
func (d *dropPatch) apply(path string, k map[string]any) {
	if d == nil {
		return
	}
	if abs, err := filepath.Abs(path); err != nil || abs != d.file {
		return
	}
	list, ok := k[d.field].([]any)
	if !ok || d.index >= len(list) {
		return
	}
	k[d.field] = append(append([]any{}, list[:d.index]...), list[d.index+1:]...)
}
