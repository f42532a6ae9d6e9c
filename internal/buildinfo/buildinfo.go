// Package buildinfo reports what Palisade binary is running: the version
// stamped at link time, or what the Go toolchain recorded in the binary.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set at link time: -ldflags "-X github.com/palisade-sec/palisade/internal/buildinfo.version=v0.1.0".
var (
	version = ""
	commit  = ""
	date    = ""
)

// Info describes the running binary.
type Info struct {
	Version   string `json:"version" yaml:"version"`
	Commit    string `json:"commit,omitempty" yaml:"commit,omitempty"`
	Date      string `json:"date,omitempty" yaml:"date,omitempty"`
	Modified  bool   `json:"modified,omitempty" yaml:"modified,omitempty"`
	GoVersion string `json:"goVersion" yaml:"goVersion"`
	Platform  string `json:"platform" yaml:"platform"`
}

// Get returns the build information.
func Get() Info {
	i := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.time":
				if i.Date == "" {
					i.Date = s.Value
				}
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	return i
}

// GoBuildTags are the build tags every Palisade binary is built with.
//
// kustomize_disable_go_plugin_support keeps kustomize's Go-plugin loader,
// and with it the standard library's plugin package, out of the binary.
// Linking package plugin makes the Go linker export every symbol
// dynamically and keep every exported method: cmd/palisade grows from
// 126 MB to 160 MB, and the dynamic symbol table the loader touches at
// start-up adds about 28 MiB to the resident set of every command.
// Palisade never loads kustomize plugins (krusty runs with builtins only),
// so nothing is lost. TestBinariesDoNotLinkPlugin guards it.
const GoBuildTags = "kustomize_disable_go_plugin_support"
