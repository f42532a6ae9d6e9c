package release

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Placeholder stands for the release's digest in committed manifests:
// `image: ghcr.io/palisade-sec/palisade@sha256:IMAGE_DIGEST_PLACEHOLDER`.
// The release step (RewriteDeploy) replaces it.
const Placeholder = "IMAGE_DIGEST_PLACEHOLDER"

// imageLine finds image references in YAML manifests: `image: REF`, with
// or without a list dash and quotes.
var imageLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*(?:-\s+)?image:\s*["']?([^"'\s#]+)`) })

var pinned = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`@sha256:([0-9a-f]{64}|` + Placeholder + `)$`) })

// ImageRef is one image reference in a manifest.
type ImageRef struct {
	File string
	Line int
	Ref  string
}

func (r ImageRef) String() string { return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Ref) }

// DeployImages lists every image reference in the YAML files under dir;
// in a Helm chart, the {repository, digest} images of its values files
// (its templates name no image of their own).
func DeployImages(dir string) ([]ImageRef, error) {
	var refs []ImageRef
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if !isChartDir(path) {
				return nil
			}
			imgs, err := chartImages(path)
			if err != nil {
				return err
			}
			refs = append(refs, imgs...)
			return filepath.SkipDir
		}
		if ext := strings.ToLower(filepath.Ext(path)); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := imageLine().FindStringSubmatch(line); m != nil {
				refs = append(refs, ImageRef{File: path, Line: i + 1, Ref: m[1]})
			}
		}
		return nil
	})
	return refs, err
}

// Unpinned returns the references that name no digest. With
// allowPlaceholder, the release placeholder counts as a digest (committed
// manifests); without, it does not (released manifests).
func Unpinned(refs []ImageRef, allowPlaceholder bool) []ImageRef {
	var out []ImageRef
	for _, r := range refs {
		m := pinned().FindStringSubmatch(r.Ref)
		if m == nil || (!allowPlaceholder && m[1] == Placeholder) {
			out = append(out, r)
		}
	}
	return out
}

// RewriteDeploy pins every reference to repo (by tag, by the placeholder
// or by an older digest) in the YAML files under dir to repo@digest, in
// place, and the digest of repo's images in the values files of Helm
// charts under dir. It returns the files changed, sorted.
func RewriteDeploy(dir, repo, digest string) ([]string, error) {
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
		return nil, fmt.Errorf("rewrite %s: %q is not a sha256 digest", dir, digest)
	}
	ref := regexp.MustCompile(`(image:\s*["']?)` + regexp.QuoteMeta(repo) + `(?::[\w][\w.-]*)?(?:@sha256:(?:[0-9a-f]{64}|` + Placeholder + `))?(["']?\s*(?:#.*)?)$`)
	var changed []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if !isChartDir(path) {
				return nil
			}
			files, err := pinChart(path, repo, digest)
			changed = append(changed, files...)
			if err != nil {
				return err
			}
			return filepath.SkipDir
		}
		if ext := strings.ToLower(filepath.Ext(path)); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines := strings.Split(string(data), "\n")
		for i, line := range lines {
			lines[i] = ref.ReplaceAllString(line, "${1}"+repo+"@"+digest+"${2}")
		}
		out := strings.Join(lines, "\n")
		if out == string(data) {
			return nil
		}
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(out), info.Mode().Perm()); err != nil {
			return err
		}
		changed = append(changed, path)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rewrite %s: %w", dir, err)
	}
	sort.Strings(changed)
	return changed, nil
}
