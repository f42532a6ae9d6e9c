package netpol

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/palisade-sec/palisade/internal/finding"
)

// A namespace the input names without its Namespace object is modelled
// with the one label the API server sets, kubernetes.io/metadata.name.
// Its real labels are unknown, so a namespaceSelector on any other label
// may or may not select it: the connectivity printed rests on an
// assumption. undecidedNamespaces reports each policy whose answer
// depends on it, as an error (exit code 2) naming the policy, the
// selector and the namespace: never a clean answer the input cannot
// support. A selector decided by the name label alone (false for this
// name, or only name requirements) is not reported, nor a peer whose pod
// selector matches no workload of that namespace, nor a policy that
// selects no workload.

// selectorDecided reports whether sel's verdict on namespace name is the
// same whatever other labels the namespace has.
func selectorDecided(sel labels.Selector, name string) bool {
	reqs, selectable := sel.Requirements()
	if !selectable || sel.Empty() {
		return true
	}
	known := labels.Set{NamespaceNameLabel: name}
	other := false
	for _, r := range reqs {
		if r.Key() != NamespaceNameLabel {
			other = true
			continue
		}
		if !r.Matches(known) {
			return true
		}
	}
	return !other
}

// undecidedNamespaces lists the implicit namespaces whose unknown labels
// could change what a selector pair (namespace AND pods) matches.
func (m *Model) undecidedNamespaces(nsSel, podSel labels.Selector) []string {
	var names []string
	for _, ns := range m.Namespaces {
		if ns.Declared || selectorDecided(nsSel, ns.Name) {
			continue
		}
		for _, q := range m.Peers {
			if q.Namespace == ns.Name && (podSel == nil || podSel.Matches(q.Labels)) {
				names = append(names, ns.Name)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

// namespaceLabelProblems reports every policy whose verdict depends on the
// labels of namespaces the input does not declare. It runs after index.
func (m *Model) namespaceLabelProblems() []finding.Problem {
	var probs []finding.Problem
	report := func(file string, line int, what, field string, sel labels.Selector, names []string) {
		for _, name := range names {
			probs = append(probs, finding.Problem{File: file, Line: line, Level: finding.LevelError, Message: fmt.Sprintf(
				"%s: %s %q may or may not select namespace %q, which has no Namespace object in the input: the connectivity shown assumes its only label is %s=%s; add the Namespace object with its labels",
				what, field, sel.String(), name, NamespaceNameLabel, name)})
		}
	}
	for _, p := range m.Policies {
		if len(p.selected) == 0 {
			continue
		}
		for _, rules := range [][]*Rule{p.Ingress, p.Egress} {
			for _, r := range rules {
				if (r.Direction == DirIngress && !p.AffectsIngress) || (r.Direction == DirEgress && !p.AffectsEgress) {
					continue
				}
				for i, rp := range r.Peers {
					if rp.NamespaceSelector == nil {
						continue
					}
					report(p.File, p.Line, r.String(), fmt.Sprintf("peer #%d namespaceSelector", i+1), rp.NamespaceSelector, m.undecidedNamespaces(rp.NamespaceSelector, rp.PodSelector))
				}
			}
		}
	}
	for _, a := range m.adminPolicies() {
		var subject []string
		if a.subject.ns != nil {
			subject = m.undecidedNamespaces(a.subject.ns, a.subject.pods)
			report(a.File, a.Line, a.String(), "subject namespace selector", a.subject.ns, subject)
		}
		if len(a.selected) == 0 && len(subject) == 0 {
			continue
		}
		for _, rules := range [][]*AdminRule{a.Ingress, a.Egress} {
			for _, r := range rules {
				for i, pe := range r.peers {
					if pe.ns == nil {
						continue
					}
					report(a.File, a.Line, r.String(), fmt.Sprintf("peer #%d namespace selector", i+1), pe.ns, m.undecidedNamespaces(pe.ns, pe.pods))
				}
			}
		}
	}
	return probs
}

// adminPolicies lists every admin policy of the model: the Admin tier,
// the v1alpha1 baseline and the Baseline tier.
func (m *Model) adminPolicies() []*AdminPolicy {
	all := append([]*AdminPolicy(nil), m.Admin...)
	if m.Baseline != nil {
		all = append(all, m.Baseline)
	}
	return append(all, m.Baselines...)
}
