package catalog

// Python lock files of a source repository (catalog.Repo):
//
//   - poetry.lock (TOML): [[package]] name, version, and for what does not
//     come from an index a [package.source] of type git, directory, file
//     or url (skipped; "legacy" is another index and kept).
//   - uv.lock (TOML): [[package]] name, version, source = {registry =
//     "https://pypi.org/simple"} for index packages; editable, virtual,
//     path, directory and git sources are the project's own or not index
//     versions, and skipped.
//   - Pipfile.lock (JSON): "default" and "develop" map names to
//     {"version": "==1.2.3"}; entries without a pinned version (git, path)
//     are skipped.
//   - requirements*.txt: only exact pins, "name==1.2.3" or "name===1.2.3"
//     (with extras, markers, hashes and line continuations), are versions;
//     other requirements (ranges, URLs, -r includes, options) name no
//     version and are skipped.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// maxPythonLockPackages bounds the packages of one Python lock file.
const maxPythonLockPackages = 200_000

// PoetryLock returns the cataloger of poetry.lock.
func PoetryLock() Cataloger {
	return Glob{ID: "poetry-lock", Patterns: []string{"**/poetry.lock"}, MaxSize: 32 << 20, Parse: parsePoetryLock}
}

// UVLock returns the cataloger of uv.lock.
func UVLock() Cataloger {
	return Glob{ID: "uv-lock", Patterns: []string{"**/uv.lock"}, MaxSize: 32 << 20, Parse: parseUVLock}
}

// PipfileLock returns the cataloger of Pipfile.lock.
func PipfileLock() Cataloger {
	return Glob{ID: "pipfile-lock", Patterns: []string{"**/Pipfile.lock"}, MaxSize: 32 << 20, Parse: parsePipfileLock}
}

// requirementsMaxSize bounds a requirements file.
const requirementsMaxSize = 8 << 20

// Requirements returns the cataloger of pip requirements files.
func Requirements() Cataloger {
	return Glob{ID: "requirements", Patterns: []string{"**/requirements*.txt", "**/requirements/*.txt"}, MaxSize: requirementsMaxSize, Parse: parseRequirements}
}

// pypiSet collects PyPI packages once per normalised name and version.
type pypiSet struct{ lockSet }

func (s *pypiSet) add(name, version string) error { return s.addDev(name, version, false) }

// addDev adds a package that may be a development dependency.
func (s *pypiSet) addDev(name, version string, dev bool) error {
	if name == "" || version == "" || strings.ContainsAny(name, " /\\") {
		return fmt.Errorf("package %q version %q is not a name and version", name, version)
	}
	return s.put(pep503Name(name)+"@"+version, maxPythonLockPackages, sbom.Package{Name: name, Version: version,
		Ecosystem: sbom.EcosystemPyPI, Type: "pypi", PURL: sbom.PURL("pypi", "", pep503Name(name), version), Dev: dev})
}

func parsePoetryLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Package []struct {
			Name     string `toml:"name"`
			Version  string `toml:"version"`
			Category string `toml:"category"` // "dev" before Poetry 1.2's groups
			Source   struct {
				Type string `toml:"type"`
			} `toml:"source"`
		} `toml:"package"`
	}
	md, err := toml.NewDecoder(r).Decode(&doc)
	if err != nil {
		return nil, err
	}
	if !md.IsDefined("package") && !md.IsDefined("metadata") {
		return nil, fmt.Errorf("no [[package]] or [metadata]: not a poetry.lock")
	}
	var set pypiSet
	for i, p := range doc.Package {
		switch p.Source.Type {
		case "git", "directory", "file", "url":
			continue
		}
		if err := set.addDev(p.Name, p.Version, p.Category == "dev"); err != nil {
			return nil, fmt.Errorf("package %d: %w", i+1, err)
		}
	}
	return set.out, nil
}

func parseUVLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var doc struct {
		Package []struct {
			Name    string         `toml:"name"`
			Version string         `toml:"version"`
			Source  map[string]any `toml:"source"`
		} `toml:"package"`
	}
	md, err := toml.NewDecoder(r).Decode(&doc)
	if err != nil {
		return nil, err
	}
	if !md.IsDefined("version") && !md.IsDefined("package") {
		return nil, fmt.Errorf("no version or [[package]]: not a uv.lock")
	}
	var set pypiSet
	for i, p := range doc.Package {
		if _, ok := p.Source["registry"]; !ok {
			continue
		}
		if err := set.add(p.Name, p.Version); err != nil {
			return nil, fmt.Errorf("package %d: %w", i+1, err)
		}
	}
	return set.out, nil
}

func parsePipfileLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	type entry struct {
		Version string `json:"version"`
	}
	var doc struct {
		Meta    *json.RawMessage `json:"_meta"`
		Default map[string]entry `json:"default"`
		Develop map[string]entry `json:"develop"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.Meta == nil {
		return nil, fmt.Errorf("no \"_meta\": not a Pipfile.lock")
	}
	var set pypiSet
	for gi, group := range []map[string]entry{doc.Default, doc.Develop} {
		for _, name := range slices.Sorted(maps.Keys(group)) {
			v, ok := strings.CutPrefix(group[name].Version, "==")
			if !ok {
				continue
			}
			if err := set.addDev(name, strings.TrimPrefix(v, "="), gi == 1); err != nil {
				return nil, err
			}
		}
	}
	return set.out, nil
}

// requirementPin matches "name[extras] == version" at the start of a
// requirement, before any marker (";"), option ("--hash", "--config-settings") or comment.
var requirementPin = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*(?:$|;|\s--|\s#)`)
})

func parseRequirements(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	var set pypiSet
	err := eachRequirement(r, func(line int, req string) error {
		if m := requirementPin().FindStringSubmatch(req); m != nil {
			if err := set.add(m[1], m[2]); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set.out, nil
}

// eachRequirement calls fn with each logical line of a requirements file
// (continuation lines joined, trimmed) and the line it starts on.
func eachRequirement(r io.Reader, fn func(line int, req string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var logical strings.Builder
	start := 0
	for line := 1; sc.Scan(); line++ {
		if logical.Len() == 0 {
			start = line
		}
		t := sc.Text()
		if c, ok := strings.CutSuffix(t, "\\"); ok {
			if logical.Len() < 1<<20 {
				logical.WriteString(c + " ")
			}
			continue
		}
		logical.WriteString(t)
		req := strings.TrimSpace(logical.String())
		logical.Reset()
		if err := fn(start, req); err != nil {
			return err
		}
	}
	return sc.Err()
}

// UnpinnedRequirement is a requirement of a requirements file that names
// a package but not one version of it ("flask>=2", "django",
// "pkg @ https://..."): its version is chosen at install time, so it
// cannot be checked.
type UnpinnedRequirement struct {
	Line int
	// Text is the requirement as written, continuation lines joined,
	// without options and comments, at most maxUnpinnedText bytes.
	Text string
}

// maxUnpinnedText bounds UnpinnedRequirement.Text.
const maxUnpinnedText = 200

// UnpinnedRequirements lists the requirements of a pip requirements file
// that are not exact pins (at most limit of them, and how many there
// are). Comments, blank lines, local paths and options that name no
// package (--index-url ...) are not requirements. An editable install of
// a remote source (-e git+https://...) and an included file (-r, -c) that
// is not itself a requirements*.txt the scan reads are not checked and
// listed too: pip installs their packages. It reads at most the
// cataloger's size.
func UnpinnedRequirements(r io.Reader, limit int) ([]UnpinnedRequirement, int, error) {
	var out []UnpinnedRequirement
	n := 0
	err := eachRequirement(io.LimitReader(r, requirementsMaxSize), func(line int, req string) error {
		if req != "" && req[0] == '-' {
			if !optionUnchecked(req) {
				return nil // an option that names no package
			}
		} else if req == "" || !isAlnum(req[0]) || requirementPin().MatchString(req) {
			return nil // blank, comment, local path, or a pin
		}
		n++
		if len(out) < limit {
			text, _, _ := strings.Cut(req, " #")
			text, _, _ = strings.Cut(text, " --")
			text = strings.TrimSpace(text)
			if len(text) > maxUnpinnedText {
				text = text[:maxUnpinnedText] + "..."
			}
			out = append(out, UnpinnedRequirement{Line: line, Text: strings.ToValidUTF8(text, "?")})
		}
		return nil
	})
	return out, n, err
}

// optionUnchecked reports whether a requirements-file option brings in
// packages the scan does not read: an editable install of anything but a
// local path, or an included requirements or constraints file whose name
// is not one the requirements cataloger reads on its own.
func optionUnchecked(opt string) bool {
	name, arg := opt, ""
	if i := strings.IndexAny(opt, " \t="); i >= 0 {
		name, arg = opt[:i], strings.TrimLeft(opt[i+1:], " \t=")
	}
	for _, short := range []string{"-r", "-c", "-e"} {
		if name != short && strings.HasPrefix(name, short) && !strings.HasPrefix(name, "--") {
			name, arg = short, strings.TrimSpace(opt[len(short):]) // -rbase.txt
		}
	}
	arg, _, _ = strings.Cut(arg, " #")
	arg = strings.TrimSpace(arg)
	if f := strings.Fields(arg); len(f) > 0 {
		arg = f[0]
	}
	switch name {
	case "-e", "--editable":
		local := strings.HasPrefix(arg, ".") || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "file:")
		return !local
	case "-r", "--requirement", "-c", "--constraint":
		if arg == "" || strings.Contains(arg, "://") {
			return true
		}
		p := path.Clean(strings.ReplaceAll(arg, "\\", "/"))
		base := path.Base(p)
		read := strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt") ||
			path.Base(path.Dir(p)) == "requirements" && strings.HasSuffix(base, ".txt")
		return !read
	}
	return false
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
