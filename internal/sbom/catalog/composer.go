package catalog

// composer: the packages Composer installed into a PHP project,
// vendor/composer/installed.json. Composer 1 writes a JSON array of
// packages; Composer 2 an object {"packages": [...], "dev": bool,
// "dev-package-names": [...]}. Each package has "name" ("vendor/project"),
// "version" (as resolved: "1.2.3", "v1.2.3", "dev-main") and "license"
// (a list of SPDX identifiers). Development packages are installed too, so
// they are reported: they are on the image's disk whatever their role.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// maxComposerPackages bounds the packages of one installed.json.
const maxComposerPackages = 100_000

// Composer returns the cataloger of PHP packages installed by Composer.
func Composer() Cataloger {
	return Glob{
		ID:       "composer",
		Patterns: []string{"**/vendor/composer/installed.json"},
		MaxSize:  32 << 20,
		Parse:    parseComposerInstalled,
	}
}

type composerPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
}

func parseComposerInstalled(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	pkgs, err := decodeComposerInstalled(r)
	if err != nil {
		return nil, err
	}
	return composerPackages(pkgs)
}

// ComposerLock returns the cataloger of composer.lock, the versions
// `composer update` resolved for a project: {"packages": [...],
// "packages-dev": [...]}, each package as in installed.json. Development
// packages are reported too: they are part of the project's dependency
// tree, and a lock file does not say where it is installed.
func ComposerLock() Cataloger {
	return Glob{
		ID:       "composer-lock",
		Patterns: []string{"**/composer.lock"},
		MaxSize:  32 << 20,
		Parse:    parseComposerLock,
	}
}

func parseComposerLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Packages    *[]composerPackage `json:"packages"`
		PackagesDev []composerPackage  `json:"packages-dev"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.Packages == nil {
		return nil, fmt.Errorf("composer.lock: no \"packages\" list")
	}
	all := append(*doc.Packages, doc.PackagesDev...)
	if len(all) > maxComposerPackages {
		return nil, fmt.Errorf("composer.lock lists %d packages, more than %d", len(all), maxComposerPackages)
	}
	pkgs, err := composerPackages(all)
	if err != nil {
		return nil, err
	}
	for i := len(*doc.Packages); i < len(pkgs); i++ {
		pkgs[i].Dev = true
	}
	return pkgs, nil
}

// composerPackages checks and converts Composer's package entries.
func composerPackages(pkgs []composerPackage) ([]sbom.Package, error) {
	var out []sbom.Package
	for i, cp := range pkgs {
		if cp.Name == "" || cp.Version == "" {
			return nil, fmt.Errorf("package %d: no name or version", i)
		}
		vendor, project, ok := strings.Cut(cp.Name, "/")
		if !ok || vendor == "" || project == "" || strings.Contains(project, "/") {
			return nil, fmt.Errorf("package %d: name %q is not vendor/project", i, cp.Name)
		}
		out = append(out, sbom.Package{
			Name:      cp.Name,
			Version:   cp.Version,
			Ecosystem: sbom.EcosystemPackagist,
			Type:      "composer",
			PURL:      sbom.PURL("composer", vendor, project, cp.Version),
			Licenses:  composerLicenses(cp.License),
		})
	}
	return out, nil
}

// decodeComposerInstalled reads either layout of installed.json.
func decodeComposerInstalled(r io.Reader) ([]composerPackage, error) {
	var raw json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, err
	}
	var pkgs []composerPackage
	switch t := bytes.TrimLeft(raw, " \t\r\n"); {
	case len(t) > 0 && t[0] == '[': // Composer 1
		if err := json.Unmarshal(raw, &pkgs); err != nil {
			return nil, fmt.Errorf("composer 1 installed.json: %w", err)
		}
	case len(t) > 0 && t[0] == '{': // Composer 2
		var v2 struct {
			Packages *[]composerPackage `json:"packages"`
		}
		if err := json.Unmarshal(raw, &v2); err != nil {
			return nil, fmt.Errorf("composer 2 installed.json: %w", err)
		}
		if v2.Packages == nil {
			return nil, fmt.Errorf("composer 2 installed.json: no \"packages\" list")
		}
		pkgs = *v2.Packages
	default:
		return nil, fmt.Errorf("installed.json is neither a list (Composer 1) nor an object (Composer 2)")
	}
	if len(pkgs) > maxComposerPackages {
		return nil, fmt.Errorf("installed.json lists %d packages, more than %d", len(pkgs), maxComposerPackages)
	}
	return pkgs, nil
}

// composerLicenses reads "license": ["MIT"] and the single-string form
// older packages have.
func composerLicenses(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, l := range list {
			if l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}
