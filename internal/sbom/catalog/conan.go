package catalog

// conan-lock: the C and C++ packages Conan resolved, conan.lock (JSON).
// Conan 2 (lock "version": "0.5") lists references in "requires",
// "build_requires" and "python_requires": "zlib/1.3#<revision>%<timestamp>"
// or "name/version@user/channel#…". Conan 1 (version "0.4") has
// "graph_lock": {"nodes": {"0": {"ref": "zlib/1.2.11#…"}, …}}, node "0"
// being the consumer itself (no ref, or a "conanfile" path). A reference
// with user and channel comes from another remote than ConanCenter and
// carries them as purl qualifiers.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// maxConanRefs bounds the references of one conan.lock.
const maxConanRefs = 100_000

// ConanLock returns the cataloger of conan.lock files.
func ConanLock() Cataloger {
	return Glob{
		ID:       "conan-lock",
		Patterns: []string{"**/conan.lock"},
		MaxSize:  16 << 20,
		Parse:    parseConanLock,
	}
}

func parseConanLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Version        string   `json:"version"`
		Requires       []string `json:"requires"`
		BuildRequires  []string `json:"build_requires"`
		PythonRequires []string `json:"python_requires"`
		GraphLock      *struct {
			Nodes map[string]struct {
				Ref string `json:"ref"`
			} `json:"nodes"`
		} `json:"graph_lock"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	var refs []string
	switch {
	case doc.GraphLock != nil: // Conan 1
		for _, k := range slices.Sorted(maps.Keys(doc.GraphLock.Nodes)) {
			if ref := doc.GraphLock.Nodes[k].Ref; ref != "" && k != "0" {
				refs = append(refs, ref)
			}
		}
	case doc.Version != "": // Conan 2
		refs = append(append(append(refs, doc.Requires...), doc.BuildRequires...), doc.PythonRequires...)
	default:
		return nil, fmt.Errorf("neither \"graph_lock\" (Conan 1) nor \"version\" (Conan 2): not a conan.lock")
	}
	if len(refs) > maxConanRefs {
		return nil, fmt.Errorf("%d references, more than %d", len(refs), maxConanRefs)
	}
	seen := map[string]bool{}
	var out []sbom.Package
	for _, ref := range refs {
		p, err := conanPackage(ref)
		if err != nil {
			return nil, err
		}
		if seen[p.PURL] {
			continue
		}
		seen[p.PURL] = true
		out = append(out, p)
	}
	return out, nil
}

// conanPackage reads "name/version[@user[/channel]][#rrev[%ts]][:pkgid…]".
func conanPackage(ref string) (sbom.Package, error) {
	s, _, _ := strings.Cut(ref, "#")
	s, _, _ = strings.Cut(s, ":")
	nv, uc, _ := strings.Cut(s, "@")
	name, version, ok := strings.Cut(nv, "/")
	if !ok || name == "" || version == "" || strings.ContainsAny(name+version, "/\\ ") {
		return sbom.Package{}, fmt.Errorf("reference %q is not name/version", ref)
	}
	user, channel, _ := strings.Cut(uc, "/")
	if user == "_" {
		user = ""
	}
	if channel == "_" {
		channel = ""
	}
	return sbom.Package{
		Name:      name,
		Version:   version,
		Ecosystem: sbom.EcosystemConan,
		Type:      "conan",
		PURL: sbom.PURL("conan", "", name, version,
			sbom.Qualifier{Key: "user", Value: user}, sbom.Qualifier{Key: "channel", Value: channel}),
	}, nil
}
