package apk

import "testing"

// FuzzParse checks that Parse, CompareLoose and Match never panic, that
// CompareLoose is antisymmetric, and that valid versions equal themselves.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.2.3-r4", "0.1_pre2~1234abcd", "1.0bc", "8.2.001", "0.1_alpha1_pre2", "1.0~1234-r1", "3.6.9_post1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CompareLoose(s, "1.0") != -CompareLoose("1.0", s) {
			t.Errorf("CompareLoose not antisymmetric for %q", s)
		}
		if _, err := Match(s, "<~", "1.0"); err != nil {
			t.Fatal(err)
		}
		v, err := Parse(s)
		if err != nil {
			return
		}
		if v.Compare(v) != 0 || v.String() != s {
			t.Fatalf("Parse(%q) not equal to itself", s)
		}
	})
}
