package catalog

import "testing"

// TestPubLock: hosted packages only; malformed files are errors.
func TestPubLock(t *testing.T) {
	checkParser(t, parsePubLock, "pubspec.lock", "Pub", "pub", purlOf, []parseCase{
		{"hosted only", "packages:\n  b:\n    source: hosted\n    version: \"1.0.0\"\n  a:\n    source: hosted\n    version: \"2.0.0+1\"\n  c:\n    source: path\n    version: \"0.0.1\"\n  flutter:\n    source: sdk\n    version: \"0.0.0\"\n",
			[]string{"pkg:pub/a@2.0.0%2B1", "pkg:pub/b@1.0.0"}, ""},
		{"no packages", "sdks:\n  dart: \">=3.0.0 <4.0.0\"\n", nil, ""},
		{"hosted without version", "packages:\n  a:\n    source: hosted\n", nil, "no name or version"},
		{"empty", "", nil, "empty"},
		{"packages not a map", "packages: [1, 2]\n", nil, "cannot unmarshal"},
		{"alias bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\npackages: *h\n", nil, "yaml:"},
	})
}
