package semver

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
	"github.com/palisade-sec/palisade/internal/version/internal/order"
)

// npm (node-semver) limits: versions longer than 256 bytes and numbers above
// Number.MAX_SAFE_INTEGER are rejected.
const (
	npmMaxLength = 256
	npmMaxSafe   = "9007199254740991"
)

// ParseLoose parses a version the way node-semver does with loose: true,
// which is what npm applies to versions found in the wild: surrounding
// whitespace and any run of leading 'v', '=' and whitespace are ignored,
// numbers may have leading zeros, and the '-' before the pre-release may be
// omitted ("1.2.3beta"). The input is limited to 256 bytes and numeric parts
// to 2^53-1, as in node-semver. Every strict SemVer 2.0 version within those
// limits is accepted and means the same.
func ParseLoose(s string) (Version, error) {
	if len(s) > npmMaxLength {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, npmMaxLength)
	}
	t := strings.TrimSpace(s)
	t = strings.TrimLeft(t, "v= \t\n\r\f\v")
	if t == "" {
		return Version{}, errf(s, "no version")
	}
	var v Version
	if i := strings.IndexByte(t, '+'); i >= 0 {
		b, err := splitIdents(t[i+1:], "build metadata", s)
		if err != nil {
			return Version{}, err
		}
		v.build = b
		t = t[:i]
	}
	// The core is three dot-separated digit runs; the pre-release starts at
	// the first byte after them that is not a digit.
	var core [3]string
	pos := 0
	for k := 0; k < 3; k++ {
		if k > 0 {
			if pos >= len(t) || t[pos] != '.' {
				return Version{}, errf(s, "want MAJOR.MINOR.PATCH")
			}
			pos++
		}
		start := pos
		for pos < len(t) && numeric.IsDigit(t[pos]) {
			pos++
		}
		if pos == start {
			return Version{}, errf(s, "want MAJOR.MINOR.PATCH")
		}
		core[k] = trimNum(t[start:pos])
		if numeric.Compare(core[k], npmMaxSafe) > 0 {
			return Version{}, errf(s, "%s is larger than npm's 2^53-1 limit", core[k])
		}
	}
	if pos < len(t) {
		pre := t[pos:]
		if pre[0] == '-' {
			pre = pre[1:]
		}
		ids, err := splitIdents(pre, "pre-release", s)
		if err != nil {
			return Version{}, err
		}
		for i, id := range ids {
			if numeric.AllDigits(id) {
				// node-semver turns numeric identifiers into numbers.
				if numeric.Compare(id, npmMaxSafe) > 0 {
					return Version{}, errf(s, "pre-release %s is larger than npm's 2^53-1 limit", id)
				}
				ids[i] = trimNum(id)
			}
		}
		v.pre = ids
	}
	v.major, v.minor, v.patch = core[0], core[1], core[2]
	return v, nil
}

// trimNum removes leading zeros but keeps a single "0".
func trimNum(s string) string {
	t := numeric.TrimZeros(s)
	if t == "" {
		return "0"
	}
	return t
}

// CompareLoose parses a and b with ParseLoose and compares them.
func CompareLoose(a, b string) (int, error) {
	return order.Parsed(ParseLoose, a, b)
}
