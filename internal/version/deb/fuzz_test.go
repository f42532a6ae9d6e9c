package deb

import "testing"

// FuzzParse checks that Parse never panics, that accepted versions print in
// a form that parses back to an equal version, and that CompareLoose never
// panics and is antisymmetric.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.0-1", "1:2.3~rc1-0ubuntu1", "0foo~~", "-", "1:", "9:1.18.36:5.4-20", "1.2a+~bCd3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CompareLoose(s, "1.0") != -CompareLoose("1.0", s) {
			t.Errorf("CompareLoose not antisymmetric for %q", s)
		}
		v, err := Parse(s)
		if err != nil {
			return
		}
		w, err := Parse(v.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not reparse: %v", s, v.String(), err)
		}
		if v.Compare(w) != 0 || w.String() != v.String() {
			t.Fatalf("round trip of %q changed it: %v vs %v", s, v, w)
		}
	})
}
