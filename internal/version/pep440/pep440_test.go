package pep440

import (
	"errors"
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

func ascending(t *testing.T) []string {
	rows, _ := vectors.Lines(t, "pep440/pep440-ascending.txt")
	var vs []string
	for _, r := range rows {
		vs = append(vs, r[0])
	}
	return vs
}

func TestAscending(t *testing.T) {
	vs := ascending(t)
	n := 0
	for i := range vs {
		for j := range vs {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			got, err := Compare(vs[i], vs[j])
			if err != nil || got != want {
				t.Errorf("Compare(%q, %q) = %d, %v; want %d", vs[i], vs[j], got, err, want)
			}
			n++
		}
	}
	t.Logf("pep440-ascending.txt: %d versions, %d ordered pairs", len(vs), n)
}

func TestNormalize(t *testing.T) {
	const file = "pep440/pep440-normalize.tsv"
	rows, lines := vectors.Lines(t, file)
	for i, r := range rows {
		in, want := r[0], r[1]
		v, err := Parse(in)
		if want == "INVALID" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s:%d: Parse(%q) = %v, %v; want ErrInvalid", file, lines[i], in, v, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s:%d: Parse(%q): %v", file, lines[i], in, err)
			continue
		}
		if v.String() != want {
			t.Errorf("%s:%d: Parse(%q).String() = %q, want %q", file, lines[i], in, v.String(), want)
		}
		if c, err := Compare(in, want); err != nil || c != 0 {
			t.Errorf("%s:%d: Compare(%q, %q) = %d, %v; want 0", file, lines[i], in, want, c, err)
		}
	}
	t.Logf("%s: %d vectors", file, len(rows))
}

func TestAccessors(t *testing.T) {
	v, _ := Parse("1.0rc1+local")
	if !v.IsPrerelease() || v.Public().String() != "1.0rc1" {
		t.Errorf("accessors on %v", v)
	}
	if v, _ := Parse("1.0.post1"); v.IsPrerelease() {
		t.Error("post-release reported as pre-release")
	}
}

func TestLaws(t *testing.T) {
	vs := ascending(t)
	rows, _ := vectors.Lines(t, "pep440/pep440-normalize.tsv")
	for _, r := range rows {
		if r[1] != "INVALID" {
			vs = append(vs, r[0])
		}
	}
	vectors.CheckLaws(t, vs, func(a, b string) int {
		r, err := Compare(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, 50000)
}
