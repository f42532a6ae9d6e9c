package configscan

import (
	"slices"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/workload"
)

// noteFolded records the owners that controlled workloads of inv were
// folded into (workload.Inventory.FoldOwned), with the owners themselves.
func noteFolded(folded map[finding.ObjectRef]bool, inv *workload.Inventory) {
	for _, w := range inv.Workloads {
		if w.Own != nil {
			folded[w.Ref] = true
		}
	}
}

// podSpecPaths are where a pod spec sits in the workload kinds, longest
// first: a finding's field relative to it is the same in every replica
// and in the owner's template.
var podSpecPaths = []string{"spec.jobTemplate.spec.template.spec", "spec.template.spec", "spec"}

// foldKey identifies a finding about a folded owner regardless of which
// replica (or the owner's own template) it was found in.
type foldKey struct {
	rule, object, container, message, field string
}

// foldFindings keeps one finding of each kind per folded owner: the
// replicas of one owner, and a Pod and its ReplicaSet both in the input,
// share the owner's findings, which are reported once. The one kept is a
// suppressed one when any is (an exemption of the owner covers its
// replicas, even those evaluated in another batch, which did not see the
// owner's annotation), then the owner's own when the owner is in the
// input (own reports whether a finding was found in the owner object
// itself; nil for none), else the first in file and line order. Findings about objects that were not
// folded are kept as they are: the same object in two files (two
// overlays) is two findings.
func foldFindings(findings []finding.Finding, folded map[finding.ObjectRef]bool, own func(*finding.Finding) bool) []finding.Finding {
	if len(folded) == 0 {
		return findings
	}
	finding.Sort(findings) // the finding kept must not depend on evaluation order
	best := map[foldKey]int{}
	for i := range findings {
		f := &findings[i]
		if !folded[f.Object] {
			continue
		}
		k := foldKey{f.RuleID, f.Object.String(), f.Container, f.Message, relativeField(f.Field)}
		if j, ok := best[k]; !ok || foldRank(f, own) > foldRank(&findings[j], own) {
			best[k] = i
		}
	}
	keep := make(map[int]bool, len(best))
	for _, i := range best {
		keep[i] = true
	}
	out := findings[:0]
	for i, f := range findings {
		if !folded[f.Object] || keep[i] {
			out = append(out, f)
		}
	}
	return out
}

// foldRank orders the findings of one fold key: suppressed first, then
// the owner's own.
func foldRank(f *finding.Finding, own func(*finding.Finding) bool) int {
	r := 0
	if f.Suppressed {
		r += 2
	}
	if own != nil && own(f) {
		r++
	}
	return r
}

// ownerSources says whether a finding was found in the folded owner's own
// object rather than in one of its replicas, from where each object starts
// in its file: a finding belongs to the object that starts last at or
// before its line.
type ownerSources struct {
	starts map[string][]int // file -> sorted first lines of its objects
	// noted are the sources of every workload not folded into an owner,
	// in batch order; owner indexes them on the first own call. Most
	// scans fold nothing and never ask, and a map filled batch by batch
	// for 10,000 workloads was ~5 MB of garbage a scan.
	noted []notedSource
	owner map[finding.ObjectRef]position
}

type notedSource struct {
	ref finding.ObjectRef
	at  position
}

type position struct {
	file string
	line int
}

// newOwnerSources indexes where objs start; workloads is how many of them
// are workloads, for the room note needs.
func newOwnerSources(objs []*manifest.Object, workloads int) *ownerSources {
	s := &ownerSources{starts: map[string][]int{}, noted: make([]notedSource, 0, workloads)}
	for _, o := range objs {
		s.starts[o.File] = append(s.starts[o.File], o.Line)
	}
	for _, lines := range s.starts {
		slices.Sort(lines)
	}
	return s
}

// note records the sources of the owners in a batch that are themselves in
// the input.
func (s *ownerSources) note(inv *workload.Inventory) {
	for _, w := range inv.Workloads {
		if w.Own == nil && w.Source != nil {
			s.noted = append(s.noted, notedSource{w.Ref, position{w.Source.File, w.Source.Line}})
		}
	}
}

// own reports whether f was found in its object's own source. Call it
// only once every batch is noted.
func (s *ownerSources) own(f *finding.Finding) bool {
	if s.owner == nil {
		// The last noted source of a ref wins, as when each batch
		// wrote into the map.
		s.owner = make(map[finding.ObjectRef]position, len(s.noted))
		for _, n := range s.noted {
			s.owner[n.ref] = n.at
		}
		s.noted = nil
	}
	p, ok := s.owner[f.Object]
	if !ok || p.file != f.File {
		return false
	}
	lines := s.starts[f.File]
	i, _ := slices.BinarySearch(lines, f.Line+1)
	return i > 0 && lines[i-1] == p.line
}

func relativeField(field string) string {
	for _, p := range podSpecPaths {
		if rest, ok := strings.CutPrefix(field, p); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return strings.TrimPrefix(rest, ".")
		}
	}
	return field
}

// recount recomputes a summary's finding counts after findings were folded.
func recount(s finding.Summary, findings []finding.Finding) finding.Summary {
	c := finding.Summarize(findings)
	s.Total, s.Suppressed, s.BySeverity = c.Total, c.Suppressed, c.BySeverity
	return s
}
