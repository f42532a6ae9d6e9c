package fleetapi

import (
	"regexp"
	"strings"
	"testing"
)

// bundleNameLanguage is the definition validBundleName implements.
var bundleNameLanguage = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func TestValidBundleName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"", false},
		{"a", true},
		{"Z9", true},
		{"0", true},
		{"policy-bundle_v1.2", true},
		{".hidden", false},
		{"-x", false},
		{"_x", false},
		{"a/b", false},
		{"a\\b", false},
		{"a\n", false},
		{"a b", false},
		{"é", false},
		{"a\x00", false},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"a" + strings.Repeat(".", 127), true},
	} {
		if got := validBundleName(tc.name); got != tc.want {
			t.Errorf("validBundleName(%q) = %v, want %v", tc.name, got, tc.want)
		}
		if got := bundleNameLanguage.MatchString(tc.name); got != tc.want {
			t.Errorf("the expression on %q = %v, want %v (the table is wrong)", tc.name, got, tc.want)
		}
	}
}

// FuzzValidBundleName holds validBundleName to the regular expression it
// replaced.
func FuzzValidBundleName(f *testing.F) {
	for _, s := range []string{"", "a", ".a", "a.", "a/b", "a\n", strings.Repeat("b", 128), strings.Repeat("b", 129), "Ab-_.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validBundleName(s), bundleNameLanguage.MatchString(s); got != want {
			t.Fatalf("validBundleName(%q) = %v, the expression says %v", s, got, want)
		}
	})
}
