package catalog

import (
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// parseCase is one input of a lock or manifest parser: the packages it
// must yield (as render prints them), or an error containing wantErr.
type parseCase struct {
	name    string
	in      string
	want    []string
	wantErr string
}

// checkParser runs parse on every case; every package must carry the
// cataloger's ecosystem and purl type.
func checkParser(t *testing.T, parse ParseFunc, path, ecosystem, typ string, render func(sbom.Package) string, tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := parse(t.Context(), Env{}, nil, path, strings.NewReader(tt.in))
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
				got = append(got, render(p))
				if p.Ecosystem != ecosystem || p.Type != typ {
					t.Errorf("%s: ecosystem %q type %q", p.Name, p.Ecosystem, p.Type)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func nameVersionPURL(p sbom.Package) string { return p.Name + "@" + p.Version + " " + p.PURL }
func purlOf(p sbom.Package) string          { return p.PURL }
