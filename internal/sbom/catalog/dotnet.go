package catalog

// dotnet-deps: the NuGet packages of a .NET application, from the
// <app>.deps.json file the .NET SDK writes beside the application's
// assemblies (dotnet publish). Its "libraries" object is keyed
// "Name/Version"; "type" is "package" for NuGet packages, "project" for
// the application's own projects and "reference" for assembly
// references, which are not packages and are skipped.

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

// maxDepsLibraries bounds the libraries of one deps.json.
const maxDepsLibraries = 100_000

// DotnetDeps returns the cataloger of .NET applications' NuGet packages.
func DotnetDeps() Cataloger {
	return Glob{
		ID:       "dotnet-deps",
		Patterns: []string{"**/*.deps.json"},
		MaxSize:  32 << 20,
		Parse:    parseDotnetDeps,
		Lenient:  true,
	}
}

func parseDotnetDeps(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Libraries map[string]struct {
			Type string `json:"type"`
		} `json:"libraries"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.Libraries == nil {
		return nil, fmt.Errorf(`deps.json has no "libraries" object`)
	}
	if len(doc.Libraries) > maxDepsLibraries {
		return nil, fmt.Errorf("deps.json lists %d libraries, more than %d", len(doc.Libraries), maxDepsLibraries)
	}
	keys := slices.Sorted(maps.Keys(doc.Libraries))
	var out []sbom.Package
	for _, k := range keys {
		if !strings.EqualFold(doc.Libraries[k].Type, "package") {
			continue
		}
		name, version, ok := strings.Cut(k, "/")
		if !ok || name == "" || version == "" || strings.Contains(version, "/") {
			return nil, fmt.Errorf("library %q is not Name/Version", k)
		}
		out = append(out, sbom.Package{
			Name:      name,
			Version:   version,
			Ecosystem: sbom.EcosystemNuGet,
			Type:      "nuget",
			PURL:      sbom.PURL("nuget", "", name, version),
		})
	}
	return out, nil
}
