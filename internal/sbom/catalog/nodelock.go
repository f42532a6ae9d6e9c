package catalog

// Node lock files of a source repository (catalog.Repo): what `npm
// install`, pnpm and Yarn resolved, before node_modules exists.
//
//   - package-lock.json (and npm-shrinkwrap.json): lockfileVersion 1 has
//     "dependencies" {name: {version, dependencies: {…nested}}};
//     versions 2 and 3 have "packages" keyed by install path
//     ("node_modules/a/node_modules/@s/b"; "" is the project itself;
//     "link": true entries are workspace links), each with "version" and,
//     for an alias, the real "name".
//   - pnpm-lock.yaml: "packages" keyed "/name/1.2.3" (lock version 5),
//     "/name@1.2.3" (6) or "name@1.2.3" (9), scoped names with their
//     "@scope/", peer suffixes "_peer@1" (5) or "(peer@1)" (6, 9).
//   - yarn.lock: Yarn 1's own format (entries `"a@^1", a@^1.1:` with an
//     indented `version "1.2.3"`), or Yarn 2+'s YAML with
//     `resolution: "a@npm:1.2.3"` (workspace, patch, git and other
//     protocols than npm: are not registry versions and are skipped).
//
// A package resolved at one version in several places is reported once.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// maxNodeLockPackages bounds the packages of one Node lock file, and
// maxNPMLockDepth the nesting of a version 1 lock.
const (
	maxNodeLockPackages = 500_000
	maxNPMLockDepth     = 256
)

// NPMLock returns the cataloger of package-lock.json and
// npm-shrinkwrap.json.
func NPMLock() Cataloger {
	return Glob{ID: "npm-lock", Patterns: []string{"**/package-lock.json", "**/npm-shrinkwrap.json"}, MaxSize: 64 << 20, Parse: parseNPMLock}
}

// PNPMLock returns the cataloger of pnpm-lock.yaml.
func PNPMLock() Cataloger {
	return Glob{ID: "pnpm-lock", Patterns: []string{"**/pnpm-lock.yaml"}, MaxSize: 64 << 20, Parse: parsePNPMLock}
}

// YarnLock returns the cataloger of yarn.lock (Yarn 1 and Yarn 2+).
func YarnLock() Cataloger {
	return Glob{ID: "yarn-lock", Patterns: []string{"**/yarn.lock"}, MaxSize: 64 << 20, Parse: parseYarnLock}
}

// nodeSet collects npm packages once per name and version.
type nodeSet struct{ lockSet }

func (s *nodeSet) add(name, version string) error { return s.addDev(name, version, false) }

// addDev adds a package that may be a development dependency.
func (s *nodeSet) addDev(name, version string, dev bool) error {
	if name == "" || version == "" || strings.ContainsAny(name, " \\") || strings.Count(name, "/") > 1 ||
		(strings.Contains(name, "/") && !strings.HasPrefix(name, "@")) {
		return fmt.Errorf("package %q version %q is not an npm name and version", name, version)
	}
	ns, base := "", name
	if scope, n, ok := strings.Cut(name, "/"); ok {
		ns, base = scope, n
	}
	return s.put(name+"@"+version, maxNodeLockPackages, sbom.Package{Name: name, Version: version, Ecosystem: sbom.EcosystemNPM, Type: "npm",
		PURL: sbom.PURL("npm", ns, base, version), Dev: dev})
}

// lockSet collects a lock file's packages once per key (a package resolved
// at one version in several places), up to a bound. A package met both as
// a development dependency and as another is not Dev.
type lockSet struct {
	seen map[string]int // index in out
	out  []sbom.Package
}

func (s *lockSet) put(key string, max int, p sbom.Package) error {
	if i, ok := s.seen[key]; ok {
		s.out[i].Dev = s.out[i].Dev && p.Dev
		return nil
	}
	if len(s.seen) >= max {
		return fmt.Errorf("more than %d packages", max)
	}
	if s.seen == nil {
		s.seen = map[string]int{}
	}
	s.seen[key] = len(s.out)
	s.out = append(s.out, p)
	return nil
}

type npmLockDep struct {
	Version      string                `json:"version"`
	Dev          bool                  `json:"dev"`
	Dependencies map[string]npmLockDep `json:"dependencies"`
}

func parseNPMLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		LockfileVersion *int                  `json:"lockfileVersion"`
		Dependencies    map[string]npmLockDep `json:"dependencies"`
		Packages        map[string]struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Link    bool   `json:"link"`
			Dev     bool   `json:"dev"`
		} `json:"packages"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.LockfileVersion == nil {
		return nil, fmt.Errorf("no \"lockfileVersion\": not an npm lock file")
	}
	var set nodeSet
	if doc.Packages != nil { // lockfileVersion 2 and 3
		for _, key := range slices.Sorted(maps.Keys(doc.Packages)) {
			p := doc.Packages[key]
			i := strings.LastIndex(key, "node_modules/")
			if key == "" || p.Link || i < 0 {
				continue // the project, a workspace link, or a workspace's own folder
			}
			name := key[i+len("node_modules/"):]
			if p.Name != "" {
				name = p.Name
			}
			if err := set.addDev(name, p.Version, p.Dev); err != nil {
				return nil, fmt.Errorf("%q: %w", key, err)
			}
		}
		return set.out, nil
	}
	var walk func(deps map[string]npmLockDep, depth int) error
	walk = func(deps map[string]npmLockDep, depth int) error {
		if depth > maxNPMLockDepth {
			return fmt.Errorf("dependencies nested deeper than %d", maxNPMLockDepth)
		}
		for _, name := range slices.Sorted(maps.Keys(deps)) {
			d := deps[name]
			// A version 1 lock writes "version": "file:…" or a git URL for
			// what does not come from the registry.
			if !strings.Contains(d.Version, ":") {
				if err := set.addDev(name, d.Version, d.Dev); err != nil {
					return err
				}
			}
			if err := walk(d.Dependencies, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(doc.Dependencies, 0); err != nil {
		return nil, err
	}
	return set.out, nil
}

func parsePNPMLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		LockfileVersion any            `yaml:"lockfileVersion"`
		Packages        map[string]any `yaml:"packages"`
	}
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("empty pnpm-lock.yaml")
		}
		return nil, err
	}
	if doc.LockfileVersion == nil {
		return nil, fmt.Errorf("no lockfileVersion: not a pnpm-lock.yaml")
	}
	lv := fmt.Sprint(doc.LockfileVersion)
	v5 := strings.HasPrefix(lv, "5")
	slashless := !v5 && !strings.HasPrefix(lv, "6")
	var set nodeSet
	for _, key := range slices.Sorted(maps.Keys(doc.Packages)) {
		if !strings.HasPrefix(key, "/") && !slashless {
			continue // before version 9, registry packages are "/…"; others are tarballs, git, files
		}
		name, version, ok := pnpmKey(key, v5)
		if !ok {
			continue // a tarball, git or file dependency: no registry version
		}
		// Before version 9 an entry says "dev: true" for a package only
		// development dependencies need.
		entry, _ := doc.Packages[key].(map[string]any)
		if err := set.addDev(name, version, entry["dev"] == true); err != nil {
			return nil, fmt.Errorf("%q: %w", key, err)
		}
	}
	return set.out, nil
}

// pnpmKey reads a pnpm packages key.
func pnpmKey(key string, v5 bool) (name, version string, ok bool) {
	k := strings.TrimPrefix(key, "/")
	if i := strings.IndexByte(k, '('); i >= 0 {
		k = k[:i]
	}
	if v5 {
		i := strings.LastIndexByte(k, '/')
		if i <= 0 {
			return "", "", false
		}
		name, version = k[:i], k[i+1:]
		if j := strings.IndexByte(version, '_'); j >= 0 {
			version = version[:j]
		}
	} else {
		i := strings.LastIndexByte(k, '@')
		if i <= 0 {
			return "", "", false
		}
		name, version = k[:i], k[i+1:]
	}
	if strings.Contains(version, ":") || strings.Contains(version, "/") || version == "" {
		return "", "", false
	}
	return name, version, true
}

func parseYarnLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(4096)
	if strings.Contains(string(head), "__metadata:") {
		return parseYarnBerry(br)
	}
	return parseYarnV1(br)
}

// parseYarnV1 reads Yarn 1's format line by line.
func parseYarnV1(r io.Reader) ([]sbom.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var set nodeSet
	name, sawHeader := "", false
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimRight(sc.Text(), "\r")
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
			continue
		case t[0] != ' ':
			if !strings.HasSuffix(t, ":") {
				return nil, fmt.Errorf("line %d: %.60q is not a yarn.lock entry", line, t)
			}
			spec, _, _ := strings.Cut(strings.TrimSuffix(t, ":"), ",")
			spec = strings.Trim(strings.TrimSpace(spec), `"`)
			i := strings.LastIndexByte(spec, '@')
			if i <= 0 {
				return nil, fmt.Errorf("line %d: %.60q has no name@range", line, t)
			}
			name, sawHeader = spec[:i], true
			if strings.Contains(spec[i+1:], ":") && !strings.HasPrefix(spec[i+1:], "npm:") {
				name = "" // a git, file or tarball dependency
			}
		case strings.HasPrefix(t, "  version ") && !strings.HasPrefix(t, "   "):
			if name == "" {
				continue
			}
			v := strings.Trim(strings.TrimSpace(t[len("  version "):]), `"`)
			if err := set.add(name, v); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			name = ""
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !sawHeader && len(set.out) == 0 {
		return nil, fmt.Errorf("no entries: not a yarn.lock")
	}
	return set.out, nil
}

// parseYarnBerry reads Yarn 2+'s YAML lock.
func parseYarnBerry(r io.Reader) ([]sbom.Package, error) {
	var doc map[string]struct {
		Version    string `yaml:"version"`
		Resolution string `yaml:"resolution"`
	}
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	var set nodeSet
	for _, key := range slices.Sorted(maps.Keys(doc)) {
		if key == "__metadata" {
			continue
		}
		res := doc[key].Resolution
		i := strings.LastIndex(res, "@npm:")
		if i <= 0 {
			continue // workspace:, patch:, git and file resolutions
		}
		if err := set.add(res[:i], res[i+len("@npm:"):]); err != nil {
			return nil, fmt.Errorf("%q: %w", key, err)
		}
	}
	return set.out, nil
}
