// Package composer implements the version order of PHP's Composer
// (Packagist), the order of OSV's Packagist ranges: a version is first
// normalised as Composer's VersionParser documents it
// (https://getcomposer.org/doc/articles/versions.md: "v" prefix dropped,
// build metadata dropped, four numeric parts, the stability suffixes
// stable, alpha/a, beta/b, RC, patch/pl/p with an optional number, and
// -dev), then compared as PHP's version_compare does
// (https://www.php.net/manual/en/function.version-compare.php): parts
// split at dots and at changes between digits and letters, numbers by
// value, and the special forms ordered dev < alpha = a < beta = b < RC =
// rc < a number < patch = pl = p; any other word sorts below dev.
//
// Branch versions ("dev-main", "1.x-dev") name no release and are
// rejected.
package composer

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/version/internal/numeric"
	"github.com/palisade-sec/palisade/internal/version/internal/order"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid Composer version")

const modifier = `[._-]?(?:(stable|beta|b|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?`

var (
	classical = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?` + modifier + `$`)
	})
	dated = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2})` + modifier + `$`)
	})
	nonDigit = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\D`) })
)

// Version is a normalised Composer version.
type Version struct {
	norm  string
	parts []string
}

// String returns the normalised version ("1.2.0.0-beta1").
func (v Version) String() string { return v.norm }

// Normalize returns Composer's normal form of a release version.
func Normalize(s string) (string, error) {
	if len(s) > numeric.MaxLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalid, numeric.MaxLen)
	}
	t := strings.TrimSpace(s)
	if i := strings.IndexByte(t, '+'); i > 0 {
		t = t[:i]
	}
	lower := strings.ToLower(t)
	if strings.HasPrefix(lower, "dev-") || strings.HasSuffix(lower, ".x-dev") {
		return "", fmt.Errorf("%w %q: a branch, not a release", ErrInvalid, s)
	}
	var version string
	var mod []string
	if m := classical().FindStringSubmatch(t); m != nil {
		version = m[1]
		for _, p := range m[2:5] {
			if p == "" {
				p = ".0"
			}
			version += p
		}
		mod = m[5:]
	} else if m := dated().FindStringSubmatch(t); m != nil {
		version = nonDigit().ReplaceAllString(m[1], ".")
		mod = m[2:]
	} else {
		return "", fmt.Errorf("%w %q", ErrInvalid, s)
	}
	if mod[0] != "" {
		st := strings.ToLower(mod[0])
		if st == "stable" {
			return version, nil
		}
		version += "-" + expandStability(st) + strings.TrimLeft(mod[1], ".-")
	}
	if mod[2] != "" {
		version += "-dev"
	}
	return version, nil
}

func expandStability(s string) string {
	switch s {
	case "a":
		return "alpha"
	case "b":
		return "beta"
	case "p", "pl":
		return "patch"
	case "rc":
		return "RC"
	}
	return s
}

// Parse normalises s and splits it as version_compare does.
func Parse(s string) (Version, error) {
	n, err := Normalize(s)
	if err != nil {
		return Version{}, err
	}
	return Version{norm: n, parts: canonical(n)}, nil
}

// canonical splits a version at '.', '-', '_', '+', any other
// non-alphanumeric byte, and between digits and non-digits.
func canonical(s string) []string {
	var parts []string
	cur := []byte{}
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, string(cur))
			cur = cur[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !numeric.IsDigit(c) && !numeric.IsAlpha(c):
			flush()
		case len(cur) > 0 && numeric.IsDigit(cur[len(cur)-1]) != numeric.IsDigit(c):
			flush()
			cur = append(cur, c)
		default:
			cur = append(cur, c)
		}
	}
	flush()
	return parts
}

// special ranks version_compare's special forms; a word is ranked by the
// first form it starts with, in PHP's order of the list.
func special(s string) int {
	for _, f := range []struct {
		name string
		rank int
	}{{"dev", 0}, {"alpha", 1}, {"a", 1}, {"beta", 2}, {"b", 2}, {"RC", 3}, {"rc", 3}, {"#", 4}, {"pl", 5}, {"p", 5}} {
		if strings.HasPrefix(s, f.name) {
			return f.rank
		}
	}
	return -6
}

const numberForm = "#"

// Compare orders v and w as version_compare does.
func (v Version) Compare(w Version) int {
	a, b := v.parts, w.parts
	i := 0
	for ; i < len(a) && i < len(b); i++ {
		ad, bd := numeric.AllDigits(a[i]), numeric.AllDigits(b[i])
		var c int
		switch {
		case ad && bd:
			c = numeric.Compare(a[i], b[i])
		case ad:
			c = numeric.Sign(special(numberForm) - special(b[i]))
		case bd:
			c = numeric.Sign(special(a[i]) - special(numberForm))
		default:
			c = numeric.Sign(special(a[i]) - special(b[i]))
		}
		if c != 0 {
			return c
		}
	}
	// One ran out: the longer is higher when it goes on with a number,
	// else its next word is compared with a number's rank.
	switch {
	case i < len(a):
		if numeric.AllDigits(a[i]) {
			return 1
		}
		if c := numeric.Sign(special(a[i]) - special(numberForm)); c != 0 {
			return c
		}
		return 1
	case i < len(b):
		if numeric.AllDigits(b[i]) {
			return -1
		}
		if c := numeric.Sign(special(numberForm) - special(b[i])); c != 0 {
			return c
		}
		return -1
	}
	return 0
}

// Compare parses a and b and orders them.
func Compare(a, b string) (int, error) { return order.Parsed(Parse, a, b) }
