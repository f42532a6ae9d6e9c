// Package deb implements Debian package version parsing and ordering with the
// semantics of dpkg (lib/dpkg/version.c verrevcmp and parseversion), which is
// also what Ubuntu and other dpkg-based distributions use.
//
// A version is [epoch:]upstream[-revision]. Epochs compare numerically; the
// upstream and revision parts compare with dpkg's algorithm: alternating runs
// of non-digits and digits, where in the non-digit runs '~' sorts before
// everything (even the end of the string), the end of the string sorts before
// letters, and letters sort before all other characters; digit runs compare
// numerically.
package deb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// maxEpoch mirrors dpkg, which stores the epoch in a C int and rejects
// anything above INT_MAX.
const maxEpoch = "2147483647"

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid Debian version")

// Version is a parsed Debian version. The zero value is not a valid version;
// obtain one from Parse.
type Version struct {
	Epoch    uint32
	Upstream string
	// Revision is empty when the version has no "-revision" part, which
	// compares equal to revision "0".
	Revision string
}

// String returns the version in canonical form: the epoch is omitted when
// zero, as dpkg prints it, unless the upstream part contains a colon, which
// would otherwise be read back as an epoch separator.
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != 0 || strings.Contains(v.Upstream, ":") {
		fmt.Fprintf(&b, "%d:", v.Epoch)
	}
	b.WriteString(v.Upstream)
	if v.Revision != "" {
		b.WriteByte('-')
		b.WriteString(v.Revision)
	}
	return b.String()
}

// Compare returns -1, 0 or 1 as v sorts before, equal to or after w.
func (v Version) Compare(w Version) int {
	if v.Epoch != w.Epoch {
		if v.Epoch < w.Epoch {
			return -1
		}
		return 1
	}
	if r := verrevcmp(v.Upstream, w.Upstream); r != 0 {
		return r
	}
	return verrevcmp(v.Revision, w.Revision)
}

func invalid(s, why string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalid, s, why)
}

// Parse parses a Debian version. It accepts exactly the versions that dpkg
// and Dpkg::Version accept without error or warning (leading and trailing
// blanks are ignored, as dpkg does): the epoch must be a decimal number no
// larger than INT_MAX, the upstream part must start with a digit and contain
// only alphanumerics and ".+-~:", and the revision only alphanumerics and
// ".+~".
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, invalid(s[:32]+"...", fmt.Sprintf("longer than %d bytes", numeric.MaxLen))
	}
	t := strings.Trim(s, " \t")
	if t == "" {
		return Version{}, invalid(s, "version string is empty")
	}
	if strings.ContainsAny(t, " \t") {
		return Version{}, invalid(s, "version string has embedded spaces")
	}
	var v Version
	if i := strings.IndexByte(t, ':'); i >= 0 {
		ep := t[:i]
		if ep == "" {
			return Version{}, invalid(s, "epoch in version is empty")
		}
		if !numeric.AllDigits(ep) {
			return Version{}, invalid(s, "epoch in version is not number")
		}
		if numeric.Compare(ep, maxEpoch) > 0 {
			return Version{}, invalid(s, "epoch in version is too big")
		}
		var e uint32
		for j := 0; j < len(ep); j++ {
			e = e*10 + uint32(ep[j]-'0')
		}
		v.Epoch = e
		t = t[i+1:]
		if t == "" {
			return Version{}, invalid(s, "nothing after colon in version number")
		}
	}
	if i := strings.LastIndexByte(t, '-'); i >= 0 {
		v.Revision = t[i+1:]
		t = t[:i]
		if v.Revision == "" {
			return Version{}, invalid(s, "revision number is empty")
		}
	}
	v.Upstream = t
	if t == "" {
		return Version{}, invalid(s, "version number is empty")
	}
	if !numeric.IsDigit(t[0]) {
		return Version{}, invalid(s, "version number does not start with digit")
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !numeric.IsDigit(c) && !numeric.IsAlpha(c) && !strings.ContainsRune(".-+~:", rune(c)) {
			return Version{}, invalid(s, fmt.Sprintf("invalid character %q in version number", c))
		}
	}
	for i := 0; i < len(v.Revision); i++ {
		c := v.Revision[i]
		if !numeric.IsDigit(c) && !numeric.IsAlpha(c) && !strings.ContainsRune(".+~", rune(c)) {
			return Version{}, invalid(s, fmt.Sprintf("invalid character %q in revision number", c))
		}
	}
	return v, nil
}

// Compare parses a and b with Parse and compares them. It returns an error
// if either is not a valid Debian version.
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

// CompareLoose orders two arbitrary strings the way apt's debVersioningSystem
// does, without validating them: it never fails. It exists for data that is
// known to come from apt (which accepts strings dpkg rejects, such as "-" or
// "a"); the vulnerability matcher should prefer Compare so bad data surfaces
// as an error. A leading non-numeric "epoch" compares with the same
// algorithm as the rest, and a hyphen at the very start of the upstream part
// is not taken as the revision separator (apt's behaviour).
func CompareLoose(a, b string) int {
	ea, ua, ra := splitLoose(a)
	eb, ub, rb := splitLoose(b)
	if r := verrevcmp(ea, eb); r != 0 {
		return r
	}
	if r := verrevcmp(ua, ub); r != 0 {
		return r
	}
	return verrevcmp(ra, rb)
}

func splitLoose(s string) (epoch, upstream, revision string) {
	s = strings.Trim(s, " \t")
	if i := strings.IndexByte(s, ':'); i >= 0 {
		epoch, s = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		s, revision = s[:i], s[i+1:]
	}
	return epoch, s, revision
}

// order gives the weight dpkg assigns to a byte in a non-digit run; 0 stands
// for both the end of the string and a digit (which ends the run).
func order(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case numeric.IsDigit(c):
		return 0
	case numeric.IsAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

// verrevcmp compares an upstream version or a revision with dpkg's
// algorithm. Digit runs compare by numeric value, so they may be arbitrarily
// long.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !numeric.IsDigit(a[i])) || (j < len(b) && !numeric.IsDigit(b[j])) {
			oa, ob := order(a, i), order(b, j)
			if oa != ob {
				return numeric.Sign(oa - ob)
			}
			// Equal weights here mean neither side is at its end or at a
			// digit, so both advance within bounds.
			i++
			j++
		}
		si := i
		for i < len(a) && numeric.IsDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && numeric.IsDigit(b[j]) {
			j++
		}
		if r := numeric.Compare(a[si:i], b[sj:j]); r != 0 {
			return r
		}
	}
	return 0
}
