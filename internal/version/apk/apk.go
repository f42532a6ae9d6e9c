// Package apk implements Alpine Linux package version parsing and ordering
// with the semantics of apk-tools 3 (src/version.c), which orders every
// version apk-tools 2 accepted the same way.
//
// The grammar is digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}:
// numeric components compare numerically, except that a non-initial
// component with a leading zero on either side compares as a string
// (Gentoo's rule, so 1.01 < 1.1 and 8.2.0 < 8.2.001); one optional lowercase
// letter may follow the last numeric component; suffixes _alpha, _beta, _pre
// and _rc sort before the bare version and _cvs, _svn, _git, _hg and _p after
// it; ~hash is a hexadecimal commit id compared as a string; -rN is the
// package revision.
package apk

import (
	"errors"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid Alpine version")

// Token kinds, in the order apk-tools ranks them: when two versions agree on
// a common prefix, the one whose next token has the lower kind sorts later
// (more components mean newer), except for pre-release suffixes.
type kind uint8

const (
	kInitialDigit kind = iota
	kDigit
	kLetter
	kSuffix
	kSuffixNo
	kCommitHash
	kRevisionNo
	kEnd
	kInvalid
)

// Suffix ranks: pre-release suffixes below suffixNone, post-release above.
const (
	sufInvalid = iota
	sufAlpha
	sufBeta
	sufPre
	sufRC
	suffixNone
	sufCVS
	sufSVN
	sufGit
	sufHg
	sufP
)

func suffixRank(s string) int {
	switch s {
	case "alpha":
		return sufAlpha
	case "beta":
		return sufBeta
	case "pre":
		return sufPre
	case "rc":
		return sufRC
	case "cvs":
		return sufCVS
	case "svn":
		return sufSVN
	case "git":
		return sufGit
	case "hg":
		return sufHg
	case "p":
		return sufP
	}
	return sufInvalid
}

// tokenizer walks a version string one token at a time. It never reads past
// the end of s and every step consumes at least one byte or ends, so work is
// linear in len(s).
type tokenizer struct {
	s      string
	pos    int
	kind   kind
	value  string
	suffix int
}

func newTokenizer(s string) *tokenizer {
	t := &tokenizer{s: s, kind: kInitialDigit}
	t.digits()
	return t
}

func (t *tokenizer) digits() {
	start := t.pos
	for t.pos < len(t.s) && numeric.IsDigit(t.s[t.pos]) {
		t.pos++
	}
	t.value = t.s[start:t.pos]
	if t.value == "" {
		t.kind = kInvalid
	}
}

func (t *tokenizer) span(ok func(byte) bool) string {
	start := t.pos
	for t.pos < len(t.s) && ok(t.s[t.pos]) {
		t.pos++
	}
	return t.s[start:t.pos]
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isHex(c byte) bool   { return numeric.IsDigit(c) || ('a' <= c && c <= 'f') }

// next advances to the following token, checking that it may follow the
// current one; a token out of order makes the kind kInvalid, which is final.
func (t *tokenizer) next() {
	if t.kind >= kEnd {
		return
	}
	if t.pos >= len(t.s) {
		t.kind = kEnd
		return
	}
	c := t.s[t.pos]
	switch {
	case isLower(c):
		if t.kind > kDigit {
			t.kind = kInvalid
			return
		}
		t.value = t.s[t.pos : t.pos+1]
		t.kind = kLetter
		t.pos++
	case c == '.' || numeric.IsDigit(c):
		if c == '.' {
			if t.kind > kDigit {
				t.kind = kInvalid
				return
			}
			t.pos++
		}
		switch t.kind {
		case kInitialDigit, kDigit:
			t.kind = kDigit
		case kSuffix:
			t.kind = kSuffixNo
		default:
			t.kind = kInvalid
			return
		}
		t.digits()
	case c == '_':
		if t.kind > kSuffixNo {
			t.kind = kInvalid
			return
		}
		t.pos++
		t.value = t.span(isLower)
		t.suffix = suffixRank(t.value)
		if t.suffix == sufInvalid {
			t.kind = kInvalid
			return
		}
		t.kind = kSuffix
	case c == '~':
		if t.kind >= kCommitHash {
			t.kind = kInvalid
			return
		}
		t.pos++
		t.value = t.span(isHex)
		if t.value == "" {
			t.kind = kInvalid
			return
		}
		t.kind = kCommitHash
	case c == '-':
		if t.kind >= kRevisionNo || !strings.HasPrefix(t.s[t.pos:], "-r") {
			t.kind = kInvalid
			return
		}
		t.pos += 2
		t.kind = kRevisionNo
		t.digits()
	default:
		t.kind = kInvalid
	}
}

// cmpTokens compares two tokens of the same kind.
func cmpTokens(a, b *tokenizer) int {
	switch a.kind {
	case kDigit:
		if a.value[0] == '0' || b.value[0] == '0' {
			return blobSort(a.value, b.value)
		}
		return numeric.Compare(a.value, b.value)
	case kInitialDigit, kSuffixNo, kRevisionNo:
		return numeric.Compare(a.value, b.value)
	case kLetter:
		return numeric.Sign(int(a.value[0]) - int(b.value[0]))
	case kSuffix:
		return numeric.Sign(a.suffix - b.suffix)
	default:
		return blobSort(a.value, b.value)
	}
}

// blobSort is apk-tools' string order: bytes first, then the shorter string
// first when one is a prefix of the other.
func blobSort(a, b string) int { return numeric.Strcmp(a, b) }

// compare is apk_version_compare: it never fails, and orders even invalid
// strings by their longest valid prefix (two strings that both turn invalid
// at the same point after an equal prefix compare equal). With fuzzy set, a
// version b that ends where a continues matches ("3.6.9" ~ "3.6").
func compare(a, b string, fuzzy bool) int {
	ta, tb := newTokenizer(a), newTokenizer(b)
	for ta.kind == tb.kind && ta.kind < kEnd {
		if r := cmpTokens(ta, tb); r != 0 {
			return r
		}
		ta.next()
		tb.next()
	}
	if ta.kind == tb.kind {
		return 0
	}
	if tb.kind == kEnd && fuzzy {
		return 0
	}
	// The common prefix is equal; the longer version is newer unless it
	// continues with a pre-release suffix.
	if ta.kind == kSuffix && ta.suffix < suffixNone {
		return -1
	}
	if tb.kind == kSuffix && tb.suffix < suffixNone {
		return 1
	}
	if ta.kind > tb.kind {
		return -1
	}
	return 1
}

// Version is a validated Alpine package version.
type Version struct{ s string }

// String returns the version exactly as parsed.
func (v Version) String() string { return v.s }

// Compare returns -1, 0 or 1 as v sorts before, equal to or after w.
func (v Version) Compare(w Version) int { return compare(v.s, w.s, false) }

// Parse validates s as apk-tools 3 does (apk_version_validate).
func Parse(s string) (Version, error) {
	if len(s) > numeric.MaxLen {
		return Version{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	if s == "" {
		return Version{}, fmt.Errorf("%w: empty string", ErrInvalid)
	}
	t := newTokenizer(s)
	for t.kind < kEnd {
		t.next()
	}
	if t.kind != kEnd {
		return Version{}, fmt.Errorf("%w %q: unexpected text at byte %d", ErrInvalid, s, t.pos)
	}
	return Version{s: s}, nil
}

// Compare validates a and b and orders them. Use CompareLoose to order
// strings apk-tools itself would order despite being invalid.
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

// CompareLoose is apk-tools' apk_version_compare on arbitrary strings: it
// never fails, and invalid versions order by their valid prefix (so
// "1.0" < "1.0bc"). Inputs longer than numeric.MaxLen are compared by their
// first MaxLen bytes only.
func CompareLoose(a, b string) int {
	return compare(clip(a), clip(b), false)
}

func clip(s string) string {
	if len(s) > numeric.MaxLen {
		return s[:numeric.MaxLen]
	}
	return s
}

// Match reports whether version a satisfies "op b" in apk dependency syntax:
// op is made of '<', '>', '=' and '~' ("~" matches any version b is a
// prefix of, component-wise, e.g. 3.6.9 ~ 3.6), optionally prefixed by '!'
// to negate. Like apk-tools, it does not validate a or b.
func Match(a, op, b string) (bool, error) {
	neg := strings.HasPrefix(op, "!")
	if neg {
		op = op[1:]
	}
	const less, equal, greater = 1, 2, 4
	mask, fuzzy := 0, false
	if op == "" {
		return false, fmt.Errorf("apk: empty version operator")
	}
	for i := 0; i < len(op); i++ {
		switch op[i] {
		case '<':
			mask |= less
		case '>':
			mask |= greater
		case '=':
			mask |= equal
		case '~':
			mask |= equal
			fuzzy = true
		default:
			return false, fmt.Errorf("apk: invalid version operator %q", op)
		}
	}
	var got int
	switch compare(clip(a), clip(b), fuzzy) {
	case -1:
		got = less
	case 0:
		got = equal
	default:
		got = greater
	}
	return (got&mask != 0) != neg, nil
}
