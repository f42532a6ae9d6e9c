package rule

import (
	"fmt"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// ExemptAnnotation exempts an object from rules:
//
//	palisade.io/exempt: "<rule-id>[,<rule-id>]: <reason>"
//
// Several entries may be separated by ";" or new lines. Rule IDs may be
// globs, tags or former IDs (an alias exempts every rule it stands for).
// The reason is mandatory: an entry without one exempts nothing.
const ExemptAnnotation = "palisade.io/exempt"

// Exception exempts findings that match all of its non-empty selectors.
// It comes from a policy file.
type Exception struct {
	// Rules are rule ID globs, tags or former rule IDs (aliases); at least
	// one is required.
	Rules []string `json:"rules"`
	// Namespaces, Kinds and Names are globs; empty matches all.
	Namespaces []string `json:"namespaces,omitempty"`
	Kinds      []string `json:"kinds,omitempty"`
	Names      []string `json:"names,omitempty"`
	// Reason is mandatory.
	Reason string `json:"reason"`
	// Expires, when set, ends the exception (at the start of that day, UTC,
	// when given as a date).
	Expires *time.Time `json:"expires,omitempty"`
	// Source says where the exception is written ("policy p.yaml:12:
	// spec.exceptions[0]"), for the warnings about it; "" when unknown.
	Source string `json:"-"`
}

// where names the exception for messages: its source, or its rules.
func (e *Exception) where() string {
	if e.Source != "" {
		return e.Source + " (rules " + strings.Join(e.Rules, ",") + ")"
	}
	return "policy exception for " + strings.Join(e.Rules, ",")
}

// CheckExceptionRules returns an error for the first rule selector of
// the exceptions that designates no rule of all (every rule the scan
// could run: built-in and custom), naming the exception: a typo in a
// rule ID would otherwise exempt nothing, silently, as --rules refuses.
func CheckExceptionRules(all *Set, exceptions []Exception) error {
	for i := range exceptions {
		for _, sel := range exceptions[i].Rules {
			if _, err := all.Select([]string{sel}); err != nil || strings.HasPrefix(strings.TrimSpace(sel), "-") {
				return fmt.Errorf("%s: rule %q matches no rule ID, tag, framework control or peer check ID (see 'palisade rules list')", exceptions[i].where(), sel)
			}
		}
	}
	return nil
}

// Validate checks an exception's mandatory fields.
func (e *Exception) Validate() error {
	if len(e.Rules) == 0 {
		return fmt.Errorf("exception needs at least one rule")
	}
	if strings.TrimSpace(e.Reason) == "" {
		return fmt.Errorf("exception for %s needs a reason", strings.Join(e.Rules, ","))
	}
	return nil
}

func (e *Exception) matches(rules *Set, f *finding.Finding) bool {
	return rules.Matches(e.Rules, f.RuleID) &&
		matchAnyGlob(e.Namespaces, f.Object.Namespace) &&
		matchAnyGlob(e.Kinds, f.Object.Kind) &&
		matchAnyGlob(e.Names, f.Object.Name)
}

func matchAnyGlob(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if MatchID(g, s) {
			return true
		}
	}
	return false
}

// annotationExemption is one parsed entry of the exempt annotation.
type annotationExemption struct {
	rules  []string
	reason string
}

// ParseExemptAnnotation parses the annotation value. Entries without a
// reason or without rules are returned as errors and exempt nothing.
func ParseExemptAnnotation(value string) ([]annotationExemption, []error) {
	var out []annotationExemption
	var errs []error
	for _, entry := range strings.FieldsFunc(value, func(r rune) bool { return r == ';' || r == '\n' }) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		ids, reason, ok := strings.Cut(entry, ":")
		reason = strings.TrimSpace(reason)
		if !ok || reason == "" {
			errs = append(errs, fmt.Errorf("%s entry %q has no reason (want \"<rule-id>[,<rule-id>]: <reason>\")", ExemptAnnotation, entry))
			continue
		}
		var rules []string
		for _, id := range strings.Split(ids, ",") {
			if id = strings.TrimSpace(id); id != "" {
				rules = append(rules, id)
			}
		}
		if len(rules) == 0 {
			errs = append(errs, fmt.Errorf("%s entry %q names no rule", ExemptAnnotation, entry))
			continue
		}
		out = append(out, annotationExemption{rules: rules, reason: reason})
	}
	return out, errs
}

