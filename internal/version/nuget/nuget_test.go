package nuget

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

// Vectors written from Microsoft's "Package versioning" page: the
// pre-release ordering example (1.0.1-aaa < -alpha10 < -alpha2 < -beta <
// -open < -rc < -zzz < 1.0.1), normalisation (1.0 = 1.0.0 = 1.0.0.0,
// leading zeros, a fourth part), case-insensitive labels, metadata
// ignored; plus SemVer 2.0's precedence example.
var cases = []struct {
	a, b string
	want int
}{
	{"1.0.1-aaa", "1.0.1-alpha10", -1},
	{"1.0.1-alpha10", "1.0.1-alpha2", -1},
	{"1.0.1-alpha2", "1.0.1-beta", -1},
	{"1.0.1-beta", "1.0.1-open", -1},
	{"1.0.1-open", "1.0.1-rc", -1},
	{"1.0.1-rc", "1.0.1-zzz", -1},
	{"1.0.1-zzz", "1.0.1", -1},
	{"1.0", "1.0.0", 0},
	{"1.0.0.0", "1.0.0", 0},
	{"1.00", "1.0.0", 0},
	{"1.0.01.0", "1.0.1", 0},
	{"1.0.0.1", "1.0.0", 1},
	{"1.0.0.1", "1.0.1", -1},
	{"1.0.0-Beta", "1.0.0-beta", 0},
	{"1.0.0+git.abc", "1.0.0", 0},
	{"1.0.0-rc.1+build", "1.0.0-RC.1", 0},
	{"4.7.2", "4.10.0", -1},
	{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
	{"1.0.0-beta.2", "1.0.0-beta.11", -1},
	{"1", "1.0.0", 0},
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
	for _, p := range vectors.Load(t, "semver-spec-precedence.tsv") {
		if got, err := Compare(p.A, p.B); err != nil || got != p.Want {
			t.Errorf("semver-spec-precedence.tsv:%d: Compare(%q, %q) = %d, %v; want %d", p.Line, p.A, p.B, got, err, p.Want)
		}
	}
	vectors.CheckLaws(t, vs, func(a, b string) int { c, _ := Compare(a, b); return c }, 5000)
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "a.b", "1.2.3.4.5", "1.0-", "1.0-a..b", "1.0+", "1.0.x", "v1.0", "1.0-a_b"} {
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
