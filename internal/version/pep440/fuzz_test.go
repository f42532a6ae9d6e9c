package pep440

import "testing"

// FuzzParse checks that Parse never panics and that the normalised form of
// an accepted version parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1!2.0rc1.post3.dev4+ubuntu.1", "1.0-1", "v1.0a", "1.0+abc_", " 1.0.DEV ", "1.0.post-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		w, err := Parse(v.String())
		if err != nil || w.String() != v.String() || v.Compare(w) != 0 {
			t.Fatalf("Parse(%q) = %q does not round-trip: %v", s, v.String(), err)
		}
	})
}
