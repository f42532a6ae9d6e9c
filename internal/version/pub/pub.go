// Package pub implements the version order of Dart's pub
// (https://dart.dev/tools/pub/versioning and the pub_semver package's
// documentation), the order of OSV's Pub ranges.
//
// Versions are SemVer 2.0's MAJOR.MINOR.PATCH[-pre][+build] with one
// documented difference: build identifiers count. A version with a build
// suffix sorts after the same version without one ("1.0.0" < "1.0.0+1"
// < "1.0.0+2"), because pub uses "+N" for revisions of a release.
// Identifiers compare as SemVer's pre-release identifiers do: numbers by
// value and below words, words by ASCII order, a shorter list first.
package pub

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid pub version")

// Version is a parsed pub version.
type Version struct {
	core       [3]string
	pre, build []string
}

// Parse reads a pub version.
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	t := s
	var v Version
	var err error
	if i := strings.IndexByte(t, '+'); i >= 0 {
		if v.build, err = idents(t[i+1:]); err != nil {
			return Version{}, fmt.Errorf("%w %q: build: %v", ErrInvalid, s, err)
		}
		t = t[:i]
	}
	if i := strings.IndexByte(t, '-'); i >= 0 {
		if v.pre, err = idents(t[i+1:]); err != nil {
			return Version{}, fmt.Errorf("%w %q: pre-release: %v", ErrInvalid, s, err)
		}
		t = t[:i]
	}
	core := strings.Split(t, ".")
	if len(core) != 3 {
		return Version{}, fmt.Errorf("%w %q: want MAJOR.MINOR.PATCH", ErrInvalid, s)
	}
	for i, c := range core {
		if !numeric.AllDigits(c) {
			return Version{}, fmt.Errorf("%w %q: %q is not a number", ErrInvalid, s, c)
		}
		v.core[i] = c
	}
	return v, nil
}

func idents(s string) ([]string, error) {
	ids := strings.Split(s, ".")
	for _, id := range ids {
		if id == "" {
			return nil, errors.New("empty identifier")
		}
		for i := 0; i < len(id); i++ {
			if c := id[i]; !numeric.IsDigit(c) && !numeric.IsAlpha(c) && c != '-' {
				return nil, fmt.Errorf("invalid character %q", c)
			}
		}
	}
	return ids, nil
}

// Compare orders v and w: the numeric core, a release above its
// pre-releases, the pre-release identifiers, then no build below a build
// and the build identifiers.
func (v Version) Compare(w Version) int {
	for i := range v.core {
		if c := numeric.Compare(v.core[i], w.core[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.pre) == 0 && len(w.pre) > 0:
		return 1
	case len(v.pre) > 0 && len(w.pre) == 0:
		return -1
	}
	if c := compareLists(v.pre, w.pre); c != 0 {
		return c
	}
	return compareLists(v.build, w.build)
}

func compareLists(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		an, bn := numeric.AllDigits(a[i]), numeric.AllDigits(b[i])
		var c int
		switch {
		case an && bn:
			c = numeric.Compare(a[i], b[i])
		case an:
			c = -1
		case bn:
			c = 1
		default:
			c = numeric.Strcmp(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return numeric.Sign(len(a) - len(b))
}

// Compare parses a and b and orders them.
func Compare(a, b string) (int, error) {
	va, err := Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}
