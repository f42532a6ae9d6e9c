package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/rules/reliability"
)

// TestReliabilityOutOfTheDefaultGate: the reliability rules are built in
// and selectable, but a selection that names nothing to include (the
// default scan, or only removals) leaves them out.
func TestReliabilityOutOfTheDefaultGate(t *testing.T) {
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	count := func(sel []string) (reliabilityRules, others int) {
		set, err := all.Select(DefaultSelectors(sel))
		if err != nil {
			t.Fatalf("%v: %v", sel, err)
		}
		for _, r := range set.Rules() {
			if r.HasTag(reliability.Tag) {
				reliabilityRules++
			} else {
				others++
			}
		}
		return
	}
	n := len(reliability.Rules())
	for _, tt := range []struct {
		selectors         []string
		wantRel, minOther int
	}{
		{nil, 0, 50},
		{[]string{"-pss/*"}, 0, 30},
		{[]string{"reliability"}, n, 0},
		{[]string{"hardening,reliability/no-pdb"}, 1, 20},
		{[]string{"reliability/*", "-reliability/priority-class"}, n - 1, 0},
	} {
		rel, other := count(tt.selectors)
		if rel != tt.wantRel || other < tt.minOther || (tt.minOther == 0 && strings.Join(tt.selectors, "") == "reliability" && other != 0) {
			t.Errorf("%v: %d reliability rules and %d others, want %d and at least %d", tt.selectors, rel, other, tt.wantRel, tt.minOther)
		}
	}
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range def.Rules() {
		if r.HasTag(reliability.Tag) || r.HasTag(reliability.TagKubeLinter) {
			t.Errorf("Default() holds %s", r.ID)
		}
	}
}

// TestKubeLinterOptIn: kube-linter's opt-in checks stay out of the
// default gate and of --rules reliability; --rules kube-linter selects
// them all, and a kube-linter check name the one that implements it.
func TestKubeLinterOptIn(t *testing.T) {
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	optIn := len(reliability.KubeLinterRules())
	for _, tt := range []struct {
		selectors []string
		want      []string // opt-in rules selected; nil: none
		wantAll   bool     // every opt-in rule
	}{
		{selectors: nil},
		{selectors: []string{"-pss/*"}},
		{selectors: []string{"reliability"}},
		{selectors: []string{"kube-linter"}, wantAll: true},
		{selectors: []string{"job-ttl-seconds-after-finished"}, want: []string{"reliability/job-ttl"}},
		{selectors: []string{"kube-linter:required-label-owner"}, want: []string{"reliability/owner-label"}},
		{selectors: []string{"kube-linter", "-reliability/owner-label"}, want: nil},
	} {
		set, err := all.Select(DefaultSelectors(tt.selectors))
		if err != nil {
			t.Fatalf("%v: %v", tt.selectors, err)
		}
		var got []string
		for _, r := range set.Rules() {
			if r.HasTag(reliability.TagKubeLinter) {
				got = append(got, r.ID)
			}
		}
		switch {
		case tt.wantAll && len(got) != optIn:
			t.Errorf("%v: %d opt-in rules %v, want all %d", tt.selectors, len(got), got, optIn)
		case tt.wantAll:
		case len(tt.selectors) == 2:
			if len(got) != optIn-1 || slices.Contains(got, "reliability/owner-label") {
				t.Errorf("%v: %v, want every opt-in rule but reliability/owner-label", tt.selectors, got)
			}
		case strings.Join(got, ",") != strings.Join(tt.want, ","):
			t.Errorf("%v: opt-in rules %v, want %v", tt.selectors, got, tt.want)
		}
	}
}
