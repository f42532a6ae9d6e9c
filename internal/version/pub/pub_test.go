package pub

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

// Vectors written from dart.dev's versioning page and pub_semver's
// documentation: SemVer 2.0 order, except that a build suffix sorts
// after the plain version and builds compare among themselves.
var cases = []struct {
	a, b string
	want int
}{
	{"1.0.0", "1.0.0+1", -1},
	{"1.0.0+1", "1.0.0+2", -1},
	{"1.0.0+2", "1.0.0+10", -1},
	{"1.0.0+build", "1.0.0+1", 1},
	{"1.0.0-dev", "1.0.0", -1},
	{"1.0.0-dev.1", "1.0.0-dev.2", -1},
	{"1.0.0-nullsafety.0", "1.0.0", -1},
	{"1.0.0", "1.0.1-dev", -1},
	{"0.9.12", "0.10.0", -1},
	{"2.0.0", "10.0.0", -1},
	{"1.2.3", "1.2.3", 0},
	{"1.2.3+1", "1.2.3+1", 0},
	{"1.0.0-beta+a", "1.0.0-beta+b", -1},
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
	// SemVer's precedence example holds, except its last line: pub orders
	// builds (1.0.0+build.1 < 1.0.0+build.2, not equal).
	for _, p := range vectors.Load(t, "semver-spec-precedence.tsv") {
		want := p.Want
		if p.A == "1.0.0+build.1" {
			want = -1
		}
		if got, err := Compare(p.A, p.B); err != nil || got != want {
			t.Errorf("semver-spec-precedence.tsv:%d: Compare(%q, %q) = %d, %v; want %d", p.Line, p.A, p.B, got, err, want)
		}
		vs = append(vs, p.A, p.B)
	}
	vectors.CheckLaws(t, vs, func(a, b string) int { c, _ := Compare(a, b); return c }, 5000)
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "1", "1.0", "v1.0.0", "1.0.0-", "1.0.0+", "1.0.0-a..b", "1.0.x", "1.0.0.0"} {
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
