package rules

import (
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
		if r.HasTag(reliability.Tag) {
			t.Errorf("Default() holds %s", r.ID)
		}
	}
}
