package rpm

import "testing"

// FuzzParse checks that Parse and Vercmp never panic, that Vercmp is
// antisymmetric, and that accepted EVRs round-trip through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1:2.3-4.el9", "1.0~rc1^git1", "xyz.4", "+_", "1.1.α", "0:0-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Vercmp(s, "1.0") != -Vercmp("1.0", s) {
			t.Errorf("Vercmp not antisymmetric for %q", s)
		}
		v, err := Parse(s)
		if err != nil {
			return
		}
		w, err := Parse(v.String())
		if err != nil || v.Compare(w) != 0 {
			t.Fatalf("round trip of %q: %v, %v", s, w, err)
		}
	})
}
