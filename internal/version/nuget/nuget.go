// Package nuget implements NuGet's version order (NuGetVersion, documented
// at https://learn.microsoft.com/nuget/concepts/package-versioning), the
// order of OSV's NuGet ranges.
//
// A version is Major.Minor[.Patch[.Revision]] with optional -prerelease
// and +metadata, as SemVer 2.0 spells them, read leniently as NuGet does:
// missing parts are 0 ("1.0" equals "1.0.0" and "1.0.0.0"), numbers may
// have leading zeros, a fourth part is allowed. Pre-release labels are
// compared as SemVer 2.0 does but without regard to case; build metadata
// is ignored.
package nuget

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid NuGet version")

// Version is a parsed NuGet version.
type Version struct {
	parts [4]string // decimal, no leading zeros, "" for 0
	pre   []string  // lower-cased labels
}

// Parse reads a NuGet version; surrounding whitespace is ignored.
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	t := strings.TrimSpace(s)
	if i := strings.IndexByte(t, '+'); i >= 0 {
		if err := idents(t[i+1:]); err != nil {
			return Version{}, fmt.Errorf("%w %q: metadata: %v", ErrInvalid, s, err)
		}
		t = t[:i]
	}
	var v Version
	if i := strings.IndexByte(t, '-'); i >= 0 {
		if err := idents(t[i+1:]); err != nil {
			return Version{}, fmt.Errorf("%w %q: pre-release: %v", ErrInvalid, s, err)
		}
		v.pre = strings.Split(strings.ToLower(t[i+1:]), ".")
		t = t[:i]
	}
	core := strings.Split(t, ".")
	if len(core) > 4 {
		return Version{}, fmt.Errorf("%w %q: want 1 to 4 numeric parts", ErrInvalid, s)
	}
	for i, c := range core {
		if !numeric.AllDigits(c) {
			return Version{}, fmt.Errorf("%w %q: part %q is not a number", ErrInvalid, s, c)
		}
		v.parts[i] = numeric.TrimZeros(c)
	}
	return v, nil
}

func idents(s string) error {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return errors.New("empty identifier")
		}
		for i := 0; i < len(id); i++ {
			if c := id[i]; !numeric.IsDigit(c) && !numeric.IsAlpha(c) && c != '-' {
				return fmt.Errorf("invalid character %q", c)
			}
		}
	}
	return nil
}

// Compare orders v and w: the four numeric parts, then a release above
// its pre-releases, then the pre-release labels (numeric ones by value
// and below alphanumeric ones, which compare case-insensitively).
func (v Version) Compare(w Version) int {
	for i := range v.parts {
		if c := numeric.Compare(v.parts[i], w.parts[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.pre) == 0 && len(w.pre) == 0:
		return 0
	case len(v.pre) == 0:
		return 1
	case len(w.pre) == 0:
		return -1
	}
	for i := 0; i < len(v.pre) && i < len(w.pre); i++ {
		a, b := v.pre[i], w.pre[i]
		an, bn := numeric.AllDigits(a), numeric.AllDigits(b)
		var c int
		switch {
		case an && bn:
			c = numeric.Compare(a, b)
		case an:
			c = -1
		case bn:
			c = 1
		default:
			c = numeric.Strcmp(a, b)
		}
		if c != 0 {
			return c
		}
	}
	return numeric.Sign(len(v.pre) - len(w.pre))
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
