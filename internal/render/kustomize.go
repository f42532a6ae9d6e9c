package render

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/render/discover"
)

// maxKustomizeDepth bounds the chain of bases followed when checking an
// overlay for remote references (a cycle is kustomize's own error).
const maxKustomizeDepth = 32

// kustomizationRefs are the fields of a kustomization that name other
// files or directories, which is all the offline check reads.
type kustomizationRefs struct {
	Resources  []string `json:"resources"`
	Bases      []string `json:"bases"`
	Components []string `json:"components"`
}

// renderKustomize builds one overlay as `kustomize build` does (load
// restrictions: root only; plugins off), after refusing remote bases.
// Objects are grouped into one stream per file they came from (the
// origin kustomize records); generated objects go under the
// kustomization file.
//
// It also returns, for each patch of the overlay and its bases, the
// objects the patch changed as they would be without it (Patched), so
// findings the patch caused can be located in the patch.
func renderKustomize(ctx context.Context, src discover.Source, opts Options) ([]manifest.Stream, []Patched, []finding.Problem) {
	kfile := kustomizationFile(src.Path)
	fail := func(format string, args ...any) ([]manifest.Stream, []Patched, []finding.Problem) {
		return nil, nil, []finding.Problem{{File: kfile, Level: finding.LevelError,
			Message: fmt.Sprintf("kustomize overlay %s: ", src.Path) + fmt.Sprintf(format, args...)}}
	}
	if err := checkLocal(src.Path, map[string]bool{}, 0); err != nil {
		return fail("%v", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil
	}
	abs, err := filepath.Abs(src.Path)
	if err != nil {
		return fail("%v", err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := runKustomize(k, abs)
	if err != nil {
		return fail("build: %v", err)
	}
	type group struct {
		name string
		docs [][]byte
	}
	var groups []*group
	byName := map[string]*group{}
	full := map[string]renderedObject{}
	total := 0
	for _, r := range m.Resources() {
		name := kfile
		if o, err := r.GetOrigin(); err == nil && o != nil {
			name = originFile(src.Path, kfile, o)
		}
		if err := r.SetOrigin(nil); err != nil {
			return fail("%v", err)
		}
		y, err := r.AsYAML()
		if err != nil {
			return fail("%s: %v", r.CurId(), err)
		}
		full[r.CurId().String()] = renderedObject{stream: name, yaml: y}
		total += len(y)
		if total > opts.MaxOutputBytes {
			return fail("rendered output larger than %d MiB; not scanned", opts.MaxOutputBytes>>20)
		}
		g := byName[name]
		if g == nil {
			g = &group{name: name}
			byName[name] = g
			groups = append(groups, g)
		}
		g.docs = append(g.docs, y)
	}
	streams := make([]manifest.Stream, 0, len(groups))
	for _, g := range groups {
		streams = append(streams, manifest.Stream{Name: g.name, Data: bytes.Join(g.docs, []byte("---\n"))})
	}
	return streams, unpatched(k, src.Path, abs, full, opts.MaxOutputBytes), nil
}

// runKustomize runs the build with origin annotations switched on, so
// every object says which file it came from; a panic inside kustomize
// becomes this overlay's error.
func runKustomize(k *krusty.Kustomizer, dir string) (m resmap.ResMap, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	return k.Run(originFS{FileSystem: diskFS()}, dir)
}

func diskFS() filesys.FileSystem { return filesys.MakeFsOnDisk() }

// originFile resolves where an object came from to a path beside the
// input: the resource file for local resources, the kustomization that
// configured a generator, or the overlay's kustomization file.
func originFile(dir, kfile string, o *resource.Origin) string {
	switch {
	case o.Repo != "":
		return kfile
	case o.Path != "":
		return filepath.Clean(filepath.Join(dir, filepath.FromSlash(o.Path)))
	case o.ConfiguredIn != "":
		return filepath.Clean(filepath.Join(dir, filepath.FromSlash(o.ConfiguredIn)))
	}
	return kfile
}

// originFS is the disk, except that kustomization files read through it
// ask for origin annotations (buildMetadata: [originAnnotations]), and
// leave out one patch when drop says so.
type originFS struct {
	filesys.FileSystem
	drop *dropPatch
}

func (f originFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil || !slices.Contains(kustomizationFileNames, filepath.Base(path)) {
		return data, err
	}
	var k map[string]any
	if sigyaml.Unmarshal(data, &k) != nil || k == nil {
		return data, nil // kustomize reports the error itself
	}
	f.drop.apply(path, k)
	var md []any
	if v, ok := k["buildMetadata"].([]any); ok {
		md = v
	}
	if slices.Contains(md, any(types.OriginAnnotations)) && f.drop == nil {
		return data, nil
	}
	if !slices.Contains(md, any(types.OriginAnnotations)) {
		md = append(md, types.OriginAnnotations)
	}
	k["buildMetadata"] = md
	out, err := sigyaml.Marshal(k)
	if err != nil {
		return data, nil
	}
	return out, nil
}

// checkLocal refuses what kustomize would fetch: any resource, base or
// component that is not a file or directory on disk and looks like a
// repository or URL. Palisade renders offline, and a scan of what is
// committed must not depend on what a remote holds today. Entries that
// are neither local nor remote are reported as missing.
func checkLocal(dir string, seen map[string]bool, depth int) error {
	if depth > maxKustomizeDepth {
		return fmt.Errorf("bases nested deeper than %d", maxKustomizeDepth)
	}
	key, _ := filepath.Abs(dir)
	if seen[key] {
		return nil
	}
	seen[key] = true
	kfile := kustomizationFile(dir)
	if kfile == "" {
		return nil
	}
	data, err := os.ReadFile(kfile)
	if err != nil {
		return err
	}
	var refs kustomizationRefs
	if err := sigyaml.Unmarshal(data, &refs); err != nil {
		return fmt.Errorf("%s: %v", kfile, err)
	}
	for _, list := range [][]string{refs.Resources, refs.Bases, refs.Components} {
		for _, ref := range list {
			local := filepath.Join(dir, filepath.FromSlash(ref))
			info, err := os.Stat(local)
			switch {
			case err == nil && info.IsDir():
				if err := checkLocal(local, seen, depth+1); err != nil {
					return err
				}
			case err == nil:
			case looksRemote(ref):
				return fmt.Errorf("%s: remote base %q refused: Palisade renders offline and scans only what is committed; vendor the base into the repository", kfile, ref)
			default:
				return fmt.Errorf("%s: resource %q not found", kfile, ref)
			}
		}
	}
	return nil
}

// looksRemote reports whether a kustomize reference names a repository or
// URL rather than a path: a scheme, a git@ or git:: form, a ?ref= query,
// a .git path, or a host name as its first element.
func looksRemote(ref string) bool {
	switch {
	case strings.Contains(ref, "://"),
		strings.HasPrefix(ref, "git@"),
		strings.HasPrefix(ref, "git::"),
		strings.Contains(ref, "?ref="),
		strings.Contains(ref, "?version="),
		strings.Contains(ref, ".git/"), strings.HasSuffix(ref, ".git"):
		return true
	}
	first, _, _ := strings.Cut(ref, "/")
	return strings.Contains(first, ".") && first != "." && first != ".." && strings.Contains(ref, "/")
}
