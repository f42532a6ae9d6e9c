// Package order holds the comparison steps several version orders share.
package order

import "github.com/palisade-sec/palisade/internal/version/internal/numeric"

// Parsed parses a and b with parse and compares the results: the
// Compare(a, b string) of a version package.
func Parsed[V interface{ Compare(V) int }](parse func(string) (V, error), a, b string) (int, error) {
	va, err := parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := parse(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// Idents compares two dot-separated identifier lists as SemVer 2.0
// compares pre-release identifiers: numeric identifiers by value and
// below alphanumeric ones, alphanumeric ones in ASCII order, and a list
// that is a prefix of the other first.
func Idents(a, b []string) int {
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
