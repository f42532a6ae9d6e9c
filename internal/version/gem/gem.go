// Package gem implements RubyGems' version order (Gem::Version, documented
// at https://guides.rubygems.org/patterns/#semantic-versioning and in
// Gem::Version's API documentation), the order of OSV's RubyGems ranges.
//
// A version is a run of segments separated by dots: "1.2.3", "1.0.a",
// "2.0.0.rc1", "1.0.0-beta" (a '-' reads as ".pre."). Every maximal run of
// digits and of letters is one segment, so "1.0a1" is 1, 0, "a", 1. A
// version with any letter segment is a pre-release and sorts before the
// release of the same numbers. Trailing zeros of the numeric part and of
// the pre-release part are insignificant ("1.0" equals "1", "1.0.a"
// equals "1.a"); a missing segment counts as 0; a letter segment sorts
// before a number; letters compare as strings, numbers by value.
package gem

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid RubyGems version")

// Version is a parsed gem version.
type Version struct {
	orig string
	// segs are the canonical segments: digit strings without leading
	// zeros ("" for 0 never occurs: zero is "0") and letter runs.
	segs []segment
}

type segment struct {
	s   string
	num bool
}

// String returns the version as given (trimmed).
func (v Version) String() string { return v.orig }

// Prerelease reports whether the version has a letter segment.
func (v Version) Prerelease() bool {
	for _, s := range v.segs {
		if !s.num {
			return true
		}
	}
	return false
}

// Parse reads a version as Gem::Version.new does: surrounding whitespace
// is ignored and the empty string is "0". The syntax is Gem::Version's
// pattern: digits, then dot-separated alphanumeric segments, then an
// optional '-' and dot-separated [0-9A-Za-z-] identifiers.
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	t := strings.TrimSpace(s)
	if t == "" {
		t = "0"
	}
	if err := validate(t); err != nil {
		return Version{}, fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
	}
	var raw []segment
	u := strings.ReplaceAll(t, "-", ".pre.")
	for i := 0; i < len(u); {
		c := u[i]
		j := i
		switch {
		case numeric.IsDigit(c):
			for j < len(u) && numeric.IsDigit(u[j]) {
				j++
			}
			n := numeric.TrimZeros(u[i:j])
			if n == "" {
				n = "0"
			}
			raw = append(raw, segment{s: n, num: true})
		case numeric.IsAlpha(c):
			for j < len(u) && numeric.IsAlpha(u[j]) {
				j++
			}
			raw = append(raw, segment{s: u[i:j]})
		default:
			j++
		}
		i = j
	}
	// Canonical segments: the numeric part and the rest (from the first
	// letter segment) each lose their trailing zeros.
	split := len(raw)
	for i, sg := range raw {
		if !sg.num {
			split = i
			break
		}
	}
	segs := append(dropTrailingZeros(raw[:split]), dropTrailingZeros(raw[split:])...)
	return Version{orig: t, segs: segs}, nil
}

func dropTrailingZeros(s []segment) []segment {
	n := len(s)
	for n > 0 && s[n-1].num && s[n-1].s == "0" {
		n--
	}
	return append([]segment(nil), s[:n]...)
}

// validate checks Gem::Version's pattern
// [0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?
func validate(t string) error {
	main, pre, hasPre := strings.Cut(t, "-")
	parts := strings.Split(main, ".")
	if !numeric.AllDigits(parts[0]) {
		return errors.New("must start with a number")
	}
	for _, p := range parts[1:] {
		if p == "" || !alnum(p, false) {
			return fmt.Errorf("segment %q is not alphanumeric", p)
		}
	}
	if hasPre {
		for _, p := range strings.Split(pre, ".") {
			if p == "" || !alnum(p, true) {
				return fmt.Errorf("pre-release identifier %q is not [0-9A-Za-z-]", p)
			}
		}
	}
	return nil
}

func alnum(s string, dash bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !numeric.IsDigit(c) && !numeric.IsAlpha(c) && !(dash && c == '-') {
			return false
		}
	}
	return true
}

// Compare orders v and w as Gem::Version#<=> does.
func (v Version) Compare(w Version) int {
	n := max(len(v.segs), len(w.segs))
	zero := segment{s: "0", num: true}
	for i := 0; i < n; i++ {
		a, b := zero, zero
		if i < len(v.segs) {
			a = v.segs[i]
		}
		if i < len(w.segs) {
			b = w.segs[i]
		}
		switch {
		case a == b:
			continue
		case !a.num && b.num:
			return -1
		case a.num && !b.num:
			return 1
		case a.num:
			return numeric.Compare(a.s, b.s)
		default:
			return numeric.Strcmp(a.s, b.s)
		}
	}
	return 0
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
