package semver

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
	"github.com/palisade-sec/palisade/internal/version/internal/order"
)

// ParseGo parses a Go module or Go toolchain version into semantic-version
// form, as the Go vulnerability database does for its "stdlib" and
// "toolchain" ranges:
//
//   - module versions with or without the leading "v" ("v1.2.3", "1.2.3"),
//     including pseudo-versions ("v0.0.0-20210101000000-abcdef123456",
//     which order correctly as SemVer pre-releases) and "+incompatible";
//   - Go toolchain versions with or without the "go" prefix: "go1.21.3",
//     "go1.22rc1" = 1.22.0-rc.1, "go1.9beta2" = 1.9.0-beta.2, "go1.21" =
//     1.21.0, "go1" = 1.0.0, "1.22rc1".
//
// The mapping follows the vulnerability database (golang.org/x/vulndb),
// where "go1.21" means the 1.21.0 release. Note that go/version orders the
// language version "go1.21" before "go1.21rc1"; ranges in the database never
// use that form for Go 1.21 and later.
func ParseGo(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	if t, ok := strings.CutPrefix(s, "go"); ok {
		return parseToolchain(t, s)
	}
	t := strings.TrimPrefix(s, "v")
	if v, err := Parse(t); err == nil {
		return v, nil
	}
	if v, err := parseToolchain(t, s); err == nil {
		return v, nil
	}
	return Version{}, errf(s, "not a Go module or toolchain version")
}

// CompareGo parses a and b with ParseGo and compares them.
func CompareGo(a, b string) (int, error) {
	return order.Parsed(ParseGo, a, b)
}

// parseToolchain parses N[.N[.N]][(alpha|beta|rc)N].
func parseToolchain(t, orig string) (Version, error) {
	var parts []string
	pos := 0
	for len(parts) < 3 {
		start := pos
		for pos < len(t) && numeric.IsDigit(t[pos]) {
			pos++
		}
		num := t[start:pos]
		if num == "" || (len(num) > 1 && num[0] == '0') {
			return Version{}, errf(orig, "bad Go version number")
		}
		parts = append(parts, num)
		if pos < len(t) && t[pos] == '.' {
			pos++
			continue
		}
		break
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	v := Version{major: parts[0], minor: parts[1], patch: parts[2]}
	if pos == len(t) {
		return v, nil
	}
	rest := t[pos:]
	for _, kind := range []string{"alpha", "beta", "rc"} {
		n, ok := strings.CutPrefix(rest, kind)
		if !ok {
			continue
		}
		if !numeric.AllDigits(n) || (len(n) > 1 && n[0] == '0') {
			return Version{}, errf(orig, "bad Go pre-release number")
		}
		v.pre = []string{kind, n}
		return v, nil
	}
	return Version{}, errf(orig, "unexpected %q in Go version", rest)
}
