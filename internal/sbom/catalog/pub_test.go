package catalog

import (
	"strings"
	"testing"
)

// TestPubLock: hosted packages only; malformed files are errors.
func TestPubLock(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"hosted only", "packages:\n  b:\n    source: hosted\n    version: \"1.0.0\"\n  a:\n    source: hosted\n    version: \"2.0.0+1\"\n  c:\n    source: path\n    version: \"0.0.1\"\n  flutter:\n    source: sdk\n    version: \"0.0.0\"\n",
			[]string{"pkg:pub/a@2.0.0%2B1", "pkg:pub/b@1.0.0"}, ""},
		{"no packages", "sdks:\n  dart: \">=3.0.0 <4.0.0\"\n", nil, ""},
		{"hosted without version", "packages:\n  a:\n    source: hosted\n", nil, "no name or version"},
		{"empty", "", nil, "empty"},
		{"packages not a map", "packages: [1, 2]\n", nil, "cannot unmarshal"},
		{"alias bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\npackages: *h\n", nil, "yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := parsePubLock(t.Context(), Env{}, nil, "pubspec.lock", strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, p.PURL)
				if p.Ecosystem != "Pub" || p.Type != "pub" {
					t.Errorf("%s: ecosystem %q type %q", p.Name, p.Ecosystem, p.Type)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
