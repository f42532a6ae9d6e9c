package rule

import (
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/workload"
)

func testRule(id string, aliases []string, tags ...string) *Rule {
	return &Rule{ID: id, Aliases: aliases, Tags: tags, Title: id,
		Workload: func(*Context, *workload.Workload) []Violation { return nil }}
}

// splitSet is a set where "x/resources" was split into two rules.
func splitSet(t *testing.T) *Set {
	t.Helper()
	s, err := NewSet(
		testRule("x/cpu-limits", []string{"x/resources"}, "hardening"),
		testRule("x/memory-limits", []string{"x/resources"}, "hardening"),
		testRule("x/latest-tag", nil, "hardening"),
		testRule("y/privileged", nil, "pss-baseline"),
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ids(s *Set) string {
	var out []string
	for _, r := range s.Rules() {
		out = append(out, r.ID)
	}
	return strings.Join(out, ",")
}

func TestSelectAliases(t *testing.T) {
	tests := []struct {
		selectors []string
		want      string
	}{
		{[]string{"x/resources"}, "x/cpu-limits,x/memory-limits"},
		{[]string{"-x/resources"}, "x/latest-tag,y/privileged"},
		{[]string{"hardening", "-x/resources"}, "x/latest-tag"},
		{[]string{"x/res*"}, "x/cpu-limits,x/memory-limits"},
		{[]string{"x/resources", "-x/cpu-limits"}, "x/memory-limits"},
		{[]string{"x/cpu-limits"}, "x/cpu-limits"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.selectors, " "), func(t *testing.T) {
			got, err := splitSet(t).Select(tt.selectors)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tt.want {
				t.Errorf("selected %s, want %s", ids(got), tt.want)
			}
			for _, id := range strings.Split(tt.want, ",") {
				r, _ := got.Get(id)
				for _, a := range r.Aliases {
					if !slices.Contains(got.ByAlias(a), r) {
						t.Errorf("selected set lost alias %s of %s", a, id)
					}
				}
			}
		})
	}
}

func TestNewSetRejectsAliasClashes(t *testing.T) {
	tests := []struct {
		name  string
		rules []*Rule
	}{
		{"alias is an earlier rule's ID", []*Rule{testRule("a", nil), testRule("b", []string{"a"})}},
		{"ID is an earlier rule's alias", []*Rule{testRule("b", []string{"a"}), testRule("a", nil)}},
		{"alias is its own ID", []*Rule{testRule("a", []string{"a"})}},
		{"empty alias", []*Rule{testRule("a", []string{""})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSet(tt.rules...); err == nil {
				t.Error("NewSet accepted the clash")
			}
		})
	}
	if _, err := NewSet(testRule("a", []string{"old"}), testRule("b", []string{"old"})); err != nil {
		t.Errorf("two rules split from one alias: %v", err)
	}
}

func TestMatches(t *testing.T) {
	s := splitSet(t)
	tests := []struct {
		selectors []string
		id        string
		want      bool
	}{
		{[]string{"x/resources"}, "x/cpu-limits", true},
		{[]string{"x/resources"}, "x/memory-limits", true},
		{[]string{"x/resources"}, "x/latest-tag", false},
		{[]string{"x/*"}, "x/latest-tag", true},
		{[]string{"pss-baseline"}, "y/privileged", true},
		{[]string{"x/resources"}, "custom/unknown", false},
		{[]string{"custom/*"}, "custom/unknown", true},
	}
	for _, tt := range tests {
		if got := s.Matches(tt.selectors, tt.id); got != tt.want {
			t.Errorf("Matches(%v, %s) = %v, want %v", tt.selectors, tt.id, got, tt.want)
		}
	}
}
