package catalog

import (
	"runtime/debug"
	"testing"
)

// TestGoPackagesToolchain: the standard library is never left out of a
// Go binary's packages. Experiment builds keep their suffix (the matcher
// reads the release), development toolchains their whole version (the
// matcher reports them as not checked); the platform comes from the
// build settings.
func TestGoPackagesToolchain(t *testing.T) {
	tests := []struct {
		goVersion, want string
		settings        []debug.BuildSetting
		platform        string
	}{
		{"go1.26.8", "1.26.8", []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}}, "linux/arm64"},
		{"go1.26.8-X:jsonv2", "1.26.8-X:jsonv2", nil, ""},
		{"go1.21.0 X:boringcrypto", "1.21.0", []debug.BuildSetting{{Key: "GOOS", Value: "windows"}}, ""},
		{"go1.26rc1", "1.26rc1", nil, ""},
		{"devel go1.27-4c2e7d1a Tue Dec 1 10:00:00 2026 +0000", "devel go1.27-4c2e7d1a Tue Dec 1 10:00:00 2026 +0000", nil, ""},
	}
	for _, tt := range tests {
		pkgs := GoPackages(&debug.BuildInfo{GoVersion: tt.goVersion, Settings: tt.settings}, "bin/app")
		if len(pkgs) != 1 || pkgs[0].Name != "stdlib" || pkgs[0].Version != tt.want || pkgs[0].Platform != tt.platform {
			t.Errorf("%q: %+v, want stdlib %q on %q", tt.goVersion, pkgs, tt.want, tt.platform)
		}
	}
}
