package catalog

// pub: Dart and Flutter's pubspec.lock, the versions `dart pub get`
// resolved. Its "packages" map is keyed by package name; each entry has
// "source" (hosted, git, path or sdk), "version" and "description" (for
// hosted packages {name, url, sha256}). Only hosted packages are
// reported: they are the ones pub.dev's advisories (OSV ecosystem Pub)
// are about; git, path and sdk packages are skipped. A package served by
// another host than pub.dev keeps its name: it may be a mirror.

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// maxPubPackages bounds the packages of one pubspec.lock.
const maxPubPackages = 100_000

// Pub returns the cataloger of pubspec.lock files.
func Pub() Cataloger {
	return Glob{
		ID:       "pub",
		Patterns: []string{"**/pubspec.lock"},
		MaxSize:  8 << 20,
		Parse:    parsePubLock,
	}
}

func parsePubLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Packages map[string]struct {
			Source  string `yaml:"source"`
			Version string `yaml:"version"`
		} `yaml:"packages"`
	}
	// yaml.v3 caps alias expansion, so a billion-laughs document fails
	// instead of growing; the file itself is capped by MaxSize.
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("empty pubspec.lock")
		}
		return nil, err
	}
	if len(doc.Packages) > maxPubPackages {
		return nil, fmt.Errorf("%d packages, more than %d", len(doc.Packages), maxPubPackages)
	}
	names := slices.Sorted(maps.Keys(doc.Packages))
	var out []sbom.Package
	for _, n := range names {
		e := doc.Packages[n]
		if e.Source != "hosted" {
			continue
		}
		if n == "" || e.Version == "" {
			return nil, fmt.Errorf("package %q: no name or version", n)
		}
		out = append(out, sbom.Package{
			Name:      n,
			Version:   e.Version,
			Ecosystem: sbom.EcosystemPub,
			Type:      "pub",
			PURL:      sbom.PURL("pub", "", n, e.Version),
		})
	}
	return out, nil
}
