package dockerfile

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// packageCache: a RUN that installs packages must not leave the package
// manager's cache in the layer. Each manager is satisfied by its own
// clean-up in the same RUN (a later RUN cannot shrink an earlier layer) or
// by a cache mount over the cache directory:
//
//	apt-get/apt install   rm -rf /var/lib/apt/lists
//	apk add               --no-cache, or rm -rf /var/cache/apk
//	pip install           --no-cache-dir, or ENV PIP_NO_CACHE_DIR in the stage
//	yum/dnf/microdnf      clean all, or rm -rf /var/cache/yum|dnf
//	npm install/ci        npm cache clean, or rm -rf ~/.npm
//
// Only the stages that become the image are checked (the final stage and
// the stages it builds FROM): a builder stage's cache is thrown away.
func packageCache() *rule.Rule {
	return &rule.Rule{
		ID:          "dockerfile/package-cache",
		Title:       "Package manager cache left in the image",
		Severity:    finding.SeverityLow,
		Description: "Package indexes and downloaded archives stay in the layer that created them: they bloat every pull, make the image differ from build to build, and give an attacker an up-to-date index to install tools from.",
		Remediation: "Clean up in the same RUN that installs (or use the manager's no-cache option), or use a BuildKit cache mount so the cache never enters a layer. Better still, install in a builder stage and copy only the result into a minimal final image.",
		RemediationYAML: "RUN apt-get update \\\n" +
			" && apt-get install -y --no-install-recommends ca-certificates=<version> \\\n" +
			" && rm -rf /var/lib/apt/lists/*\n" +
			"RUN apk add --no-cache curl=<version>\n" +
			"RUN pip install --no-cache-dir -r requirements.txt\n" +
			"RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev",
		References: []finding.Reference{
			cisDocker("4.3", "Ensure that unnecessary packages are not installed in the container"),
			dockerDocs("Building best practices: apt-get", "https://docs.docker.com/build/building/best-practices/#apt-get"),
			dockerDocs("Cache mounts", "https://docs.docker.com/build/cache/optimize/#use-cache-mounts"),
		},
		Tags: tags,
		Dockerfile: func(_ *rule.Context, f *dockerfile.File) []rule.Violation {
			var out []rule.Violation
			for _, s := range imageStages(f) {
				for _, sc := range runScripts(s) {
					mounts := cacheMounts(sc.in)
					for _, pm := range packageManagers() {
						if !pm.install.MatchString(sc.text) || pm.cleaned.MatchString(sc.text) || mountsAny(mounts, pm.cacheDirs) {
							continue
						}
						if pm.envOptOut != "" && stageHasEnv(s, pm.envOptOut) {
							continue
						}
						out = append(out, rule.Violation{Line: sc.in.StartLine,
							Message: fmt.Sprintf("%s without %s in the same RUN leaves its cache in the image", pm.name, pm.fix)})
					}
				}
			}
			return out
		},
	}
}

// packageManager describes how one manager installs and how its cache is
// cleaned or avoided.
type packageManager struct {
	name      string
	install   *regexp.Regexp
	cleaned   *regexp.Regexp
	cacheDirs []string
	fix       string
	// envOptOut is an environment variable that, set in the stage,
	// disables the cache.
	envOptOut string
}

// opts matches command-line options between a command and its verb.
const opts = `(?:\s+-\S+)*\s+`

// packageManagers is built on first use: its expressions cost the
// binary's start-up nothing when no Dockerfile is scanned.
var packageManagers = sync.OnceValue(func() []packageManager {
	return []packageManager{
		{
			name:      "apt-get install",
			install:   regexp.MustCompile(`\bapt(?:-get)?` + opts + `install\b`),
			cleaned:   regexp.MustCompile(`\brm\s+[^;&|\n]*/var/lib/apt/lists`),
			cacheDirs: []string{"/var/lib/apt", "/var/cache/apt"},
			fix:       "rm -rf /var/lib/apt/lists/*",
		},
		{
			name:      "apk add",
			install:   regexp.MustCompile(`\bapk` + opts + `add\b`),
			cleaned:   regexp.MustCompile(`\bapk\b[^;&|\n]*--no-cache\b|\brm\s+[^;&|\n]*/var/cache/apk`),
			cacheDirs: []string{"/var/cache/apk", "/etc/apk/cache"},
			fix:       "--no-cache",
		},
		{
			name:      "pip install",
			install:   regexp.MustCompile(`\bpip[0-9.]*` + opts + `install\b`),
			cleaned:   regexp.MustCompile(`\bpip[0-9.]*\b[^;&|\n]*--no-cache-dir\b|\bpip[0-9.]*\s+cache\s+purge\b`),
			cacheDirs: []string{"/.cache/pip", "/.cache"},
			fix:       "--no-cache-dir",
			envOptOut: "PIP_NO_CACHE_DIR",
		},
		{
			name:      "yum/dnf install",
			install:   regexp.MustCompile(`\b(?:yum|dnf|microdnf|tdnf)` + opts + `install\b`),
			cleaned:   regexp.MustCompile(`\b(?:yum|dnf|microdnf|tdnf)\s+clean\s+all\b|\brm\s+[^;&|\n]*/var/cache/(?:yum|dnf)`),
			cacheDirs: []string{"/var/cache/yum", "/var/cache/dnf"},
			fix:       "clean all",
		},
		{
			name:      "npm install",
			install:   regexp.MustCompile(`\bnpm` + opts + `(?:install|i|ci)\b`),
			cleaned:   regexp.MustCompile(`\bnpm\s+cache\s+clean\b|\brm\s+[^;&|\n]*\.npm\b`),
			cacheDirs: []string{"/.npm"},
			fix:       "npm cache clean --force",
		},
	}
})

// cacheMounts returns the targets of the RUN's --mount=type=cache flags.
func cacheMounts(in *dockerfile.Instruction) []string {
	var targets []string
	for _, m := range in.FlagValues("mount") {
		var isCache bool
		var target string
		for _, field := range strings.Split(m, ",") {
			k, v, _ := strings.Cut(field, "=")
			switch strings.ToLower(k) {
			case "type":
				isCache = v == "cache"
			case "target", "dst", "destination":
				target = v
			}
		}
		if isCache && target != "" {
			targets = append(targets, target)
		}
	}
	return targets
}

// mountsAny reports whether a cache mount covers one of the cache
// directories (given as absolute paths or as path suffixes such as
// "/.npm", so that /root/.npm and /home/node/.npm both count).
func mountsAny(targets, dirs []string) bool {
	for _, t := range targets {
		t = strings.TrimSuffix(t, "/")
		for _, d := range dirs {
			if t == d || strings.HasSuffix(t, d) || strings.HasPrefix(d, t+"/") {
				return true
			}
		}
	}
	return false
}

// stageHasEnv reports whether the stage sets the environment variable.
func stageHasEnv(s *dockerfile.Stage, name string) bool {
	for _, in := range s.Instructions {
		if in.Command != "env" {
			continue
		}
		for _, kv := range in.KeyValues {
			if kv.Key == name {
				return true
			}
		}
	}
	return false
}
