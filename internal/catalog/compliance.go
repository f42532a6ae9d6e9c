package catalog

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/catalog/frameworks"
	"github.com/palisade-sec/palisade/internal/finding"
)

// Run describes what one command assessed, for a compliance report.
type Run struct {
	// Command names the command, for reasons ("scan config").
	Command string
	// Scope is frameworks.ScopeNode or ScopeCluster: controls of the
	// other scope are not applicable to this command.
	Scope string
	// Analysers are the analysers the command runs.
	Analysers []string
	// Evaluated holds the IDs of the checks that ran (after --rules).
	Evaluated map[string]bool
	// NotApplicable holds checks that ran but do not concern this input
	// (a node check on a node without that component), with the reason.
	NotApplicable map[string]string
	// Inputs counts the objects each analyser examined (finding.Report
	// Inputs); nil means every analyser had input.
	Inputs map[string]int
}

// Compliance assesses every control of the framework from a run's
// findings. A control is
//   - failed when a check that assesses it has an unsuppressed finding;
//   - passed when at least one of its checks ran over input it concerns
//     and none failed;
//   - not applicable when the control belongs to another scope, when its
//     checks belong to analysers this command does not run, or when every
//     check that ran had nothing to examine or did not concern the input;
//   - manual when no Palisade check assesses it, or when the checks that
//     would were not selected (--rules).
//
// The score is 100 × passed / (passed + failed), rounded to one decimal.
func (c *Catalog) Compliance(f *frameworks.Framework, run Run, findings []finding.Finding) finding.Compliance {
	failing := map[string]int{}
	for _, fd := range findings {
		if !fd.Suppressed {
			failing[fd.RuleID]++
		}
	}
	runs := map[string]bool{}
	for _, a := range run.Analysers {
		runs[a] = true
	}
	byControl := map[string][]*Check{}
	for _, ch := range c.checks {
		for _, id := range f.Named(ch.Frameworks) {
			byControl[id] = append(byControl[id], ch)
		}
	}
	out := finding.Compliance{Framework: f.ID, Title: f.Title, Version: f.Version, Controls: []finding.ControlResult{}}
	for _, ctl := range f.Controls {
		checks := append([]*Check{}, byControl[ctl.ID]...)
		for _, id := range ctl.Checks {
			if ch, ok := c.byID[id]; ok && !containsCheck(checks, id) {
				checks = append(checks, ch)
			}
		}
		r := assessControl(ctl, checks, run, runs, failing)
		switch r.Status {
		case finding.ControlPassed:
			out.Passed++
		case finding.ControlFailed:
			out.Failed++
		case finding.ControlNotApplicable:
			out.NotApplicable++
		default:
			out.Manual++
		}
		out.Controls = append(out.Controls, r)
	}
	if n := out.Passed + out.Failed; n > 0 {
		s := math.Round(1000*float64(out.Passed)/float64(n)) / 10
		out.Score = &s
	}
	return out
}

func assessControl(ctl frameworks.Control, checks []*Check, run Run, runs map[string]bool, failing map[string]int) finding.ControlResult {
	r := finding.ControlResult{ID: ctl.ID, Title: ctl.Title}
	if ctl.Scope != "" && ctl.Scope != run.Scope {
		r.Status = finding.ControlNotApplicable
		r.Reason = "assessed by " + scopeCommand(ctl.Scope)
		return r
	}
	if len(checks) == 0 {
		r.Status = finding.ControlManual
		r.Reason = "no Palisade check assesses this control: review it manually"
		return r
	}
	var ran, deselected, elsewhere []string
	for _, ch := range checks {
		switch {
		case run.Evaluated[ch.ID]:
			ran = append(ran, ch.ID)
		case runs[ch.Analyser]:
			deselected = append(deselected, ch.ID)
		default:
			elsewhere = append(elsewhere, ch.Analyser)
		}
	}
	if len(ran) == 0 {
		if len(deselected) > 0 {
			r.Status = finding.ControlManual
			r.Reason = "its checks were not selected (--rules): " + strings.Join(deselected, ", ")
			return r
		}
		r.Status = finding.ControlNotApplicable
		r.Reason = "assessed by other analysers: " + strings.Join(uniqueSorted(elsewhere), ", ")
		return r
	}
	r.Checks = ran
	var concerned int
	var reasons []string
	for _, id := range ran {
		if n := failing[id]; n > 0 {
			r.FailedChecks = append(r.FailedChecks, id)
			r.Findings += n
		}
		if why, ok := run.NotApplicable[id]; ok {
			reasons = append(reasons, id+": "+why)
			continue
		}
		if a := analyserOf(checks, id); run.Inputs != nil && run.Inputs[a] == 0 {
			reasons = append(reasons, fmt.Sprintf("%s: no input for the %s analyser", id, a))
			continue
		}
		concerned++
	}
	switch {
	case len(r.FailedChecks) > 0:
		r.Status = finding.ControlFailed
	case concerned > 0:
		r.Status = finding.ControlPassed
	default:
		r.Status = finding.ControlNotApplicable
		r.Reason = strings.Join(reasons, "; ")
	}
	return r
}

func scopeCommand(scope string) string {
	if scope == frameworks.ScopeNode {
		return "palisade node audit"
	}
	return "palisade scan config or scan cluster"
}

func analyserOf(checks []*Check, id string) string {
	for _, ch := range checks {
		if ch.ID == id {
			return ch.Analyser
		}
	}
	return ""
}

func containsCheck(checks []*Check, id string) bool {
	return analyserOf(checks, id) != ""
}

func uniqueSorted(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Assess adds to a report one compliance result per framework named.
// A framework of which no control could be assessed is an input error:
// a compliance report with nothing assessed is not a clean one.
func (c *Catalog) Assess(r *finding.Report, names []string, run Run) error {
	for _, name := range names {
		f, err := frameworks.Get(name)
		if err != nil {
			return err
		}
		comp := c.Compliance(f, run, r.Findings)
		if comp.Score == nil {
			r.Problems = append(r.Problems, finding.Problem{Level: finding.LevelError, Message: fmt.Sprintf(
				"framework %s: %s assessed none of its %d controls (%d not applicable, %d manual): no compliance score",
				f.ID, run.Command, len(f.Controls), comp.NotApplicable, comp.Manual)})
			r.Summary.Errors++
		}
		r.Compliance = append(r.Compliance, comp)
	}
	return nil
}

// FrameworkNames validates --framework values (case-insensitive, comma
// separated) and returns them lower-cased.
func FrameworkNames(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if _, err := frameworks.Get(name); err != nil {
				return nil, err
			}
			out = append(out, name)
		}
	}
	return out, nil
}
