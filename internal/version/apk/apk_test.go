package apk

import (
	"errors"
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

// apk-tools' own test data mixes valid versions with a few invalid ones
// that apk-tools still orders ("1.0 < 1.0bc", "23_foo > 4_beta"). Vectors
// whose versions both validate go through Compare; the others must be
// rejected by Compare and ordered by CompareLoose (apk_version_compare on
// raw strings). Every vector is also checked through CompareLoose.
func TestCompareVectors(t *testing.T) {
	for _, file := range []string{"apk/apk-compare.tsv", "apk/apk-compare-v2.14.tsv"} {
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
			got, err := Compare(p.A, p.B)
			if err != nil || got != p.Want {
				t.Errorf("%s:%d: Compare(%q, %q) = %d, %v; want %d", file, p.Line, p.A, p.B, got, err, p.Want)
			}
			strict++
		}
		// The invalid ones are "1.0bc" (two letters) and "23_foo" (unknown
		// suffix); both files have exactly these two lines.
		if loose != 2 {
			t.Errorf("%s: %d vectors with invalid versions, want 2", file, loose)
		}
		t.Logf("%s: %d vectors via Compare, %d via CompareLoose only", file, strict, loose)
	}
}

func TestValidityVectors(t *testing.T) {
	const file = "apk/apk-validity.tsv"
	rows, lines := vectors.Lines(t, file)
	// The file's first data line is a lone tab-separated "\t0": the empty
	// version, which must be invalid.
	for i, r := range rows {
		if len(r) != 2 {
			t.Fatalf("%s:%d: want 2 fields, got %q", file, lines[i], r)
		}
		_, err := Parse(r[0])
		if valid := err == nil; valid != (r[1] == "1") {
			t.Errorf("%s:%d: Parse(%q) error = %v, want valid=%s", file, lines[i], r[0], err, r[1])
		}
	}
	t.Logf("%s: %d vectors", file, len(rows))
}

func TestMatchVectors(t *testing.T) {
	const file = "apk/apk-match-ops.tsv"
	rows, lines := vectors.Lines(t, file)
	for i, r := range rows {
		ok, err := Match(r[0], r[1], r[2])
		if err != nil || !ok {
			t.Errorf("%s:%d: Match(%q, %q, %q) = %v, %v; want true", file, lines[i], r[0], r[1], r[2], ok, err)
		}
	}
	t.Logf("%s: %d vectors", file, len(rows))
	for _, op := range []string{"", "!", "<>x", "=="} {
		if _, err := Match("1", op, "1"); (err == nil) != (op == "==") {
			t.Errorf("Match op %q: err = %v", op, err)
		}
	}
}

func TestLaws(t *testing.T) {
	var valid []string
	for _, v := range vectors.Versions(vectors.Load(t, "apk/apk-compare.tsv")) {
		if _, err := Parse(v); err == nil {
			valid = append(valid, v)
		}
	}
	vectors.CheckLaws(t, valid, func(a, b string) int {
		r, err := Compare(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, 50000)
}

func TestHuge(t *testing.T) {
	long := "1." + string(make([]byte, 5000))
	if _, err := Parse(long); err == nil {
		t.Error("Parse accepted an over-long version")
	}
	_ = CompareLoose(long, long)
}
