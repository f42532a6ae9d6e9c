package catalog

import "testing"

// TestDotnetDeps: only "package" libraries are NuGet packages; malformed
// files are errors, never an empty answer.
func TestDotnetDeps(t *testing.T) {
	checkParser(t, parseDotnetDeps, "app/App.deps.json", "NuGet", "nuget", purlOf, []parseCase{
		{"packages only", `{"libraries":{"App/1.0.0":{"type":"project"},"System.Text.Json/8.0.0":{"type":"package"},"Microsoft.NETCore.App/8.0.0":{"type":"reference"},"Azure.Core/1.36.0":{"type":"Package"}}}`,
			[]string{"pkg:nuget/Azure.Core@1.36.0", "pkg:nuget/System.Text.Json@8.0.0"}, ""},
		{"no packages", `{"libraries":{"App/1.0.0":{"type":"project"}}}`, nil, ""},
		{"no libraries", `{"targets":{}}`, nil, `no "libraries"`},
		{"bad key", `{"libraries":{"NoVersion":{"type":"package"}}}`, nil, "not Name/Version"},
		{"empty version", `{"libraries":{"A/":{"type":"package"}}}`, nil, "not Name/Version"},
		{"not json", `libraries`, nil, "invalid character"},
	})
}
