package catalog

// nuget-lock: NuGet's packages.lock.json, written by `dotnet restore`
// with RestorePackagesWithLockFile. "dependencies" maps each target
// framework ("net8.0", or "net8.0/linux-x64" for a runtime) to the
// packages resolved for it: {"type": "Direct" | "Transitive" |
// "CentralTransitive" | "Project", "requested": "[13.0.3, )",
// "resolved": "13.0.3", "contentHash": ...}. Project entries are the
// solution's own projects and are skipped; a package resolved for several
// frameworks is reported once per version.

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

// maxNuGetLockEntries bounds the entries of one packages.lock.json, over
// all frameworks.
const maxNuGetLockEntries = 200_000

// NuGetLock returns the cataloger of packages.lock.json files.
func NuGetLock() Cataloger {
	return Glob{
		ID:       "nuget-lock",
		Patterns: []string{"**/packages.lock.json"},
		MaxSize:  32 << 20,
		Parse:    parseNuGetLock,
	}
}

type nugetLockEntry struct {
	Type     string `json:"type"`
	Resolved string `json:"resolved"`
}

func parseNuGetLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Version      *int                                 `json:"version"`
		Dependencies map[string]map[string]nugetLockEntry `json:"dependencies"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.Version == nil || doc.Dependencies == nil {
		return nil, fmt.Errorf("no \"version\" or \"dependencies\": not a NuGet packages.lock.json")
	}
	n := 0
	for _, deps := range doc.Dependencies {
		n += len(deps)
	}
	if n > maxNuGetLockEntries {
		return nil, fmt.Errorf("%d entries, more than %d", n, maxNuGetLockEntries)
	}
	seen := map[string]bool{}
	var out []sbom.Package
	for _, fw := range slices.Sorted(maps.Keys(doc.Dependencies)) {
		deps := doc.Dependencies[fw]
		for _, name := range slices.Sorted(maps.Keys(deps)) {
			e := deps[name]
			if strings.EqualFold(e.Type, "Project") {
				continue
			}
			if name == "" || e.Resolved == "" || strings.ContainsAny(name, "/\\ ") {
				return nil, fmt.Errorf("framework %s: package %q: no name or resolved version", fw, name)
			}
			key := strings.ToLower(name) + "@" + e.Resolved
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, sbom.Package{
				Name:      name,
				Version:   e.Resolved,
				Ecosystem: sbom.EcosystemNuGet,
				Type:      "nuget",
				PURL:      sbom.PURL("nuget", "", name, e.Resolved),
			})
		}
	}
	return out, nil
}
