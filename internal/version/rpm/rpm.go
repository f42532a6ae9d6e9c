// Package rpm implements RPM package version parsing and ordering with the
// semantics of rpm's rpmvercmp (lib/rpmvercmp.c) and EVR comparison, used by
// Red Hat, AlmaLinux, Rocky Linux, Fedora, SUSE and openSUSE.
//
// A version is [epoch:]version[-release]. Epochs compare numerically (a
// missing epoch is 0); version and release each compare with rpmvercmp:
// the strings are split into runs of ASCII digits and ASCII letters, every
// other byte is a separator; digit runs compare numerically and beat letter
// runs; letter runs compare as bytes; '~' sorts before anything, even the
// end of the string ("1.0~rc1" < "1.0"); '^' sorts after the end of the
// string but before anything else ("1.0" < "1.0^git1" < "1.0.1").
package rpm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid RPM version")

// Version is a parsed epoch:version-release.
type Version struct {
	// Epoch is the decimal epoch with leading zeros removed; "" means no
	// epoch was given, which compares equal to "0".
	Epoch   string
	Version string
	// Release is "" when the string has no "-release" part. A missing
	// release sorts before any release ("1.0" < "1.0-1"), which keeps the
	// order total; rpm's dependency matching instead ignores a missing
	// release, which callers can do by comparing Version fields.
	Release string
}

// String returns epoch:version-release, omitting absent parts.
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != "" {
		b.WriteString(v.Epoch)
		b.WriteByte(':')
	}
	b.WriteString(v.Version)
	if v.Release != "" {
		b.WriteByte('-')
		b.WriteString(v.Release)
	}
	return b.String()
}

// Compare returns -1, 0 or 1 as v sorts before, equal to or after w.
func (v Version) Compare(w Version) int {
	if r := numeric.Compare(v.Epoch, w.Epoch); r != 0 {
		return r
	}
	if r := Vercmp(v.Version, w.Version); r != 0 {
		return r
	}
	return Vercmp(v.Release, w.Release)
}

// Parse splits an EVR string the way rpm's parseEVR does: the epoch is a run
// of leading digits ended by ':', the release is what follows the last '-'.
// It rejects empty input, an empty version or release, whitespace and
// control bytes, which rpm never produces in a package's EVR.
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	if s == "" {
		return Version{}, fmt.Errorf("%w: empty string", ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return Version{}, fmt.Errorf("%w %q: whitespace or control byte at %d", ErrInvalid, s, i)
		}
	}
	var v Version
	rest := s
	i := 0
	for i < len(rest) && numeric.IsDigit(rest[i]) {
		i++
	}
	if i < len(rest) && rest[i] == ':' {
		// rpm treats an empty epoch as 0; normalise "", "0" and "00" alike.
		v.Epoch = numeric.TrimZeros(rest[:i])
		if v.Epoch == "" {
			v.Epoch = "0"
		}
		rest = rest[i+1:]
	}
	if j := strings.LastIndexByte(rest, '-'); j >= 0 {
		v.Release = rest[j+1:]
		rest = rest[:j]
		if v.Release == "" {
			return Version{}, fmt.Errorf("%w %q: empty release after '-'", ErrInvalid, s)
		}
	}
	v.Version = rest
	if rest == "" {
		return Version{}, fmt.Errorf("%w %q: empty version", ErrInvalid, s)
	}
	return v, nil
}

// Compare parses a and b as EVR strings and compares them.
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

func isAlnum(c byte) bool { return numeric.IsDigit(c) || numeric.IsAlpha(c) }

// Vercmp is rpmvercmp on a single version or release string (no epoch or
// release splitting). It accepts any string and never fails; bytes other
// than ASCII letters, digits, '~' and '^' only separate segments, so
// "1.0" == "1_0" and non-ASCII text does not participate in ordering.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		ca, cb := at(a, i), at(b, j)
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		if ca == '^' || cb == '^' {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if ca != '^' {
				return 1
			}
			if cb != '^' {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		isNum := numeric.IsDigit(a[i])
		class := numeric.IsAlpha
		if isNum {
			class = numeric.IsDigit
		}
		for i < len(a) && class(a[i]) {
			i++
		}
		for j < len(b) && class(b[j]) {
			j++
		}
		if j == sj {
			// Segments of different types: numeric is newer.
			if isNum {
				return 1
			}
			return -1
		}
		var r int
		if isNum {
			r = numeric.Compare(a[si:i], b[sj:j])
		} else {
			r = numeric.Strcmp(a[si:i], b[sj:j])
		}
		if r != 0 {
			return r
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}
