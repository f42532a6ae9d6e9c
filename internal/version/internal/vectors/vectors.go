// Package vectors loads the comparison test vectors kept under the
// repository's testdata/versions directory and checks ordering laws. It is
// used only by tests.
package vectors

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Pair is one comparison vector: Want is -1, 0 or 1 for A <, =, > B.
type Pair struct {
	A, B string
	Want int
	Line int
}

// Path returns the absolute path of a file under testdata/versions.
func Path(t testing.TB, rel string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate vectors package")
	}
	// file is .../internal/version/internal/vectors/vectors.go
	root := filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
	return filepath.Join(root, "testdata", "versions", filepath.FromSlash(rel))
}

// Lines returns the non-comment, non-empty lines of a testdata file split on
// tabs, with their 1-based line numbers. Fields are not trimmed: some
// vectors deliberately carry spaces.
func Lines(t testing.TB, rel string) (rows [][]string, lines []int) {
	t.Helper()
	f, err := os.Open(Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		rows = append(rows, strings.Split(l, "\t"))
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, lines
}

// Load reads a TSV file of v1<TAB>v2<TAB>expected lines.
func Load(t testing.TB, rel string) []Pair {
	t.Helper()
	rows, lines := Lines(t, rel)
	var out []Pair
	for i, r := range rows {
		if len(r) != 3 {
			t.Fatalf("%s:%d: want 3 tab-separated fields, got %q", rel, lines[i], r)
		}
		var w int
		switch strings.TrimSpace(r[2]) {
		case "-1":
			w = -1
		case "0":
			w = 0
		case "1":
			w = 1
		default:
			t.Fatalf("%s:%d: bad expectation %q", rel, lines[i], r[2])
		}
		out = append(out, Pair{A: r[0], B: r[1], Want: w, Line: lines[i]})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no vectors", rel)
	}
	return out
}

// Versions returns the distinct version strings appearing in pairs.
func Versions(pairs []Pair) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pairs {
		for _, v := range []string{p.A, p.B} {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// CheckLaws checks, on n random samples drawn from versions with a fixed
// seed, that cmp is reflexive, antisymmetric (cmp(a,b) == -cmp(b,a)) and
// transitive (a<=b and b<=c imply a<=c, with equality only if both are
// equal), i.e. that it is a total preorder.
func CheckLaws(t *testing.T, versions []string, cmp func(a, b string) int, n int) {
	t.Helper()
	if len(versions) == 0 {
		t.Fatal("no versions")
	}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return versions[r.IntN(len(versions))] }
	for _, v := range versions {
		if c := cmp(v, v); c != 0 {
			t.Errorf("cmp(%q, %q) = %d, want 0", v, v, c)
		}
	}
	for i := 0; i < n; i++ {
		a, b, c := pick(), pick(), pick()
		ab, ba := cmp(a, b), cmp(b, a)
		if ab != -ba {
			t.Errorf("antisymmetry: cmp(%q,%q)=%d but cmp(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		bc, ac := cmp(b, c), cmp(a, c)
		if ab <= 0 && bc <= 0 {
			want := -1
			if ab == 0 && bc == 0 {
				want = 0
			}
			if ac != want {
				t.Errorf("transitivity: %q<=%q (%d), %q<=%q (%d) but cmp(%q,%q)=%d", a, b, ab, b, c, bc, a, c, ac)
			}
		}
	}
}

// Antisymmetric is the body of the version packages' fuzz targets: cmp
// accepts a and b in either order or neither, and its answers are
// opposite.
func Antisymmetric(t *testing.T, cmp func(a, b string) (int, error), a, b string) {
	t.Helper()
	ab, err1 := cmp(a, b)
	ba, err2 := cmp(b, a)
	if (err1 == nil) != (err2 == nil) || ab != -ba {
		t.Fatalf("Compare(%q, %q) = %d, %v but reversed %d, %v", a, b, ab, err1, ba, err2)
	}
}
