package buildinfo

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinariesDoNotLinkPlugin checks that no Palisade binary, built with
// GoBuildTags, links the standard library's plugin package (see
// GoBuildTags for what it costs). A new dependency that imports plugin
// fails here, naming the package that imports it.
func TestBinariesDoNotLinkPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over every binary's dependencies")
	}
	for _, bin := range []string{"palisade", "palisade-admission", "palisade-agent", "palisade-scan"} {
		t.Run(bin, func(t *testing.T) {
			pkg := "github.com/palisade-sec/palisade/cmd/" + bin
			cmd := exec.Command("go", "list", "-deps", "-tags", GoBuildTags, "-f", `{{.ImportPath}} {{join .Imports " "}}`, pkg)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list %s: %v", pkg, err)
			}
			for _, line := range strings.Split(string(out), "\n") {
				fields := strings.Fields(line)
				for _, imp := range fields[min(1, len(fields)):] {
					if imp == "plugin" {
						t.Errorf("%s links package plugin, imported by %s", bin, fields[0])
					}
				}
			}
		})
	}
}
