// Package pss turns every Pod Security Standards control of
// k8s.io/pod-security-admission/policy into a Palisade rule. The checks
// themselves are the library's: nothing here re-implements a control.
//
// The level a workload is held to comes from its namespace's
// pod-security.kubernetes.io/enforce label, or the default level. At the
// restricted level, a restricted control that overrides a baseline one
// (capabilities, seccomp, volumes, procMount) replaces it, exactly as the
// admission controller does.
//
// Severity follows the risk, not the level: every baseline control is
// HIGH or CRITICAL; what the restricted level adds is MEDIUM, except that
// a restricted control replacing a baseline one that the pod also fails
// keeps the baseline's severity. A namespace labelled privileged switches
// the controls off; its workloads' findings at the default level are
// still reported, as suppressed. The privileged level itself
// (--pss-level privileged) restricts nothing, so no control is enforced
// there; the baseline controls' findings are still reported, at their
// severity, suppressed with the level as the reason (SuppressionPSSLevel),
// so that choosing the level never makes a privileged container look
// clean; the hardening rules that carry the same risks
// (hardening/privileged-container, host-pid, host-ipc, host-network,
// host-port, host-path-volume, privilege-escalation, run-as-root,
// dangerous-capabilities, default-capabilities-kept ...) report them
// unsuppressed there (docs/policy.md: each setting is reported once, by
// the control where it is in force, else by the hardening rule).
package pss

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// IDPrefix starts every Pod Security rule ID.
const IDPrefix = "pss/"

// SuppressionPSSLevel marks the findings of the baseline controls at the
// privileged level (--pss-level privileged), which enforces none.
const SuppressionPSSLevel = "pss-level"

// control is Palisade's metadata for one library check.
type control struct {
	severity    finding.Severity
	title       string
	description string
	remediation string
	fixYAML     string
	cis         string // CIS Kubernetes Benchmark section
	pssAnchor   string // anchor in the Pod Security Standards page
}

// RuleID maps a library check ID ("capabilities_baseline") to a rule ID
// ("pss/capabilities-baseline").
func RuleID(checkID policy.CheckID) string {
	return IDPrefix + kebab(string(checkID))
}

