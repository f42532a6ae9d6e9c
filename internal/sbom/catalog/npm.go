package catalog

// npm: node_modules/<name>/package.json and node_modules/@scope/<name>/
// package.json, at any depth (nested node_modules). Only package.json
// files directly under a node_modules entry are installed packages; the
// test fixtures and examples that packages ship deeper inside are not
// matched by the patterns. A package.json without name or version (a
// workspace root, a fixture) is skipped.

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// NPM returns the cataloger of npm packages.
func NPM() Cataloger {
	return Glob{
		ID:       "npm",
		Patterns: []string{"**/node_modules/*/package.json", "**/node_modules/@*/*/package.json"},
		MaxSize:  4 << 20,
		Parse:    parseNPM,
		Lenient:  true,
	}
}

type packageJSON struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	License  json.RawMessage `json:"license"`
	Licenses []struct {
		Type string `json:"type"`
	} `json:"licenses"`
}

func parseNPM(_ context.Context, _ Env, _ fs.FS, p string, r io.Reader) ([]sbom.Package, error) {
	var pj packageJSON
	if err := json.NewDecoder(r).Decode(&pj); err != nil {
		return nil, err
	}
	if pj.Name == "" || pj.Version == "" {
		return nil, nil
	}
	ns, name := "", pj.Name
	if strings.HasPrefix(name, "@") {
		if s, n, ok := strings.Cut(name, "/"); ok {
			ns, name = s, n
		}
	}
	return []sbom.Package{{
		Name:      pj.Name,
		Version:   pj.Version,
		Ecosystem: sbom.EcosystemNPM,
		Type:      "npm",
		PURL:      sbom.PURL("npm", ns, name, pj.Version),
		Licenses:  npmLicenses(pj),
	}}, nil
}

// npmLicenses reads "license": "MIT", the older "license": {"type":
// "MIT"}, and "licenses": [{"type": ...}].
func npmLicenses(pj packageJSON) []string {
	var out []string
	if len(pj.License) > 0 {
		var s string
		var obj struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(pj.License, &s) == nil && s != "" {
			out = append(out, s)
		} else if json.Unmarshal(pj.License, &obj) == nil && obj.Type != "" {
			out = append(out, obj.Type)
		}
	}
	for _, l := range pj.Licenses {
		if l.Type != "" {
			out = append(out, l.Type)
		}
	}
	return out
}
