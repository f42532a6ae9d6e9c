// Package peers holds, per peer tool (Trivy, Kubescape, Polaris,
// kube-score, kube-linter, kube-bench), every check its documentation
// lists and the Palisade checks that implement it, or why none does. The
// files (<tool>.yaml, format in README.md) are embedded; the catalogue
// derives each Palisade check's peer IDs and docs/coverage.md from them.
package peers

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Everything in the directory is embedded so that the package builds
// before any <tool>.yaml exists; only *.yaml files are read.
//
//go:embed *
var files embed.FS

// Tools are the peer tools a file may describe.
var Tools = []string{"trivy", "kubescape", "polaris", "kube-score", "kube-linter", "kube-bench"}

// Reason prefixes: why a peer check has no Palisade equivalent.
var reasonPrefixes = []string{"obsolete:", "cloud-specific:", "covered-by ", "out-of-scope:"}

// Limits on a file: hostile or mistaken input fails fast.
const (
	maxFileBytes = 4 << 20
	maxChecks    = 5000
)

// File is one tool's list of checks.
type File struct {
	Tool   string  `json:"tool"`
	Source string  `json:"source"`
	Checks []Check `json:"checks"`
	// Name is the file the list came from.
	Name string `json:"-"`
}

// Check is one check of the peer tool.
type Check struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Palisade lists the Palisade check IDs that implement it; empty when
	// none does, and then Reason says why.
	Palisade []string `json:"palisade"`
	Reason   string   `json:"reason,omitempty"`
	// Note says how the Palisade checks differ from the peer's where they
	// do (stricter, or only in 'scan cluster'); shown in docs/coverage.md.
	Note string `json:"note,omitempty"`
	// Frameworks names the frameworks (cis, nsa, mitre, pss) the tool's
	// documentation lists the check under; each Palisade check it maps
	// to must then carry a mapping in those frameworks.
	Frameworks []string `json:"frameworks,omitempty"`
	// Line is where the check starts in its file (for error messages).
	Line int `json:"-"`
}

// CoveredBy returns the check ID named by a "covered-by <id>: ..."
// reason, or "".
func (c *Check) CoveredBy() string {
	rest, ok := strings.CutPrefix(c.Reason, "covered-by ")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return strings.TrimSpace(id)
}

// Load reads every embedded <tool>.yaml, sorted by tool.
func Load() ([]*File, error) { return LoadFS(files) }

// LoadFS reads every *.yaml at the top of fsys.
func LoadFS(fsys fs.FS) ([]*File, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*File
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		f, err := Parse(name, data)
		if err != nil {
			return nil, err
		}
		if want := strings.TrimSuffix(path.Base(name), ".yaml"); f.Tool != want {
			return nil, fmt.Errorf("%s: tool %q does not match the file name", name, f.Tool)
		}
		out = append(out, f)
	}
	return out, nil
}

// Parse reads and validates one file. It checks the shape only; that each
// Palisade ID exists is the catalogue's test.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", name, len(data), maxFileBytes)
	}
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.Name = name
	if !contains(Tools, f.Tool) {
		return nil, fmt.Errorf("%s: tool %q: want one of %s", name, f.Tool, strings.Join(Tools, ", "))
	}
	if !strings.HasPrefix(f.Source, "https://") {
		return nil, fmt.Errorf("%s: source must be the https URL of the documentation page listing the checks", name)
	}
	if len(f.Checks) == 0 || len(f.Checks) > maxChecks {
		return nil, fmt.Errorf("%s: %d checks: want 1 to %d", name, len(f.Checks), maxChecks)
	}
	lines := checkLines(data)
	seen := map[string]bool{}
	for i := range f.Checks {
		c := &f.Checks[i]
		if i < len(lines) {
			c.Line = lines[i]
		}
		where := fmt.Sprintf("%s:%d: check %q", name, c.Line, c.ID)
		if c.ID == "" || c.Title == "" {
			return nil, fmt.Errorf("%s: id and title are required", where)
		}
		key := strings.ToUpper(c.ID)
		if seen[key] {
			return nil, fmt.Errorf("%s: listed twice", where)
		}
		seen[key] = true
		for _, p := range c.Palisade {
			if p == "" || strings.ContainsAny(p, " \t*") {
				return nil, fmt.Errorf("%s: palisade ID %q is not a check ID", where, p)
			}
		}
		if len(c.Palisade) == 0 {
			if !hasReasonPrefix(c.Reason) {
				return nil, fmt.Errorf("%s: not implemented, so reason must start with obsolete:, cloud-specific:, covered-by <id>: or out-of-scope (then a colon and why)", where)
			}
			if strings.HasPrefix(c.Reason, "covered-by ") && (c.CoveredBy() == "" || !strings.Contains(c.Reason, ":")) {
				return nil, fmt.Errorf("%s: reason %q: want covered-by <palisade-id>: <why>", where, c.Reason)
			}
		}
		for _, fw := range c.Frameworks {
			if !contains([]string{"cis", "nsa", "mitre", "pss"}, fw) {
				return nil, fmt.Errorf("%s: framework %q: want cis, nsa, mitre or pss", where, fw)
			}
		}
	}
	return &f, nil
}

// NormalizeID returns a peer check ID in the form selectors compare:
// upper case, without Trivy's AVD- prefix.
func NormalizeID(id string) string {
	id = strings.ToUpper(strings.TrimSpace(id))
	return strings.TrimPrefix(id, "AVD-")
}

func hasReasonPrefix(r string) bool {
	for _, p := range reasonPrefixes {
		if strings.HasPrefix(r, p) && len(strings.TrimSpace(strings.TrimPrefix(r, p))) > 0 {
			return true
		}
	}
	return false
}

// checkLines finds the line of each "- id:" item under checks:, so
// errors point at the entry (the YAML decoder keeps no positions).
func checkLines(data []byte) []int {
	var out []int
	for n, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "- id:") || strings.HasPrefix(t, "- {id:") {
			out = append(out, n+1)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ByCheck indexes the files by Palisade check ID: the peer checks each
// implements, in file order.
func ByCheck(files []*File) map[string][]finding.PeerCheck {
	out := map[string][]finding.PeerCheck{}
	for _, f := range files {
		for _, c := range f.Checks {
			for _, id := range c.Palisade {
				out[id] = append(out[id], finding.PeerCheck{Tool: f.Tool, ID: c.ID})
			}
		}
	}
	return out
}

// BuiltinByCheck is ByCheck of the embedded files, from Go values
// generated from them (bycheck_generated.go): decoding ~100 KB of YAML
// took ~12 ms at the start of every scan, which needs only this index.
// TestBuiltinByCheckMatchesFiles holds it to the files. Each call returns
// a map and slices of its own.
func BuiltinByCheck() map[string][]finding.PeerCheck { return builtinByCheck() }
