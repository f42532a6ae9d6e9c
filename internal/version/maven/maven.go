// Package maven implements Maven artifact version ordering with the
// semantics of Maven's ComparableVersion (maven-artifact), as described in
// the POM reference's "Version Order Specification".
//
// A version is split into items at '.', at '-' and at every transition
// between digits and letters; '-' and a digit/letter transition open a
// nested sub-list. Numeric items compare by value. String items are
// qualifiers: alpha < beta < milestone < rc = cr < snapshot < "" = ga =
// final = release < sp < any other string (others in lexical order);
// "a", "b" and "m" immediately followed by a digit mean alpha, beta and
// milestone. Trailing "null" items (0, "", ga, final, release) are dropped
// from each list, so 1 = 1.0 = 1.0.0 = 1-ga. When lists of different length
// are compared the missing items count as null: 1-rc < 1 < 1-sp < 1.1.
// Comparison is case-insensitive.
package maven

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid Maven version")

type kind uint8

const (
	kInt kind = iota
	kString
	kList
)

// item is one parsed component. For kInt, s holds the decimal value without
// leading zeros ("" for zero); for kString, s holds the qualifier after
// alias resolution; for kList, list holds the sub-items.
type item struct {
	kind kind
	s    string
	list []*item
}

// Ranks of the well-known qualifiers in ascending order; the empty string
// (a release) sits between snapshot and sp, and unknown qualifiers rank
// above all of them.
const (
	releaseRank = 5
	unknownRank = 7
)

func qualifierRank(q string) int {
	switch q {
	case "alpha":
		return 0
	case "beta":
		return 1
	case "milestone":
		return 2
	case "rc":
		return 3
	case "snapshot":
		return 4
	case "":
		return releaseRank
	case "sp":
		return 6
	}
	return unknownRank
}

func newString(s string, followedByDigit bool) *item {
	if followedByDigit && len(s) == 1 {
		switch s {
		case "a":
			s = "alpha"
		case "b":
			s = "beta"
		case "m":
			s = "milestone"
		}
	}
	switch s {
	case "ga", "final", "release":
		s = ""
	case "cr":
		s = "rc"
	}
	return &item{kind: kString, s: s}
}

func newInt(s string) *item {
	return &item{kind: kInt, s: numeric.TrimZeros(s)}
}

func (it *item) isNull() bool {
	switch it.kind {
	case kInt:
		return it.s == ""
	case kString:
		return it.s == ""
	}
	return len(it.list) == 0
}

// compareQualifiers orders two qualifiers: known ones by rank, unknown ones
// after all known ones and among themselves lexically.
func compareQualifiers(a, b string) int {
	ra, rb := qualifierRank(a), qualifierRank(b)
	if ra != rb {
		return numeric.Sign(ra - rb)
	}
	if ra == unknownRank {
		return numeric.Strcmp(a, b)
	}
	return 0
}

