package catalog

// cargo-lock: the crates Cargo resolved for a Rust workspace, Cargo.lock
// (TOML; lock format versions 1 to 4). Each [[package]] has "name",
// "version" and, for a crate that comes from a registry or a repository,
// "source": "registry+https://github.com/rust-lang/crates.io-index" or
// "sparse+https://index.crates.io/" for crates.io, another registry's
// index, or "git+https://...". A package without source is a member of
// the workspace itself. Only crates.io packages are reported: they are
// what RustSec's advisories (OSV ecosystem crates.io) are about.

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// maxCargoPackages bounds the packages of one Cargo.lock.
const maxCargoPackages = 100_000

// CargoLock returns the cataloger of Cargo.lock files.
func CargoLock() Cataloger {
	return Glob{
		ID:       "cargo-lock",
		Patterns: []string{"**/Cargo.lock"},
		MaxSize:  16 << 20,
		Parse:    parseCargoLock,
	}
}

// cratesIOSources are the source strings of crates.io's git and sparse
// indexes.
var cratesIOSources = []string{
	"registry+https://github.com/rust-lang/crates.io-index",
	"sparse+https://index.crates.io/",
}

// isCratesIO reports whether a Cargo.lock or cargo-auditable source names
// crates.io.
func isCratesIO(source string) bool {
	for _, s := range cratesIOSources {
		if source == s {
			return true
		}
	}
	return source == "crates.io"
}

func parseCargoLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Package []struct {
			Name    string `toml:"name"`
			Version string `toml:"version"`
			Source  string `toml:"source"`
		} `toml:"package"`
	}
	md, err := toml.NewDecoder(r).Decode(&doc)
	if err != nil {
		return nil, err
	}
	if !md.IsDefined("package") && !md.IsDefined("version") && !md.IsDefined("metadata") {
		return nil, fmt.Errorf("no [[package]] tables: not a Cargo.lock")
	}
	if len(doc.Package) > maxCargoPackages {
		return nil, fmt.Errorf("%d packages, more than %d", len(doc.Package), maxCargoPackages)
	}
	var out []sbom.Package
	for i, p := range doc.Package {
		if p.Name == "" || p.Version == "" || strings.ContainsAny(p.Name, "/\\ ") {
			return nil, fmt.Errorf("package %d: no name or version", i+1)
		}
		if !isCratesIO(p.Source) {
			continue
		}
		out = append(out, cratePackage(p.Name, p.Version))
	}
	return out, nil
}

func cratePackage(name, version string) sbom.Package {
	return sbom.Package{
		Name:      name,
		Version:   version,
		Ecosystem: sbom.EcosystemCrates,
		Type:      "cargo",
		PURL:      sbom.PURL("cargo", "", name, version),
	}
}
