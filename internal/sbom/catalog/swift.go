package catalog

// swift: Swift Package Manager's Package.resolved, the versions a package
// or app resolved its dependencies to. Version 1 nests the pins in
// {"object": {"pins": [{"package", "repositoryURL", "state": {"version",
// "revision", "branch"}}]}}; versions 2 and 3 list {"pins": [{"identity",
// "kind", "location", "state"}]} at the top level (3 adds "originHash").
// A pin without a version (a branch or a revision) cannot be matched
// against advisories and is skipped; a pin that is not a source control
// URL (a local path, a registry identity) is skipped too. Names are
// OSV's SwiftURL form: the repository URL without scheme and ".git"
// ("github.com/apple/swift-nio").

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// maxSwiftPins bounds the pins of one Package.resolved.
const maxSwiftPins = 100_000

// Swift returns the cataloger of Package.resolved files.
func Swift() Cataloger {
	return Glob{
		ID:       "swift",
		Patterns: []string{"**/Package.resolved"},
		MaxSize:  8 << 20,
		Parse:    parseSwiftResolved,
	}
}

type swiftPin struct {
	RepositoryURL string `json:"repositoryURL"` // v1
	Location      string `json:"location"`      // v2, v3
	Kind          string `json:"kind"`          // v2, v3
	State         struct {
		Version string `json:"version"`
	} `json:"state"`
}

func parseSwiftResolved(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Version int `json:"version"`
		Object  struct {
			Pins []swiftPin `json:"pins"`
		} `json:"object"`
		Pins []swiftPin `json:"pins"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	var pins []swiftPin
	switch doc.Version {
	case 1:
		pins = doc.Object.Pins
	case 2, 3:
		pins = doc.Pins
	default:
		return nil, fmt.Errorf("version %d of Package.resolved is not understood (want 1, 2 or 3)", doc.Version)
	}
	if len(pins) > maxSwiftPins {
		return nil, fmt.Errorf("%d pins, more than %d", len(pins), maxSwiftPins)
	}
	var out []sbom.Package
	for i, p := range pins {
		loc := p.RepositoryURL
		if doc.Version >= 2 {
			if p.Kind != "remoteSourceControl" {
				continue
			}
			loc = p.Location
		}
		if p.State.Version == "" {
			continue
		}
		name, err := swiftURLName(loc)
		if err != nil {
			return nil, fmt.Errorf("pin %d: %w", i, err)
		}
		ns, base := path.Split(name)
		out = append(out, sbom.Package{
			Name:      name,
			Version:   p.State.Version,
			Ecosystem: sbom.EcosystemSwiftURL,
			Type:      "swift",
			PURL:      sbom.PURL("swift", strings.TrimSuffix(ns, "/"), base, p.State.Version),
		})
	}
	return out, nil
}

// swiftURLName turns "https://github.com/apple/swift-nio.git" or
// "git@github.com:apple/swift-nio.git" into "github.com/apple/swift-nio".
func swiftURLName(loc string) (string, error) {
	s := loc
	if rest, ok := strings.CutPrefix(s, "git@"); ok { // scp-like syntax
		s = "ssh://" + strings.Replace(rest, ":", "/", 1)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("location %q is not a repository URL", loc)
	}
	p := strings.Trim(strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git"), "/")
	if p == "" || strings.Contains(p, "..") {
		return "", fmt.Errorf("location %q has no repository path", loc)
	}
	return strings.ToLower(u.Hostname()) + "/" + p, nil
}
