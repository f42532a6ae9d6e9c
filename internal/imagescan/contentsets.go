package imagescan

// Red Hat's images (RHEL, UBI, and the images Red Hat builds on them)
// record where their rpms came from: each build writes an image content
// manifest, /root/buildinfo/content_manifests/<component>.json, whose
// "content_sets" name the repositories (content sets such as
// "rhel-8-for-x86_64-baseos-eus-rpms") the build installed from. The
// matcher maps them to Red Hat's product streams (CPEs) through the
// repository-to-CPE mapping, so an image is held to the advisories of
// the streams it actually uses (an EUS image's EUS fixes, say) rather
// than to those its release alone suggests.

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/image"
)

// contentManifestDir is where Red Hat's builds write content manifests.
const contentManifestDir = "root/buildinfo/content_manifests"

// Limits of content manifests: a real one is a few kilobytes with a
// handful of content sets.
const (
	maxContentManifest  = 4 << 20
	maxContentManifests = 64
	maxContentSets      = 512
)

// contentManifestSelector keeps the content manifests for contentSets.
func contentManifestSelector(p string, hdr *tar.Header) image.Want {
	if path.Dir(p) != contentManifestDir || !strings.HasSuffix(p, ".json") || !hdr.FileInfo().Mode().IsRegular() {
		return image.Want{}
	}
	return image.Want{Keep: true, MaxSize: maxContentManifest}
}

// contentSets reads the content sets of every content manifest of the
// image, sorted and without repeats. A manifest that cannot be read is a
// warning naming the file: the image's packages are then qualified by
// their release alone.
func contentSets(fsys fs.FS) ([]string, []finding.Problem) {
	entries, err := fs.ReadDir(fsys, contentManifestDir)
	if err != nil {
		return nil, nil // no manifests: not a Red Hat build
	}
	var sets []string
	var probs []finding.Problem
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || !e.Type().IsRegular() {
			continue
		}
		file := contentManifestDir + "/" + e.Name()
		if n++; n > maxContentManifests {
			probs = append(probs, finding.Problem{Level: finding.LevelWarning, File: "/" + contentManifestDir,
				Message: fmt.Sprintf("more than %d content manifests; the rest are not read", maxContentManifests)})
			break
		}
		data, err := fs.ReadFile(fsys, file)
		if err == nil {
			var cs []string
			if cs, err = parseContentManifest(data); err == nil {
				sets = append(sets, cs...)
				continue
			}
		}
		probs = append(probs, finding.Problem{Level: finding.LevelWarning, File: "/" + file,
			Message: fmt.Sprintf("Red Hat content manifest: %v; its content sets do not qualify the image's rpms", err)})
	}
	slices.Sort(sets)
	return slices.Compact(sets), probs
}

// parseContentManifest reads an image content manifest's content sets:
// {"metadata": {"icm_version": 1, ...}, "content_sets": [...],
// "image_contents": [...]}. A manifest without content_sets (an image
// of no rpm content) has none; labels must be printable, without spaces
// or path separators.
func parseContentManifest(data []byte) ([]string, error) {
	if len(data) > maxContentManifest {
		return nil, fmt.Errorf("over %d bytes", maxContentManifest)
	}
	var doc struct {
		Metadata *struct {
			Version int `json:"icm_version"`
		} `json:"metadata"`
		ContentSets []string `json:"content_sets"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Metadata == nil && doc.ContentSets == nil {
		return nil, fmt.Errorf("no metadata or content_sets (not an image content manifest)")
	}
	if len(doc.ContentSets) > maxContentSets {
		return nil, fmt.Errorf("%d content sets, limit %d", len(doc.ContentSets), maxContentSets)
	}
	for _, s := range doc.ContentSets {
		if s == "" || len(s) > 256 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '/' || r == '\\' }) {
			return nil, fmt.Errorf("content set %q is not a repository label", truncate(s, 64))
		}
	}
	return doc.ContentSets, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