// compare orders it against other; other == nil stands for a missing item
// (padding when one list is shorter).
func (it *item) compare(other *item) int {
	switch it.kind {
	case kInt:
		switch {
		case other == nil:
			if it.s == "" {
				return 0
			}
			return 1
		case other.kind == kInt:
			return numeric.Compare(it.s, other.s)
		}
		return 1 // 1.1 > 1-sp, 1.1 > 1-1
	case kString:
		switch {
		case other == nil:
			return numeric.Sign(qualifierRank(it.s) - releaseRank)
		case other.kind == kString:
			return compareQualifiers(it.s, other.s)
		}
		return -1 // 1.any < 1.1, 1.any < 1-1
	}
	switch {
	case other == nil:
		for _, x := range it.list {
			if r := x.compare(nil); r != 0 {
				return r
			}
		}
		return 0
	case other.kind == kInt:
		return -1 // 1-1 < 1.1
	case other.kind == kString:
		return 1 // 1-1 > 1-sp
	}
	for i := 0; i < len(it.list) || i < len(other.list); i++ {
		var r int
		switch {
		case i >= len(it.list):
			r = -other.list[i].compare(nil)
		case i >= len(other.list):
			r = it.list[i].compare(nil)
		default:
			r = it.list[i].compare(other.list[i])
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

// normalize drops trailing null items; a null item followed only by
// sub-lists is dropped too, as in ComparableVersion.
func (it *item) normalize() {
	for i := len(it.list) - 1; i >= 0; i-- {
		x := it.list[i]
		if x.isNull() {
			it.list = append(it.list[:i], it.list[i+1:]...)
		} else if x.kind != kList {
			break
		}
	}
}

func (it *item) String() string {
	switch it.kind {
	case kInt:
		if it.s == "" {
			return "0"
		}
		return it.s
	case kString:
		return it.s
	}
	var b strings.Builder
	for i, x := range it.list {
		if i > 0 {
			if x.kind == kList {
				b.WriteByte('-')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteString(x.String())
	}
	return b.String()
}

// Version is a parsed Maven version.
type Version struct {
	raw   string
	items *item
}

// String returns the version as given to Parse.
func (v Version) String() string { return v.raw }

// Canonical returns ComparableVersion's canonical form: two versions compare
// equal exactly when their canonical forms are equal.
func (v Version) Canonical() string { return v.root().String() }

// Compare returns -1, 0 or 1 as v sorts before, equal to or after w. The
// zero Version behaves as the empty version, equal to "0".
func (v Version) Compare(w Version) int { return v.root().compare(w.root()) }

func (v Version) root() *item {
	if v.items == nil {
		return &item{kind: kList}
	}
	return v.items
}

// Parse parses a Maven version. ComparableVersion itself accepts any string;
// Parse additionally rejects empty input and bytes outside printable ASCII
// (including spaces), which never occur in valid Maven coordinates and
// which Java would classify differently from Go (Unicode digits).
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	if s == "" {
		return Version{}, fmt.Errorf("%w: empty string", ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return Version{}, fmt.Errorf("%w %q: byte %#x at %d is not printable ASCII", ErrInvalid, s, s[i], i)
		}
	}
	lower := strings.ToLower(s)
	root := &item{kind: kList}
	list := root
	chain := []*item{root}
	push := func() {
		sub := &item{kind: kList}
		list.list = append(list.list, sub)
		list = sub
		chain = append(chain, sub)
	}
	// addString adds a qualifier. A qualifier always opens a sub-list, even
	// after '.', so ".X" orders exactly like "-X" (the POM reference's
	// ".qualifier" = "-qualifier"; Maven 3.9, MNG-7644). Without this the
	// order is not transitive (1.0.0.RC1 < 1 < 1-1 < 1.0.0.RC1).
	addString := func(it *item) {
		if len(list.list) > 0 {
			push()
		}
		list.list = append(list.list, it)
	}
	add := func(isDigit bool, s string) {
		if isDigit {
			list.list = append(list.list, newInt(s))
		} else {
			addString(newString(s, false))
		}
	}
	isDigit := false
	start := 0
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		switch {
		case c == '.' || c == '-':
			if i == start {
				list.list = append(list.list, &item{kind: kInt})
			} else {
				add(isDigit, lower[start:i])
			}
			start = i + 1
			if c == '-' {
				push()
			}
		case numeric.IsDigit(c):
			if !isDigit && i > start {
				// A qualifier directly followed by a number starts its own
				// sub-list even after '.', so 1.0.0.RC1 orders like
				// 1.0.0-RC1 (Maven 3.9, MNG-7644); without this the order
				// is not transitive (1.0.0.RC1 < 1 < 1-1 < 1.0.0.RC1).
				addString(newString(lower[start:i], true))
				start = i
				push()
			}
			isDigit = true
		default:
			if isDigit && i > start {
				add(true, lower[start:i])
				start = i
				push()
			}
			isDigit = false
		}
	}
	if len(lower) > start {
		add(isDigit, lower[start:])
	}
	// Normalise innermost lists first, as each may become null and be
	// dropped by its parent.
	for i := len(chain) - 1; i >= 0; i-- {
		chain[i].normalize()
	}
	return Version{raw: s, items: root}, nil
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
