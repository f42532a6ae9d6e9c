package generic

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

// Vectors from the version schemes of NVD's CPEs for the runtimes:
// OpenSSL's release strategy (letter releases of 1.1.1 and 1.0.2, three
// numbers from 3.0), CPython's PEP 440 pre-releases as python.org names
// them, Node.js's semver, OpenJDK's JEP 322 versions with "+build" and
// early-access "-ea", zlib's dotted releases.
var cases = []struct {
	a, b string
	want int
}{
	{"1.1.1", "1.1.1a", -1},
	{"1.1.1a", "1.1.1w", -1},
	{"1.1.1w", "1.1.1za", -1},
	{"1.0.2zl", "1.1.0", -1},
	{"1.1.1w", "3.0.13", -1},
	{"3.0.13", "3.0.9", 1},
	{"1.1.1w", "1.1.2", -1},
	{"3.12.0a1", "3.12.0", -1},
	{"3.12.0a1", "3.12.0b1", -1},
	{"3.12.0b4", "3.12.0rc1", -1},
	{"3.12.0rc2", "3.12.0", -1},
	{"3.12.0", "3.12.1", -1},
	{"3.9.18", "3.12.1", -1},
	{"3.0.0-beta1", "3.0.0", -1},
	{"3.0.0-alpha17", "3.0.0-beta1", -1},
	{"3.0.0-alpha", "3.0.0", -1},
	{"v20.11.1", "20.11.1", 0},
	{"18.19.1", "18.20.0", -1},
	{"20.11.0", "20.9.0", 1},
	{"17.0.9+9", "17.0.9", 0},
	{"21-ea", "21", -1},
	{"21", "21.0.1", -1},
	{"1.2", "1.2.0", -1},
	{"1.2.13", "1.3", -1},
	{"1.3.1", "1.3.1.1", -1},
	{"8u392", "8u402", -1},
	{"1.8.0_392", "1.8.0_402", -1},
	{"1.0.0", "1.0.0", 0},
	{"01.2", "1.2", 0},
	{"3.10.0~rc1", "3.10.0", -1},
}

func TestCompare(t *testing.T) {
	var vs []string
	for _, c := range cases {
		got, err := Compare(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
		if rev, _ := Compare(c.b, c.a); rev != -c.want {
			t.Errorf("Compare(%q, %q) reversed = %d", c.b, c.a, rev)
		}
		vs = append(vs, c.a, c.b)
	}
	vectors.CheckLaws(t, vs, func(a, b string) int { c, _ := Compare(a, b); return c }, 5000)
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "*", "-", "abc", "1..2", "1.2.", "1.2 3", "1.0/2", string(make([]byte, 200))} {
		if _, err := Compare(s, "1.0"); err == nil {
			t.Errorf("Compare(%q) accepted", s)
		}
	}
}

func FuzzCompare(f *testing.F) {
	for _, c := range cases {
		f.Add(c.a, c.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		vectors.Antisymmetric(t, Compare, a, b)
	})
}