// exemptAnnotation is one exempt annotation of an object and the field
// path it was written at.
type exemptAnnotation struct{ value, field string }

// exemptAnnotations returns the exempt annotations that apply to an
// object: its own and, for a workload, its pod template's. Both count (the
// union of their entries): authors put the annotation on either, and
// tools that copy template annotations to pods put it on the template.
func exemptAnnotations(o *workload.Object) []exemptAnnotation {
	var out []exemptAnnotation
	if v, ok := o.Annotations()[ExemptAnnotation]; ok {
		out = append(out, exemptAnnotation{v, "metadata.annotations." + ExemptAnnotation})
	}
	if w := o.Workload; w != nil && w.PodMeta != nil && w.PodMeta != w.Meta {
		if v, ok := w.PodMeta.Annotations[ExemptAnnotation]; ok {
			meta := strings.TrimSuffix(w.SpecPath, ".spec") + ".metadata"
			out = append(out, exemptAnnotation{v, meta + ".annotations." + ExemptAnnotation})
		}
	}
	return out
}

// ApplyExemptions marks findings exempted by an object's annotation or by
// a policy exception as suppressed (they stay in the output). Malformed
// annotations and expired exceptions are returned as warnings.
func ApplyExemptions(findings []finding.Finding, rules *Set, inv *workload.Inventory, exceptions []Exception, now time.Time) []finding.Problem {
	var probs []finding.Problem
	byRef := map[finding.ObjectRef][]annotationExemption{}
	for _, o := range inv.Objects {
		for _, a := range exemptAnnotations(o) {
			parsed, errs := ParseExemptAnnotation(a.value)
			for _, err := range errs {
				p := finding.Problem{Level: finding.LevelWarning, Message: fmt.Sprintf("%s: %v", o.Ref, err)}
				if o.Source != nil {
					p.File, p.Line = o.Source.File, o.Source.LineOf(a.field)
				}
				probs = append(probs, p)
			}
			byRef[o.Ref] = append(byRef[o.Ref], parsed...)
		}
	}
	active := make([]Exception, 0, len(exceptions))
	for _, e := range exceptions {
		if e.Expires != nil && !now.Before(*e.Expires) {
			probs = append(probs, finding.Problem{Level: finding.LevelWarning,
				Message: fmt.Sprintf("policy exception for %s (%s) expired on %s and no longer applies",
					strings.Join(e.Rules, ","), e.Reason, e.Expires.Format(time.DateOnly))})
			continue
		}
		active = append(active, e)
	}
	for i := range findings {
		f := &findings[i]
		for _, ex := range byRef[f.Object] {
			if rules.Matches(ex.rules, f.RuleID) {
				f.Suppressed = true
				f.Suppression = &finding.Suppression{Kind: "annotation", Reason: ex.reason}
				break
			}
		}
		if f.Suppressed {
			continue
		}
		for j := range active {
			if active[j].matches(rules, f) {
				f.Suppressed = true
				f.Suppression = &finding.Suppression{Kind: "policy", Reason: active[j].Reason, Expires: active[j].Expires}
				break
			}
		}
	}
	return probs
}

// IdleExceptions warns, once per scan, of each exception whose rules
// designate none of the rules the scan runs (left out by --rules, or
// cluster-level rules in a manifest scan): it exempts nothing, which its
// author does not expect. Expired exceptions are left to ApplyExemptions.
func IdleExceptions(rules *Set, exceptions []Exception, now time.Time) []finding.Problem {
	var probs []finding.Problem
	for i := range exceptions {
		e := &exceptions[i]
		if e.Expires != nil && !now.Before(*e.Expires) {
			continue
		}
		if !matchesAnyRule(rules, e.Rules) {
			probs = append(probs, finding.Problem{Level: finding.LevelWarning,
				Message: fmt.Sprintf("%s matches no rule this scan runs and exempts nothing", e.where())})
		}
	}
	return probs
}

// matchesAnyRule reports whether the selectors designate a rule of the set.
func matchesAnyRule(rules *Set, selectors []string) bool {
	if rules == nil {
		return false
	}
	for _, r := range rules.Rules() {
		if rules.Matches(selectors, r.ID) {
			return true
		}
	}
	return false
}
