package catalog

import (
	"strings"
	"testing"
)

// TestGemspec covers the assignments RubyGems writes, the "# stub:"
// fallback, and gemspecs that must be errors.
func TestGemspec(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // name@version purl licences
		wantErr bool
	}{
		{"frozen strings", "Gem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"2.2.8\".freeze\n  s.licenses = [\"MIT\".freeze, \"Ruby\".freeze]\nend\n",
			"rack@2.2.8 pkg:gem/rack@2.2.8 MIT,Ruby", false},
		{"plain strings, other receiver", "Gem::Specification.new do |spec|\n  spec.name = \"json\"\n  spec.version = \"2.7.1\"\n  spec.license = \"Ruby\"\nend\n",
			"json@2.7.1 pkg:gem/json@2.7.1 Ruby", false},
		{"stub only", "# stub: puma 6.4.0 ruby lib\n# stub: ext/puma_http11/extconf.rb\n", "puma@6.4.0 pkg:gem/puma@6.4.0 ", false},
		{"assignment wins over stub", "# stub: a 1 ruby lib\ns.name = \"b\".freeze\ns.version = \"2\".freeze\n", "b@2 pkg:gem/b@2 ", false},
		{"description is not a name", "s.description = \"s.name = \\\"x\\\"\".freeze\n", "", true},
		{"no version", "s.name = \"rack\".freeze\n", "", true},
		{"empty", "", "", true},
		{"name with a slash", "s.name = \"../x\"\ns.version = \"1\"\n", "", true},
		{"line too long", "s.name = \"" + strings.Repeat("a", maxGemspecLine) + "\"\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := parseGemspec(t.Context(), Env{}, nil, "specifications/x.gemspec", strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; packages %+v", pkgs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) != 1 {
				t.Fatalf("%d packages", len(pkgs))
			}
			p := pkgs[0]
			if got := p.Name + "@" + p.Version + " " + p.PURL + " " + strings.Join(p.Licenses, ","); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if p.Ecosystem != "RubyGems" || p.Type != "gem" {
				t.Errorf("ecosystem %q type %q", p.Ecosystem, p.Type)
			}
		})
	}
}
