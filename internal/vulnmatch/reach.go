package vulnmatch

// Reachability of Go vulnerabilities, as govulncheck's binary mode
// decides it: an advisory's ecosystem_specific.imports name the
// vulnerable packages and, within them, the vulnerable functions and
// methods; the binary's symbol table says which of them were linked.

import (
	"encoding/json"
	"slices"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// goImport is one entry of a Go record's ecosystem_specific.imports.
type goImport struct {
	Path    string   `json:"path"`
	GOOS    []string `json:"goos"`
	GOARCH  []string `json:"goarch"`
	Symbols []string `json:"symbols"`
}

// reachability decides whether p's binary links rec's vulnerable symbols
// and returns them. It is "" outside Go, unknown when the binary's
// symbols were not read or the record names no imports (or they do not
// parse). An import without symbols makes the whole package vulnerable:
// any function of it linked is reachable, as in govulncheck.
func reachability(rec *vulndb.Record, p *sbom.Package, q query) (string, []string) {
	if p.Ecosystem != sbom.EcosystemGo {
		return "", nil
	}
	if p.GoSymbols == nil {
		return finding.ReachableUnknown, nil
	}
	var imports []goImport
	for i := range rec.Affected {
		a := &rec.Affected[i]
		if !q.names(a.Package) || !onPlatform(a, p.Platform) {
			continue
		}
		var es struct {
			Imports []goImport `json:"imports"`
		}
		if len(a.EcosystemSpecific) == 0 || json.Unmarshal(a.EcosystemSpecific, &es) != nil {
			return finding.ReachableUnknown, nil
		}
		imports = append(imports, es.Imports...)
	}
	if len(imports) == 0 {
		return finding.ReachableUnknown, nil
	}
	var found []string
	for _, imp := range imports {
		if imp.Path == "" {
			return finding.ReachableUnknown, nil
		}
		if len(imp.Symbols) == 0 {
			// The symbol table lists each linked package's path too.
			if _, ok := p.GoSymbols[imp.Path]; ok {
				found = append(found, imp.Path)
			}
			continue
		}
		for _, s := range imp.Symbols {
			if _, ok := p.GoSymbols[imp.Path+"."+s]; ok {
				found = append(found, imp.Path+"."+s)
			}
		}
	}
	if len(found) == 0 {
		return finding.ReachableFalse, nil
	}
	slices.Sort(found)
	return finding.ReachableTrue, slices.Compact(found)
}
