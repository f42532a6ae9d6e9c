// Package version selects the version ordering for an OSV ecosystem, so the
// vulnerability matcher can evaluate OSV "ECOSYSTEM" and "SEMVER" ranges
// without knowing each packaging system's rules. The per-ecosystem rules
// live in the sub-packages deb, apk, rpm, semver, pep440 and maven.
package version

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/apk"
	"github.com/palisade-sec/palisade/internal/version/composer"
	"github.com/palisade-sec/palisade/internal/version/deb"
	"github.com/palisade-sec/palisade/internal/version/gem"
	"github.com/palisade-sec/palisade/internal/version/generic"
	"github.com/palisade-sec/palisade/internal/version/maven"
	"github.com/palisade-sec/palisade/internal/version/nuget"
	"github.com/palisade-sec/palisade/internal/version/pep440"
	"github.com/palisade-sec/palisade/internal/version/pub"
	"github.com/palisade-sec/palisade/internal/version/rpm"
	"github.com/palisade-sec/palisade/internal/version/semver"
)

// Comparer orders version strings of one ecosystem.
type Comparer interface {
	// Compare returns -1, 0 or 1 as a sorts before, equal to or after b, or
	// an error if either is not a valid version for the ecosystem. It is
	// safe for concurrent use.
	Compare(a, b string) (int, error)
}

// ErrUnsupported is wrapped by For's error for an unknown ecosystem.
var ErrUnsupported = errors.New("unsupported ecosystem")

// Func adapts a comparison function to the Comparer interface.
type Func func(a, b string) (int, error)

// Compare calls f(a, b).
func (f Func) Compare(a, b string) (int, error) { return f(a, b) }

// Ecosystem returns the base OSV ecosystem name, dropping a release suffix
// such as ":12" in "Debian:12" or ":v3.18" in "Alpine:v3.18".
func Ecosystem(name string) string {
	base, _, _ := strings.Cut(name, ":")
	return strings.TrimSpace(base)
}

// For returns the Comparer for an OSV ecosystem name (see
// https://ossf.github.io/osv-schema/#affectedpackage-field), with or without
// a ":release" suffix. Names are matched exactly as OSV spells them, except
// that case is ignored.
//
// The semver-based ecosystems (Go, npm, crates.io, Hex, SwiftURL, Pub) and
// RubyGems, NuGet and Packagist accept the OSV range sentinel "0" (as in
// "introduced": "0") as a version lower than every other, pre-releases of
// 0 included; the distributions' grammars already order "0" at or near
// the bottom.
func For(ecosystem string) (Comparer, error) {
	switch strings.ToLower(Ecosystem(ecosystem)) {
	case "debian", "ubuntu":
		return Func(deb.Compare), nil
	case "alpine", "wolfi", "chainguard":
		return Func(apk.Compare), nil
	case "red hat", "almalinux", "rocky linux", "suse", "opensuse", "mageia", "openeuler",
		// rpm distributions OSV has no export of; their advisories come in
		// the vendors' formats (Amazon's ALAS) and compare as rpm does.
		"amazon linux", "fedora", "mariner", "azure linux", "oracle linux", "photon os":
		return Func(rpm.Compare), nil
	case "go":
		// ParseGo already reads "0" as 0.0.0, the lowest Go version.
		return Func(semver.CompareGo), nil
	case "npm":
		return Func(withZeroSentinel(semver.ParseLoose)), nil
	case "crates.io", "hex":
		// Cargo and Elixir's Version both read SemVer 2.0 strictly.
		return Func(withZeroSentinel(semver.Parse)), nil
	case "swifturl":
		// SwiftPM versions are SemVer 2.0; tags may carry a "v".
		return Func(withZeroSentinel(semver.ParseLoose)), nil
	case "pub":
		return Func(zeroSentinel(pub.Compare)), nil
	case "rubygems":
		return Func(zeroSentinel(gem.Compare)), nil
	case "nuget":
		return Func(zeroSentinel(nuget.Compare)), nil
	case "packagist":
		return Func(zeroSentinel(composer.Compare)), nil
	case "pypi":
		return Func(pep440.Compare), nil
	case "maven":
		return Func(maven.Compare), nil
	case "node.js", "cpython", "openjdk", "openssl", "conancenter":
		// Runtimes found as binaries and Conan's C libraries are matched
		// by NVD's CPE ranges, in the generic order of upstream releases.
		return Func(generic.Compare), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupported, ecosystem)
}

// zeroSentinel wraps an ecosystem's comparison so that the OSV sentinel
// "0" is lower than any version (and equal to itself); other versions are
// compared, and validated, by cmp.
func zeroSentinel(cmp func(a, b string) (int, error)) func(a, b string) (int, error) {
	return func(a, b string) (int, error) {
		switch {
		case a == "0" && b == "0":
			return 0, nil
		case a == "0":
			if _, err := cmp(b, b); err != nil {
				return 0, err
			}
			return -1, nil
		case b == "0":
			if _, err := cmp(a, a); err != nil {
				return 0, err
			}
			return 1, nil
		}
		return cmp(a, b)
	}
}

// withZeroSentinel compares with parse, treating the OSV sentinel "0" as
// lower than any version (and equal to itself).
func withZeroSentinel(parse func(string) (semver.Version, error)) func(a, b string) (int, error) {
	return func(a, b string) (int, error) {
		var va, vb semver.Version
		var err error
		if a != "0" {
			if va, err = parse(a); err != nil {
				return 0, err
			}
		}
		if b != "0" {
			if vb, err = parse(b); err != nil {
				return 0, err
			}
		}
		switch {
		case a == "0" && b == "0":
			return 0, nil
		case a == "0":
			return -1, nil
		case b == "0":
			return 1, nil
		}
		return va.Compare(vb), nil
	}
}
