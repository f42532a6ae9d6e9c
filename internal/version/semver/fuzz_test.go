package semver

import "testing"

// FuzzParse checks that Parse, ParseLoose and ParseGo never panic and that
// every accepted version prints as strict SemVer that parses back equal.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.2.3-alpha.1+build.5", "v1.2.3", " = v1.2.3beta", "go1.22rc1", "1.21", "v0.0.0-20210101000000-abcdef123456", "1.2.3-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, parse := range map[string]func(string) (Version, error){"Parse": Parse, "ParseLoose": ParseLoose, "ParseGo": ParseGo} {
			v, err := parse(s)
			if err != nil {
				continue
			}
			w, err := Parse(v.String())
			if err != nil {
				t.Fatalf("%s(%q).String() = %q is not strict SemVer: %v", name, s, v.String(), err)
			}
			if v.Compare(w) != 0 || w.String() != v.String() {
				t.Fatalf("%s(%q) round trip changed it", name, s)
			}
		}
	})
}
