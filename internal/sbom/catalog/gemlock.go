package catalog

// gemfile-lock: the gems Bundler resolved for a Ruby application,
// Gemfile.lock. The file is made of sections whose header starts in
// column 0 (GEM, GIT, PATH, PLATFORMS, DEPENDENCIES, RUBY VERSION,
// BUNDLED WITH). A GEM section lists, under "  specs:", each resolved gem
// at four spaces of indentation as "name (version)" or, for a gem built
// for one platform, "name (version-platform)" ("nokogiri
// (1.16.0-x86_64-linux)"); its own dependencies follow at six spaces and
// are not packages of their own line. Only GEM sections are reported:
// GIT and PATH gems are not versions of rubygems.org, which RubyGems
// advisories are about.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/palisade-sec/palisade/internal/sbom"
)

// maxGemLockGems bounds the gems of one Gemfile.lock.
const maxGemLockGems = 100_000

// GemfileLock returns the cataloger of Bundler's Gemfile.lock.
func GemfileLock() Cataloger {
	return Glob{
		ID:       "gemfile-lock",
		Patterns: []string{"**/Gemfile.lock", "**/gems.locked"},
		MaxSize:  8 << 20,
		Parse:    parseGemfileLock,
	}
}

func parseGemfileLock(_ context.Context, _ Env, _ fs.FS, _ string, r io.Reader) ([]sbom.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	var out []sbom.Package
	section, inSpecs, sawSection := "", false, false
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimRight(sc.Text(), "\r")
		switch {
		case t == "":
			continue
		case t[0] != ' ':
			if strings.Trim(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ ") != "" {
				return nil, fmt.Errorf("line %d: %.40q is not a Bundler section (GEM, DEPENDENCIES ...): not a Gemfile.lock", line, t)
			}
			section, inSpecs, sawSection = t, false, true
			continue
		case t == "  specs:":
			inSpecs = true
			continue
		}
		if section != "GEM" || !inSpecs || !strings.HasPrefix(t, "    ") || strings.HasPrefix(t, "     ") {
			continue
		}
		name, rest, ok := strings.Cut(t[4:], " (")
		if !ok || !strings.HasSuffix(rest, ")") || name == "" || strings.ContainsAny(name, " /\\") {
			return nil, fmt.Errorf("line %d: gem spec %q is not \"name (version)\"", line, t)
		}
		version, platform := gemVersionPlatform(strings.TrimSuffix(rest, ")"))
		if version == "" {
			return nil, fmt.Errorf("line %d: gem %s has no version", line, name)
		}
		if len(out) >= maxGemLockGems {
			return nil, fmt.Errorf("more than %d gems", maxGemLockGems)
		}
		out = append(out, sbom.Package{
			Name:      name,
			Version:   version,
			Ecosystem: sbom.EcosystemRubyGems,
			Type:      "gem",
			PURL:      sbom.PURL("gem", "", name, version, sbom.Qualifier{Key: "platform", Value: platform}),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !sawSection {
		return nil, fmt.Errorf("no Bundler sections (GEM, DEPENDENCIES ...): not a Gemfile.lock")
	}
	return out, nil
}

// gemPlatformStarts are the first words of RubyGems platform names
// (Gem::Platform: cpu-os-version, or a bare "java", "jruby", "mswin32").
var gemPlatformStarts = []string{"x86_64", "x86", "x64", "i386", "i486", "i586", "i686", "aarch64", "arm64", "arm",
	"armv7", "universal", "java", "jruby", "mswin", "mswin32", "mswin64", "mingw", "mingw32", "ppc", "ppc64",
	"ppc64le", "powerpc", "powerpc64", "s390", "s390x", "sparc", "riscv64", "darwin", "linux", "truffleruby", "dalvik"}

// gemVersionPlatform splits "1.16.0-x86_64-linux" into the version and
// the platform. RubyGems versions may themselves contain "-" ("1.0.0-rc1"
// is a prerelease), so only a known platform word after the first "-"
// makes a platform.
func gemVersionPlatform(s string) (version, platform string) {
	v, p, ok := strings.Cut(s, "-")
	if !ok {
		return s, ""
	}
	first, _, _ := strings.Cut(p, "-")
	for _, w := range gemPlatformStarts {
		if first == w {
			return v, p
		}
	}
	return s, ""
}
