package catalog

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/catalog/frameworks"
	"github.com/palisade-sec/palisade/internal/finding"
)

func check(id, analyser string, cis ...string) *Check {
	return &Check{RuleInfo: finding.RuleInfo{ID: id, Analyser: analyser, Frameworks: finding.Frameworks{CIS: cis}}}
}

// TestComplianceStatuses: each control status, and the score defined in
// docs/frameworks.md: 100 × passed / (passed + failed).
func TestComplianceStatuses(t *testing.T) {
	cat, err := New([]*Check{
		check("w/priv", AnalyserWorkload, "5.2.2"),
		check("w/root", AnalyserWorkload, "5.2.7"),
		check("w/cpu", AnalyserWorkload, "5.6.1"),
		check("r/wild", AnalyserRBAC, "5.1.3"),
		check("w/off", AnalyserWorkload, "5.2.9"),
		check("n/anon", AnalyserNode, "5.4.1"),
		check("n/etcd", AnalyserNode, "2.1"),
		check("w/listed", AnalyserWorkload),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fw := &frameworks.Framework{ID: "t", Title: "T", Mapping: frameworks.MappingCIS, Controls: []frameworks.Control{
		{ID: "5.2.2", Title: "failed"},
		{ID: "5.2.7", Title: "passed"},
		{ID: "5.6.1", Title: "passed, finding suppressed"},
		{ID: "5.1.3", Title: "no RBAC input"},
		{ID: "5.2.9", Title: "deselected"},
		{ID: "5.4.1", Title: "other analyser"},
		{ID: "2.1", Title: "other scope", Scope: frameworks.ScopeNode},
		{ID: "5.5.1", Title: "no check"},
		{ID: "9.9", Title: "listed check", Checks: []string{"w/listed"}},
	}}
	run := Run{Command: "scan config", Scope: frameworks.ScopeCluster, Analysers: []string{AnalyserWorkload, AnalyserRBAC},
		Evaluated: map[string]bool{"w/priv": true, "w/root": true, "w/cpu": true, "r/wild": true, "w/listed": true},
		Inputs:    map[string]int{AnalyserWorkload: 3}}
	findings := []finding.Finding{
		{RuleID: "w/priv"}, {RuleID: "w/priv"},
		{RuleID: "w/cpu", Suppressed: true, Suppression: &finding.Suppression{Kind: "annotation"}},
	}
	got := cat.Compliance(fw, run, findings)
	want := map[string]string{
		"5.2.2": finding.ControlFailed, "5.2.7": finding.ControlPassed, "5.6.1": finding.ControlPassed,
		"5.1.3": finding.ControlNotApplicable, "5.2.9": finding.ControlManual, "5.4.1": finding.ControlNotApplicable,
		"2.1": finding.ControlNotApplicable, "5.5.1": finding.ControlManual, "9.9": finding.ControlPassed,
	}
	for _, c := range got.Controls {
		if c.Status != want[c.ID] {
			t.Errorf("control %s (%s): %s, want %s (reason %q)", c.ID, c.Title, c.Status, want[c.ID], c.Reason)
		}
		if c.ID == "5.2.2" && (c.Findings != 2 || len(c.FailedChecks) != 1) {
			t.Errorf("5.2.2: %d findings, failed %v", c.Findings, c.FailedChecks)
		}
		if (c.Status == finding.ControlManual || c.Status == finding.ControlNotApplicable) && c.Reason == "" {
			t.Errorf("control %s: %s without a reason", c.ID, c.Status)
		}
	}
	if got.Passed != 3 || got.Failed != 1 || got.NotApplicable != 3 || got.Manual != 2 {
		t.Errorf("tally %d/%d/%d/%d, want 3/1/3/2", got.Passed, got.Failed, got.NotApplicable, got.Manual)
	}
	if got.Score == nil || *got.Score != 75 {
		t.Errorf("score %v, want 75 (3 passed of 4 assessed)", got.Score)
	}
}

func TestScoreRounding(t *testing.T) {
	cat, _ := New([]*Check{check("a/1", AnalyserWorkload, "1"), check("a/2", AnalyserWorkload, "2"), check("a/3", AnalyserWorkload, "3")}, nil)
	fw := &frameworks.Framework{ID: "t", Mapping: frameworks.MappingCIS, Controls: []frameworks.Control{{ID: "1"}, {ID: "2"}, {ID: "3"}}}
	run := Run{Scope: frameworks.ScopeCluster, Analysers: []string{AnalyserWorkload}, Evaluated: map[string]bool{"a/1": true, "a/2": true, "a/3": true}}
	got := cat.Compliance(fw, run, []finding.Finding{{RuleID: "a/3"}})
	if got.Score == nil || *got.Score != 66.7 {
		t.Errorf("score %v, want 66.7", got.Score)
	}
}

// TestNothingAssessedIsAnError: never a clean compliance report of
// nothing.
func TestNothingAssessedIsAnError(t *testing.T) {
	cat := load(t)
	r := finding.NewReport(nil, nil, 0, nil)
	run := Run{Command: "node audit", Scope: frameworks.ScopeNode, Analysers: []string{AnalyserNode}, Evaluated: map[string]bool{}}
	if err := cat.Assess(r, []string{"pss-baseline"}, run); err != nil {
		t.Fatal(err)
	}
	if r.Summary.Errors != 1 || len(r.Problems) != 1 || r.Compliance[0].Score != nil {
		t.Errorf("errors %d, problems %v, score %v", r.Summary.Errors, r.Problems, r.Compliance[0].Score)
	}
	if err := cat.Assess(r, []string{"pci"}, run); err == nil {
		t.Error("unknown framework accepted")
	}
}

func TestFrameworkNames(t *testing.T) {
	got, err := FrameworkNames([]string{"CIS,nsa", "pss-restricted"})
	if err != nil || len(got) != 3 || got[0] != "cis" {
		t.Errorf("%v %v", got, err)
	}
	if _, err := FrameworkNames([]string{"cis,hipaa"}); err == nil {
		t.Error("unknown framework accepted")
	}
}
