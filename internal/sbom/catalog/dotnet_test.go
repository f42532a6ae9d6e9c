package catalog

import (
	"strings"
	"testing"
)

// TestDotnetDeps: only "package" libraries are NuGet packages; malformed
// files are errors, never an empty answer.
func TestDotnetDeps(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"packages only", `{"libraries":{"App/1.0.0":{"type":"project"},"System.Text.Json/8.0.0":{"type":"package"},"Microsoft.NETCore.App/8.0.0":{"type":"reference"},"Azure.Core/1.36.0":{"type":"Package"}}}`,
			[]string{"pkg:nuget/Azure.Core@1.36.0", "pkg:nuget/System.Text.Json@8.0.0"}, ""},
		{"no packages", `{"libraries":{"App/1.0.0":{"type":"project"}}}`, nil, ""},
		{"no libraries", `{"targets":{}}`, nil, `no "libraries"`},
		{"bad key", `{"libraries":{"NoVersion":{"type":"package"}}}`, nil, "not Name/Version"},
		{"empty version", `{"libraries":{"A/":{"type":"package"}}}`, nil, "not Name/Version"},
		{"not json", `libraries`, nil, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := parseDotnetDeps(t.Context(), Env{}, nil, "app/App.deps.json", strings.NewReader(tt.in))
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
				if p.Ecosystem != "NuGet" || p.Type != "nuget" {
					t.Errorf("%s: ecosystem %q type %q", p.Name, p.Ecosystem, p.Type)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
