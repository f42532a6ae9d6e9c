package maven

import "testing"

// FuzzParse checks that Parse never panics, that a version equals itself,
// and that comparison against a fixed version is antisymmetric.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.0-SNAPSHOT", "1-ga-1", "2.5.6.SEC03", "1..-.-a1b", "-", ".", "1a1-b2.m3"} {
		f.Add(s)
	}
	ref, err := Parse("1.0-rc-1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		if v.Compare(v) != 0 {
			t.Fatalf("%q not equal to itself", s)
		}
		if v.Compare(ref) != -ref.Compare(v) {
			t.Fatalf("%q: comparison with %v not antisymmetric", s, ref)
		}
		_ = v.Canonical()
	})
}