var camelBoundary = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([a-z0-9])([A-Z])`) })

func kebab(s string) string {
	s = camelBoundary().ReplaceAllString(s, "$1-$2")
	return strings.ToLower(strings.ReplaceAll(s, "_", "-"))
}

// Rules returns one rule per Pod Security check of the library, using its
// newest version of each check.
func Rules() ([]*rule.Rule, error) {
	checks := policy.DefaultChecks()
	byID := map[policy.CheckID]policy.Check{}
	overriddenBy := map[policy.CheckID][]policy.CheckID{}
	for _, c := range checks {
		byID[c.ID] = c
		latest := c.Versions[len(c.Versions)-1]
		for _, o := range latest.OverrideCheckIDs {
			overriddenBy[o] = append(overriddenBy[o], c.ID)
		}
	}
	var out []*rule.Rule
	for _, c := range checks {
		meta, ok := controls[c.ID]
		if !ok {
			return nil, fmt.Errorf("pod security check %q has no Palisade metadata; add it to controls", c.ID)
		}
		var overridden []overriddenCheck
		for _, o := range c.Versions[len(c.Versions)-1].OverrideCheckIDs {
			oc, ok := byID[o]
			if !ok {
				return nil, fmt.Errorf("pod security check %q overrides unknown check %q", c.ID, o)
			}
			overridden = append(overridden, overriddenCheck{check: oc.Versions[len(oc.Versions)-1].CheckPod, severity: controls[o].severity})
		}
		out = append(out, newRule(c, meta, overriddenBy[c.ID], overridden))
	}
	return out, nil
}

// overriddenCheck is a baseline check that a restricted one replaces at
// the restricted level, with the severity of its control.
type overriddenCheck struct {
	check    policy.CheckPodFn
	severity finding.Severity
}

func newRule(c policy.Check, meta control, overriders []policy.CheckID, overridden []overriddenCheck) *rule.Rule {
	latest := c.Versions[len(c.Versions)-1]
	tags := []string{rule.TagPSSRestricted}
	level := rule.LevelRestricted
	if c.Level == api.LevelBaseline {
		tags = []string{rule.TagPSSBaseline, rule.TagPSSRestricted}
		level = rule.LevelBaseline
	}
	refs := []finding.Reference{{
		Title: fmt.Sprintf("Pod Security Standards, %s: %s", c.Level, meta.title),
		URL:   "https://kubernetes.io/docs/concepts/security/pod-security-standards/#" + meta.pssAnchor,
	}}
	if meta.cis != "" {
		refs = append(refs, finding.Reference{Title: "CIS Kubernetes Benchmark " + meta.cis})
	}
	refs = append(refs, finding.Reference{Title: "NSA/CISA Kubernetes Hardening Guide: Pod security",
		URL: "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF"})
	id := RuleID(c.ID)
	check := latest.CheckPod
	// Rule IDs of the stricter controls, computed once: RuleID runs a
	// regular expression, and this list is read for every workload.
	overriderIDs := make([]string, len(overriders))
	for i, o := range overriders {
		overriderIDs[i] = RuleID(o)
	}
	// At the privileged level the baseline controls are reported,
	// suppressed with this reason (shared by the findings, read only).
	notEnforced := &finding.Suppression{Kind: SuppressionPSSLevel,
		Reason: "the Pod Security level is privileged, which enforces no control; shown for the risk"}
	return &rule.Rule{
		ID:              id,
		Title:           meta.title,
		Severity:        meta.severity,
		Description:     meta.description,
		Remediation:     meta.remediation,
		RemediationYAML: meta.fixYAML,
		References:      refs,
		Tags:            tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			ps := ctx.PodSecurityFor(w.Namespace())
			nsLevel, suppression := ps.Level, ps.Suppression
			switch {
			case nsLevel == rule.LevelPrivileged && level == rule.LevelBaseline:
				// Judged at baseline, reported suppressed (see the
				// package comment).
				nsLevel = rule.LevelBaseline
				if suppression == nil {
					suppression = notEnforced
				}
			case !ps.Applies(level):
				return nil
			}
			if nsLevel == rule.LevelRestricted {
				for _, o := range overriderIDs {
					if ctx.Selected(o) {
						return nil // the stricter control reports instead
					}
				}
			}
			spec := w.Spec
			res := check(w.PodMeta, spec)
			if res.Allowed {
				return nil
			}
			msg := res.ForbiddenReason
			if res.ForbiddenDetail != "" {
				msg += " (" + res.ForbiddenDetail + ")"
			}
			source := ps.Source
			if ps.Level == rule.LevelPrivileged {
				source += "; privileged, not enforced"
			}
			msg = "violates Pod Security " + strconv.Quote(nsLevel) + " (" + source + "): " + msg
			v := rule.Violation{Message: msg, Field: w.SpecPath, Suppression: suppression}
			if nsLevel == rule.LevelRestricted {
				v.Severity = baselineSeverity(overridden, w.PodMeta, spec)
			}
			if c, ok := firstNamedContainer(w, res.ForbiddenDetail); ok {
				v.Container = c.Name
				v.Field = w.Field(c.Path)
			}
			return []rule.Violation{v}
		},
	}
}

// baselineSeverity returns the severity of the baseline checks that a
// restricted check replaces and that the pod also fails, or 0 when it
// passes them all: a hostPath volume is as dangerous under the
// restricted control that reports it as under the baseline one, so the
// finding keeps the baseline's severity at every level.
func baselineSeverity(overridden []overriddenCheck, meta *metav1.ObjectMeta, spec *corev1.PodSpec) finding.Severity {
	var sev finding.Severity
	for _, o := range overridden {
		if o.severity > sev && !o.check(meta, spec).Allowed {
			sev = o.severity
		}
	}
	return sev
}

// firstNamedContainer finds the first container the library's detail
// message names (it quotes container names), to point at its lines.
func firstNamedContainer(w *workload.Workload, detail string) (workload.Container, bool) {
	best, bestAt := workload.Container{}, -1
	for _, c := range w.Containers() {
		if i := strings.Index(detail, `"`+c.Name+`"`); i >= 0 && (bestAt < 0 || i < bestAt) {
			best, bestAt = c, i
		}
	}
	return best, bestAt >= 0
}
