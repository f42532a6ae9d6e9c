// Package generic orders the versions of software that has no packaging
// system of its own, as NVD's CPE match ranges name them: language
// runtimes built from source (Node.js, CPython, OpenJDK), OpenSSL, and C
// libraries of Conan. Their version schemes differ, but all are dotted
// numbers with, at the end, either a pre-release ("3.12.0rc1",
// "3.0.0-beta2", "21-ea") or a letter that marks a later patch release
// (OpenSSL's "1.1.1w", "1.0.2za"). The order is the one Grype's fuzzy CPE
// comparison gives to such versions:
//
//   - numbers compare numerically, segment by segment ("1.10" > "1.9");
//     the separators ".", "-", "_" and "~" only split segments; a leading
//     "v" and a "+build" suffix are ignored ("17.0.9+9" is "17.0.9");
//   - a pre-release word (dev, snapshot, alpha/a, beta/b, pre/preview/c,
//     rc, ea) followed by a number, or a word of two letters or more at
//     the end, ranks below the release ("3.12.0a1" < "3.12.0");
//   - any other letters rank above the release they follow and below a
//     further number ("1.1.1" < "1.1.1a" < "1.1.1w" < "1.1.1za" < "1.1.2").
//
// Missing segments count as the end of the version, so "1.2" < "1.2.0".
package generic

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// maxLen bounds a version; real ones are a few dozen bytes.
const maxLen = 128

// Segment classes in ascending order at the same position.
const (
	classPre    = iota // a pre-release word; rank orders the words
	classEnd           // the version has ended
	classLetter        // a letter release (OpenSSL's "w")
	classNumber
)

type segment struct {
	class int
	rank  int    // of a pre-release word
	text  string // digits without leading zeros, or letters
}

// preRank ranks the pre-release words.
var preRank = map[string]int{
	"dev": 0, "snapshot": 0, "ea": 1,
	"alpha": 2, "a": 2,
	"beta": 3, "b": 3,
	"pre": 4, "preview": 4, "c": 4, "rc": 4, "cr": 4,
}

// Parse splits v into its ordered segments, or says why it is not a version.
func parse(v string) ([]segment, error) {
	if v == "" || len(v) > maxLen {
		return nil, fmt.Errorf("version %q: empty or longer than %d bytes", truncate(v), maxLen)
	}
	s := strings.ToLower(v)
	if b, _, ok := strings.Cut(s, "+"); ok {
		s = b
	}
	if len(s) > 1 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9' {
		s = s[1:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return nil, fmt.Errorf("version %q does not start with a number", truncate(v))
	}
	var segs []segment
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			segs = append(segs, segment{class: classNumber, text: numeric.TrimZeros(s[i:j])})
			i = j
		case c >= 'a' && c <= 'z':
			j := i
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			segs = append(segs, segment{class: classLetter, text: s[i:j]})
			i = j
		case c == '.' || c == '-' || c == '_' || c == '~':
			if i+1 == len(s) || s[i+1] == '.' || s[i+1] == '-' || s[i+1] == '_' || s[i+1] == '~' {
				return nil, fmt.Errorf("version %q: empty segment", truncate(v))
			}
			i++
		default:
			return nil, fmt.Errorf("version %q: unexpected %q", truncate(v), c)
		}
	}
	for k := range segs {
		sg := &segs[k]
		if sg.class != classLetter {
			continue
		}
		r, ok := preRank[sg.text]
		if !ok {
			continue
		}
		followedByNumber := k+1 < len(segs) && segs[k+1].class == classNumber
		last := k+1 == len(segs)
		if followedByNumber || last && len(sg.text) > 1 {
			sg.class, sg.rank = classPre, r
		}
	}
	return segs, nil
}

// Compare returns -1, 0 or 1 as a sorts before, equal to or after b, or
// an error if either is not a version.
func Compare(a, b string) (int, error) {
	sa, err := parse(a)
	if err != nil {
		return 0, err
	}
	sb, err := parse(b)
	if err != nil {
		return 0, err
	}
	end := segment{class: classEnd}
	for i := 0; i < len(sa) || i < len(sb); i++ {
		x, y := end, end
		if i < len(sa) {
			x = sa[i]
		}
		if i < len(sb) {
			y = sb[i]
		}
		if c := compareSegment(x, y); c != 0 {
			return c, nil
		}
	}
	return 0, nil
}

func compareSegment(x, y segment) int {
	if x.class != y.class {
		if x.class < y.class {
			return -1
		}
		return 1
	}
	switch x.class {
	case classNumber:
		return numeric.Compare(x.text, y.text)
	case classPre:
		switch {
		case x.rank < y.rank:
			return -1
		case x.rank > y.rank:
			return 1
		}
		return 0
	case classLetter:
		return numeric.Strcmp(x.text, y.text)
	}
	return 0
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
