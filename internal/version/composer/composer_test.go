package composer

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

// Vectors written from Composer's "Versions and constraints" article
// (stabilities dev < alpha < beta < RC < stable, "v" prefixes, the
// suffix spellings) and PHP's version_compare manual (the special forms'
// order, patch/pl/p above a release).
var cases = []struct {
	a, b string
	want int
}{
	{"1.0.0-dev", "1.0.0-alpha1", -1},
	{"1.0.0-alpha1", "1.0.0-alpha2", -1},
	{"1.0.0-alpha2", "1.0.0-beta", -1},
	{"1.0.0-beta", "1.0.0-beta1", -1},
	{"1.0.0-beta9", "1.0.0-beta10", -1},
	{"1.0.0-beta10", "1.0.0-RC1", -1},
	{"1.0.0-RC1", "1.0.0", -1},
	{"1.0.0", "1.0.0-p1", -1},
	{"1.0.0-patch1", "1.0.0-pl1", 0},
	{"1.0.0-patch1", "1.0.1", -1},
	{"v1.2.3", "1.2.3", 0},
	{"1.2", "1.2.0", 0},
	{"1.2", "1.2.0.0", 0},
	{"1.0.0+build.5", "1.0.0", 0},
	{"1.0.0-beta.2", "1.0.0-beta2", 0},
	{"2.0.0rc1", "2.0.0-RC1", 0},
	{"1.0.0-a1", "1.0.0-alpha1", 0},
	{"1.0.0-b2", "1.0.0-beta2", 0},
	{"1.0.0-stable", "1.0.0", 0},
	{"1.9", "1.10", -1},
	{"4.4.0-BETA1", "4.4.0", -1},
	{"1.0.0.1", "1.0.0", 1},
	{"2010-01-02", "2010-01-03", -1},
	{"1.0.0-alpha.1-dev", "1.0.0-alpha1", -1},
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

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"1.2": "1.2.0.0", "v1.2.3": "1.2.3.0", "1.0.0RC1": "1.0.0.0-RC1", "1.0-b.2": "1.0.0.0-beta2",
		"1.0.0-p": "1.0.0.0-patch", "1.0.0-dev": "1.0.0.0-dev", "2.1.3+abc": "2.1.3.0", "20100102": "20100102",
	} {
		if got, err := Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "dev-main", "1.x-dev", "abc", "1.0.0-foo", "1.0.0-beta-1-2x", "1..0"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func FuzzCompare(f *testing.F) {
	for _, c := range cases {
		f.Add(c.a, c.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, err1 := Compare(a, b)
		ba, err2 := Compare(b, a)
		if (err1 == nil) != (err2 == nil) || ab != -ba {
			t.Fatalf("Compare(%q, %q) = %d, %v but reversed %d, %v", a, b, ab, err1, ba, err2)
		}
	})
}
