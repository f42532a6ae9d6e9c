// Package frameworks holds the security frameworks Palisade reports
// compliance against (CIS Kubernetes Benchmark, NSA/CISA Kubernetes
// Hardening Guide, MITRE ATT&CK for Containers, the Pod Security
// Standards, the CNCF IoT Edge security challenges) as embedded data: a
// framework is a named list of controls, and a control points at check
// IDs, never at code (the Kubescape model). A check joins a control in
// two ways: its metadata names the control (finding.Frameworks, for the
// frameworks with a Mapping), or the control lists the check (Checks,
// for frameworks such as edge whose controls no check's metadata names).
package frameworks

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/finding"
)

//go:embed *.yaml
var files embed.FS

// Mapping names the finding.Frameworks field that maps checks to a
// framework's controls.
const (
	MappingCIS   = "cis"
	MappingNSA   = "nsa"
	MappingMITRE = "mitre"
	MappingPSS   = "pss"
)

// Scopes: where a control is assessed.
const (
	ScopeNode    = "node"    // palisade node audit
	ScopeCluster = "cluster" // scan config, scan cluster
)

// Assessments: how a framework marks a control.
const (
	AssessmentAutomated = "automated"
	AssessmentManual    = "manual"
)

// Framework is one framework: its controls in document order.
type Framework struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version string `json:"version"`
	URL     string `json:"url"`
	// Mapping is the finding.Frameworks field whose entries name this
	// framework's controls; empty when controls list their checks.
	Mapping  string    `json:"mapping,omitempty"`
	Controls []Control `json:"controls"`
}

// Control is one control, recommendation or technique.
type Control struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Scope, when set, says which command assesses the control: a
	// control of another scope is not applicable to a command.
	Scope string `json:"scope,omitempty"`
	// Assessment is how the framework itself marks the control:
	// "automated" (one right value an audit can verify) or "manual" (it
	// needs judgement). Empty when the framework makes no such
	// distinction. Palisade may automate a manual control that has one
	// right value; its checks' own metadata says so.
	Assessment string `json:"assessment,omitempty"`
	// Checks lists check IDs that address the control besides those whose
	// metadata names it.
	Checks []string `json:"checks,omitempty"`
}

// Names returns the IDs of the embedded frameworks, sorted.
func Names() []string {
	all, _ := load()
	out := make([]string, 0, len(all))
	for id := range all {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Get returns a framework by ID (case-insensitive).
func Get(id string) (*Framework, error) {
	all, err := load()
	if err != nil {
		return nil, err
	}
	if f, ok := all[strings.ToLower(id)]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("unknown framework %q (known: %s)", id, strings.Join(Names(), ", "))
}

// All returns every framework, sorted by ID.
func All() ([]*Framework, error) {
	all, err := load()
	if err != nil {
		return nil, err
	}
	out := make([]*Framework, 0, len(all))
	for _, id := range Names() {
		out = append(out, all[id])
	}
	return out, nil
}

// Named returns the IDs of this framework's controls that the mapping
// names, in the mapping's order.
func (f *Framework) Named(m finding.Frameworks) []string {
	var ids []string
	switch f.Mapping {
	case MappingCIS:
		ids = m.CIS
	case MappingNSA:
		ids = m.NSA
	case MappingMITRE:
		ids = m.MITRE
	case MappingPSS:
		ids = m.PSS
	}
	var out []string
	for _, id := range ids {
		if f.Control(id) != nil {
			out = append(out, id)
		}
	}
	return out
}

// Control returns a control by ID, or nil.
func (f *Framework) Control(id string) *Control {
	for i := range f.Controls {
		if f.Controls[i].ID == id {
			return &f.Controls[i]
		}
	}
	return nil
}

// load parses the embedded files once; they are immutable after.
var load = sync.OnceValues(func() (map[string]*Framework, error) {
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil, err
	}
	out := map[string]*Framework{}
	for _, e := range entries {
		data, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		f, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("framework %s: %w", e.Name(), err)
		}
		if want := strings.TrimSuffix(path.Base(e.Name()), ".yaml"); f.ID != want {
			return nil, fmt.Errorf("framework %s: id %q does not match the file name", e.Name(), f.ID)
		}
		out[f.ID] = f
	}
	return out, nil
})

// Parse reads and validates one framework definition.
func Parse(data []byte) (*Framework, error) {
	var f Framework
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, err
	}
	if f.ID == "" || f.Title == "" {
		return nil, fmt.Errorf("id and title are required")
	}
	switch f.Mapping {
	case "", MappingCIS, MappingNSA, MappingMITRE, MappingPSS:
	default:
		return nil, fmt.Errorf("mapping %q: want cis, nsa, mitre, pss or none", f.Mapping)
	}
	if len(f.Controls) == 0 {
		return nil, fmt.Errorf("no controls")
	}
	seen := map[string]bool{}
	for i, c := range f.Controls {
		if c.ID == "" || c.Title == "" {
			return nil, fmt.Errorf("control %d: id and title are required", i+1)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("control %s: defined twice", c.ID)
		}
		seen[c.ID] = true
		switch c.Scope {
		case "", ScopeNode, ScopeCluster:
		default:
			return nil, fmt.Errorf("control %s: scope %q: want node, cluster or none", c.ID, c.Scope)
		}
		switch c.Assessment {
		case "", AssessmentAutomated, AssessmentManual:
		default:
			return nil, fmt.Errorf("control %s: assessment %q: want automated, manual or none", c.ID, c.Assessment)
		}
	}
	return &f, nil
}
