package deb

import (
	"errors"
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

// checkPair runs one vector both ways through Compare.
func checkPair(t *testing.T, file string, p vectors.Pair) {
	t.Helper()
	got, err := Compare(p.A, p.B)
	if err != nil {
		t.Errorf("%s:%d: Compare(%q, %q): %v", file, p.Line, p.A, p.B, err)
		return
	}
	if got != p.Want {
		t.Errorf("%s:%d: Compare(%q, %q) = %d, want %d", file, p.Line, p.A, p.B, got, p.Want)
	}
	if rev, _ := Compare(p.B, p.A); rev != -p.Want {
		t.Errorf("%s:%d: Compare(%q, %q) = %d, want %d", file, p.Line, p.B, p.A, rev, -p.Want)
	}
}

func TestDpkgVectors(t *testing.T) {
	for _, file := range []string{"deb/dpkg-compare.tsv", "deb/apt-versions-lst-2011.tsv"} {
		pairs := vectors.Load(t, file)
		for _, p := range pairs {
			checkPair(t, file, p)
		}
		t.Logf("%s: %d vectors", file, len(pairs))
	}
}

// apt compares strings without validating them, and its test suite includes
// pairs that dpkg rejects or only warns about, which Parse (like Debian
// Policy and Dpkg::Version) treats as invalid: "-" has an empty version and
// revision; "a", "z", "p", "." and "III-alpha9.8" do not start with a digit;
// "2.2.4-47978_Debian_lenny" has '_' in its revision. For those 8 the
// vector is checked against CompareLoose (apt's algorithm), and Compare must
// report the invalid input instead of guessing. Every other vector must pass
// through Compare (dpkg's semantics), and all through CompareLoose.
func TestAptVectors(t *testing.T) {
	const file = "deb/apt-compare.tsv"
	pairs := vectors.Load(t, file)
	strict, loose := 0, 0
	for _, p := range pairs {
		if got := CompareLoose(p.A, p.B); got != p.Want {
			t.Errorf("%s:%d: CompareLoose(%q, %q) = %d, want %d", file, p.Line, p.A, p.B, got, p.Want)
		}
		if got := CompareLoose(p.B, p.A); got != -p.Want {
			t.Errorf("%s:%d: CompareLoose(%q, %q) = %d, want %d", file, p.Line, p.B, p.A, got, -p.Want)
		}
		_, errA := Parse(p.A)
		_, errB := Parse(p.B)
		if errA != nil || errB != nil {
			if _, err := Compare(p.A, p.B); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s:%d: Compare(%q, %q) error = %v, want ErrInvalid", file, p.Line, p.A, p.B, err)
			}
			loose++
			continue
		}
		checkPair(t, file, p)
		strict++
	}
	if loose != 8 {
		t.Errorf("%d apt-only vectors with dpkg-invalid versions, want 8", loose)
	}
	t.Logf("%s: %d vectors via Compare, %d apt-only via CompareLoose", file, strict, loose)
}

func TestValidity(t *testing.T) {
	// From dpkg scripts/t/Dpkg_Version.t.
	for _, s := range []string{"", "-0", "0:-0", ":1.0", "1.0-", "10a:5.2", "5.2@3-2", "foo5.2", "0:foo5.2",
		" ", "1 2", "99999999999:1", "2147483648:1", "1:"} {
		if v, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %v, want error", s, v)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", s, err)
		}
	}
	for _, s := range []string{"1.0", "1:1.0", "1:1.0:1.0", "1.0-1", "1.0-1.0-1", " 1.0 ", "2147483647:1"} {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}

func TestParseFields(t *testing.T) {
	v, err := Parse("7:1-a:b-5")
	if err != nil {
		t.Fatal(err)
	}
	if v.Epoch != 7 || v.Upstream != "1-a:b" || v.Revision != "5" {
		t.Errorf("Parse = %+v", v)
	}
	if s := v.String(); s != "7:1-a:b-5" {
		t.Errorf("String = %q", s)
	}
	if v, _ := Parse("0:1.0"); v.String() != "1.0" {
		t.Errorf("zero epoch String = %q", v.String())
	}
}

func TestHugeNumbers(t *testing.T) {
	a := "1.999999999999999999999999999999"
	b := "1.1000000000000000000000000000000"
	if got, err := Compare(a, b); err != nil || got != -1 {
		t.Errorf("Compare(%q, %q) = %d, %v; want -1", a, b, got, err)
	}
}

func TestLaws(t *testing.T) {
	var all []string
	for _, file := range []string{"deb/dpkg-compare.tsv", "deb/apt-versions-lst-2011.tsv", "deb/apt-compare.tsv"} {
		for _, v := range vectors.Versions(vectors.Load(t, file)) {
			if _, err := Parse(v); err == nil {
				all = append(all, v)
			}
		}
	}
	vectors.CheckLaws(t, all, func(a, b string) int {
		r, err := Compare(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, 20000)
	vectors.CheckLaws(t, all, CompareLoose, 20000)
}
