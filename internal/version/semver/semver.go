// Package semver implements Semantic Versioning 2.0.0 parsing and precedence
// (https://semver.org), plus the variants the vulnerability matcher needs:
// node-semver's loose syntax for npm (ParseLoose) and Go module and
// toolchain versions (ParseGo).
//
// Numeric identifiers are compared by value without conversion, so there is
// no overflow however long they are; only ParseLoose enforces npm's limits.
package semver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
	"github.com/palisade-sec/palisade/internal/version/internal/order"
)

// ErrInvalid is wrapped by every parse error in this package.
var ErrInvalid = errors.New("invalid semantic version")

// Version is a parsed semantic version. Build metadata is kept for String
// but ignored by Compare, as SemVer 2.0 requires.
type Version struct {
	major, minor, patch string // decimal, no leading zeros ("0" for zero)
	pre                 []string
	build               []string
}

// Major, Minor and Patch return the numeric core as decimal strings.
func (v Version) Major() string { return v.major }

// Minor returns the minor version as a decimal string.
func (v Version) Minor() string { return v.minor }

// Patch returns the patch version as a decimal string.
func (v Version) Patch() string { return v.patch }

// Prerelease returns the dot-separated pre-release identifiers, or "".
func (v Version) Prerelease() string { return strings.Join(v.pre, ".") }

// Build returns the dot-separated build metadata, or "".
func (v Version) Build() string { return strings.Join(v.build, ".") }

// String returns the canonical SemVer 2.0 spelling.
func (v Version) String() string {
	s := v.major + "." + v.minor + "." + v.patch
	if len(v.pre) > 0 {
		s += "-" + v.Prerelease()
	}
	if len(v.build) > 0 {
		s += "+" + v.Build()
	}
	return s
}

// Compare returns -1, 0 or 1 as v has lower, equal or higher precedence
// than w (SemVer 2.0 section 11).
func (v Version) Compare(w Version) int {
	if r := numeric.Compare(v.major, w.major); r != 0 {
		return r
	}
	if r := numeric.Compare(v.minor, w.minor); r != 0 {
		return r
	}
	if r := numeric.Compare(v.patch, w.patch); r != 0 {
		return r
	}
	// A version without pre-release has higher precedence than one with.
	switch {
	case len(v.pre) == 0 && len(w.pre) == 0:
		return 0
	case len(v.pre) == 0:
		return 1
	case len(w.pre) == 0:
		return -1
	}
	return order.Idents(v.pre, w.pre)
}

func isIdentChar(c byte) bool {
	return numeric.IsDigit(c) || numeric.IsAlpha(c) || c == '-'
}

func errf(s, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrInvalid, s, fmt.Sprintf(format, args...))
}

// splitIdents splits a dot-separated identifier list, requiring each
// identifier to be non-empty and made of [0-9A-Za-z-].
func splitIdents(s, what, orig string) ([]string, error) {
	ids := strings.Split(s, ".")
	for _, id := range ids {
		if id == "" {
			return nil, errf(orig, "empty %s identifier", what)
		}
		for i := 0; i < len(id); i++ {
			if !isIdentChar(id[i]) {
				return nil, errf(orig, "invalid character %q in %s", id[i], what)
			}
		}
	}
	return ids, nil
}

// Parse parses a strict SemVer 2.0.0 version: MAJOR.MINOR.PATCH with no
// leading zeros, optional -prerelease and +build. No "v" prefix and no
// surrounding whitespace are allowed (see ParseLoose and ParseGo for those).
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	if s == "" {
		return Version{}, fmt.Errorf("%w: empty string", ErrInvalid)
	}
	var v Version
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		b, err := splitIdents(rest[i+1:], "build metadata", s)
		if err != nil {
			return Version{}, err
		}
		v.build = b
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		p, err := splitIdents(rest[i+1:], "pre-release", s)
		if err != nil {
			return Version{}, err
		}
		for _, id := range p {
			if len(id) > 1 && id[0] == '0' && numeric.AllDigits(id) {
				return Version{}, errf(s, "numeric pre-release identifier %q has a leading zero", id)
			}
		}
		v.pre = p
		rest = rest[:i]
	}
	core := strings.Split(rest, ".")
	if len(core) != 3 {
		return Version{}, errf(s, "want MAJOR.MINOR.PATCH")
	}
	for _, c := range core {
		if !numeric.AllDigits(c) {
			return Version{}, errf(s, "version core %q is not a number", c)
		}
		if len(c) > 1 && c[0] == '0' {
			return Version{}, errf(s, "version core %q has a leading zero", c)
		}
	}
	v.major, v.minor, v.patch = core[0], core[1], core[2]
	return v, nil
}

// Compare parses a and b with Parse and compares their precedence.
func Compare(a, b string) (int, error) {
	return order.Parsed(Parse, a, b)
}
