// Package pep440 implements Python package version parsing, normalisation
// and ordering as specified by PEP 440 (now the "Version specifiers" spec of
// the Python Packaging Authority), which PyPI and pip use.
//
// A version is [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]. Parsing accepts
// every spelling the spec's normalisation rules allow (case, "alpha"/"beta"/
// "c"/"pre"/"preview", "-"/"_"/"." separators, implicit numbers, "1.0-1"
// post-releases, a leading "v", surrounding whitespace); String returns the
// normalised form.
package pep440

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid PEP 440 version")

// pattern is the permissive grammar from the spec's appendix, written out
// here; it is matched case-insensitively against the trimmed input. Go's
// regexp runs in linear time, so hostile input cannot cause backtracking.
var pattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?i)v?` +
		`(?:([0-9]+)!)?` + // 1 epoch
		`([0-9]+(?:\.[0-9]+)*)` + // 2 release
		`(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?` + // 3 pre label, 4 pre number
		`(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?` + // 5 implicit post, 6 post label, 7 post number
		`(?:[-_.]?(dev)[-_.]?([0-9]+)?)?` + // 8 dev label, 9 dev number
		`(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`) // 10 local
})

// Version is a parsed PEP 440 version. Numbers are kept as decimal strings
// without leading zeros, so none can overflow.
type Version struct {
	epoch   string
	release []string
	preL    string // "", "a", "b" or "rc"
	preN    string
	hasPost bool
	postN   string
	hasDev  bool
	devN    string
	local   []string // lower-case segments
}

// Parse parses and normalises a PEP 440 version.
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	m := pattern().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("%w: %q", ErrInvalid, s)
	}
	num := func(x string) string {
		x = numeric.TrimZeros(x)
		if x == "" {
			return "0"
		}
		return x
	}
	v := Version{epoch: num(m[1])}
	for _, r := range strings.Split(m[2], ".") {
		v.release = append(v.release, num(r))
	}
	if m[3] != "" {
		switch strings.ToLower(m[3]) {
		case "a", "alpha":
			v.preL = "a"
		case "b", "beta":
			v.preL = "b"
		default: // c, rc, pre, preview
			v.preL = "rc"
		}
		v.preN = num(m[4])
	}
	switch {
	case m[5] != "":
		v.hasPost, v.postN = true, num(m[5])
	case m[6] != "":
		v.hasPost, v.postN = true, num(m[7])
	}
	if m[8] != "" {
		v.hasDev, v.devN = true, num(m[9])
	}
	if m[10] != "" {
		v.local = strings.FieldsFunc(strings.ToLower(m[10]), func(r rune) bool {
			return r == '-' || r == '_' || r == '.'
		})
	}
	return v, nil
}

// String returns the normalised form, e.g. "1!2.0rc1.post3.dev4+ubuntu.1".
func (v Version) String() string {
	var b strings.Builder
	if v.epoch != "0" {
		b.WriteString(v.epoch)
		b.WriteByte('!')
	}
	b.WriteString(strings.Join(v.release, "."))
	if v.preL != "" {
		b.WriteString(v.preL)
		b.WriteString(v.preN)
	}
	if v.hasPost {
		b.WriteString(".post")
		b.WriteString(v.postN)
	}
	if v.hasDev {
		b.WriteString(".dev")
		b.WriteString(v.devN)
	}
	if len(v.local) > 0 {
		b.WriteByte('+')
		b.WriteString(strings.Join(v.local, "."))
	}
	return b.String()
}

// Public returns the version without its local label.
func (v Version) Public() Version {
	v.local = nil
	return v
}

// IsPrerelease reports whether v is a pre-release or development release.
func (v Version) IsPrerelease() bool { return v.preL != "" || v.hasDev }

// Compare returns -1, 0 or 1 as v sorts before, equal to or after w.
//
// Order: epoch; release (trailing zeros ignored, 1.0 == 1.0.0); then
// X.devN < XaN/XbN/XrcN (each with its own .postN and .devN) < X <
// X.postN, where a .devN sorts before the release it is attached to; then
// the local label, where no label sorts first, and labels compare segment
// by segment with numeric segments above alphanumeric ones.
func (v Version) Compare(w Version) int {
	if r := numeric.Compare(v.epoch, w.epoch); r != 0 {
		return r
	}
	if r := compareRelease(v.release, w.release); r != 0 {
		return r
	}
	if r := numeric.Sign(v.preRank() - w.preRank()); r != 0 {
		return r
	}
	if v.preL != "" {
		if r := numeric.Compare(v.preN, w.preN); r != 0 {
			return r
		}
	}
	// No post-release sorts before any post-release.
	switch {
	case v.hasPost && !w.hasPost:
		return 1
	case !v.hasPost && w.hasPost:
		return -1
	case v.hasPost:
		if r := numeric.Compare(v.postN, w.postN); r != 0 {
			return r
		}
	}
	// No dev-release sorts after any dev-release.
	switch {
	case v.hasDev && !w.hasDev:
		return -1
	case !v.hasDev && w.hasDev:
		return 1
	case v.hasDev:
		if r := numeric.Compare(v.devN, w.devN); r != 0 {
			return r
		}
	}
	return compareLocal(v.local, w.local)
}

// preRank places the pre-release phase: a bare X.devN (no pre, no post)
// sorts before all pre-releases of X, a final or post release after them.
func (v Version) preRank() int {
	switch v.preL {
	case "a":
		return 1
	case "b":
		return 2
	case "rc":
		return 3
	}
	if !v.hasPost && v.hasDev {
		return 0
	}
	return 4
}

func compareRelease(a, b []string) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := "0", "0"
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if r := numeric.Compare(x, y); r != 0 {
			return r
		}
	}
	return 0
}

func compareLocal(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		an, bn := numeric.AllDigits(a[i]), numeric.AllDigits(b[i])
		var r int
		switch {
		case an && bn:
			r = numeric.Compare(a[i], b[i])
		case an:
			r = 1
		case bn:
			r = -1
		default:
			r = numeric.Strcmp(a[i], b[i])
		}
		if r != 0 {
			return r
		}
	}
	return numeric.Sign(len(a) - len(b))
}

// Compare parses a and b and compares them.
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
