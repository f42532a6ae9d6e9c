package gem

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

// Vectors written from Gem::Version's documentation (the ordering example
// "1.0 > 1.0.b1 > 1.0.a.2 > 0.9", "-" as ".pre.", trailing zeros,
// letters before numbers) and the RubyGems guide on pre-releases.
var cases = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0.b1", 1},
	{"1.0.b1", "1.0.a.2", 1},
	{"1.0.a.2", "0.9", 1},
	{"1.0", "1", 0},
	{"1.0.0", "1", 0},
	{"1.0.a", "1.a", 0},
	{"1.0.0.a", "1.0.a", 0},
	{"1.a", "1.0", -1},
	{"1.0.0-rc1", "1.0.0", -1},
	{"1.0.0-rc1", "1.0.0.pre.rc1", 0},
	{"1.0.0-rc1", "1.0.0-rc2", -1},
	{"1.0a1", "1.0.a.1", 0},
	{"2.0.0.rc1", "2.0.0.beta2", 1},
	{"1.9.3", "1.10.0", -1},
	{"1.10", "1.9.9", 1},
	{"5.2.4.3", "5.2.4.10", -1},
	{"6.0.0", "6.0.0.1", -1},
	{"  1.2  ", "1.2", 0},
	{"", "0", 0},
	{"1.0.A", "1.0.a", -1}, // strings compare by bytes: "A" < "a"
	{"0.0.1", "0.0.1.a", 1},
	{"007", "7", 0},
}

func TestCompare(t *testing.T) {
	for _, c := range cases {
		got, err := Compare(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
		if rev, _ := Compare(c.b, c.a); rev != -c.want {
			t.Errorf("Compare(%q, %q) reversed = %d", c.b, c.a, rev)
		}
	}
	var vs []string
	for _, c := range cases {
		vs = append(vs, c.a, c.b)
	}
	vectors.CheckLaws(t, vs, func(a, b string) int { c, _ := Compare(a, b); return c }, 5000)
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"junk", "1..2", "1.2.", "1.2-", "a1", "1.2_3", "1.0-rc.", ".1"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestPrerelease(t *testing.T) {
	for s, want := range map[string]bool{"1.0": false, "1.0.a": true, "1.0-1": true, "2": false} {
		v, err := Parse(s)
		if err != nil || v.Prerelease() != want {
			t.Errorf("Parse(%q).Prerelease() = %v, %v", s, v.Prerelease(), err)
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
		if err1 == nil {
			if c, _ := Compare(a, a); c != 0 {
				t.Fatalf("Compare(%q, itself) = %d", a, c)
			}
		}
	})
}
