package semver

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/version/internal/vectors"
)

func TestSpecPrecedence(t *testing.T) {
	const file = "semver-spec-precedence.tsv"
	pairs := vectors.Load(t, file)
	for _, p := range pairs {
		got, err := Compare(p.A, p.B)
		if err != nil || got != p.Want {
			t.Errorf("%s:%d: Compare(%q, %q) = %d, %v; want %d", file, p.Line, p.A, p.B, got, err, p.Want)
		}
		if rev, _ := Compare(p.B, p.A); rev != -p.Want {
			t.Errorf("%s:%d: reversed = %d", file, p.Line, rev)
		}
	}
	t.Logf("%s: %d vectors", file, len(pairs))
}

// nodeRows reads a node-semver fixture exported as a JSON array of arrays.
func nodeRows(t *testing.T, name string) [][]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(vectors.Path(t, "semver-node/"+name))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]json.RawMessage
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func str(t *testing.T, m json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(m, &s); err != nil {
		return "", false
	}
	return s, true
}

// isLoose interprets node-semver's options argument: true, or an object
// whose "loose" member is truthy, selects loose parsing.
func isLoose(row []json.RawMessage, idx int) bool {
	if len(row) <= idx {
		return false
	}
	var b bool
	if json.Unmarshal(row[idx], &b) == nil {
		return b
	}
	var o map[string]any
	if json.Unmarshal(row[idx], &o) == nil {
		switch v := o["loose"].(type) {
		case bool:
			return v
		case float64:
			return v != 0
		case string:
			return v != ""
		}
	}
	return false
}

// node-semver's "strict" mode is not SemVer 2.0's grammar: it trims
// whitespace and allows one leading "v". Vectors in strict mode that use
// those extensions are checked with ParseLoose (a superset of node's strict
// mode), and Parse must reject them; all other strict-mode vectors go
// through Parse.
func nodeStrictNeedsLoose(s string) bool {
	return strings.TrimSpace(s) != s || strings.HasPrefix(strings.TrimSpace(s), "v")
}

func parserFor(loose bool, a, b string) (string, func(string, string) (int, error)) {
	if loose || nodeStrictNeedsLoose(a) || nodeStrictNeedsLoose(b) {
		return "CompareLoose", CompareLoose
	}
	return "Compare", Compare
}

func TestNodeComparisons(t *testing.T) {
	rows := nodeRows(t, "comparisons.json")
	for i, r := range rows {
		a, _ := str(t, r[0])
		b, _ := str(t, r[1])
		name, cmp := parserFor(isLoose(r, 2), a, b)
		got, err := cmp(a, b)
		if err != nil || got != 1 {
			t.Errorf("comparisons.json[%d]: %s(%q, %q) = %d, %v; want 1", i, name, a, b, got, err)
		}
		if rev, err := cmp(b, a); err != nil || rev != -1 {
			t.Errorf("comparisons.json[%d]: %s(%q, %q) = %d, %v; want -1", i, name, b, a, rev, err)
		}
	}
	t.Logf("comparisons.json: %d vectors", len(rows))
}

func TestNodeEquality(t *testing.T) {
	rows := nodeRows(t, "equality.json")
	for i, r := range rows {
		a, _ := str(t, r[0])
		b, _ := str(t, r[1])
		name, cmp := parserFor(isLoose(r, 2), a, b)
		if got, err := cmp(a, b); err != nil || got != 0 {
			t.Errorf("equality.json[%d]: %s(%q, %q) = %d, %v; want 0", i, name, a, b, got, err)
		}
		if name == "CompareLoose" && !isLoose(r, 2) {
			if _, err := Parse(a); err == nil {
				if _, err := Parse(b); err == nil {
					t.Errorf("equality.json[%d]: Parse accepted node-only syntax", i)
				}
			}
		}
	}
	t.Logf("equality.json: %d vectors", len(rows))
}

func TestNodeValid(t *testing.T) {
	rows := nodeRows(t, "valid-versions.json")
	for i, r := range rows {
		s, _ := str(t, r[0])
		parse := Parse
		if nodeStrictNeedsLoose(s) {
			parse = ParseLoose
			if _, err := Parse(s); err == nil {
				t.Errorf("valid-versions.json[%d]: Parse(%q) accepted a 'v' prefix", i, s)
			}
		}
		v, err := parse(s)
		if err != nil {
			t.Errorf("valid-versions.json[%d]: %v", i, err)
			continue
		}
		var maj, min, pat json.Number
		var pre, build []any
		_ = json.Unmarshal(r[1], &maj)
		_ = json.Unmarshal(r[2], &min)
		_ = json.Unmarshal(r[3], &pat)
		_ = json.Unmarshal(r[4], &pre)
		_ = json.Unmarshal(r[5], &build)
		join := func(xs []any) string {
			var out []string
			for _, x := range xs {
				b, _ := json.Marshal(x)
				out = append(out, strings.Trim(string(b), `"`))
			}
			return strings.Join(out, ".")
		}
		if v.Major() != maj.String() || v.Minor() != min.String() || v.Patch() != pat.String() ||
			v.Prerelease() != join(pre) || v.Build() != join(build) {
			t.Errorf("valid-versions.json[%d]: %q parsed as %s.%s.%s-%s+%s", i, s, v.Major(), v.Minor(), v.Patch(), v.Prerelease(), v.Build())
		}
	}
	t.Logf("valid-versions.json: %d vectors", len(rows))
}

// invalid-versions.json: three rows pass non-string JavaScript values
// (a RegExp, an object), which a Go string API cannot receive; they are
// counted but not applicable. The "too long" and "too big" rows are npm
// limits (256 bytes, 2^53-1): ParseLoose enforces them, while strict SemVer
// 2.0 sets no limit, so Parse accepts them (within its own 1024-byte bound).
func TestNodeInvalid(t *testing.T) {
	rows := nodeRows(t, "invalid-versions.json")
	nonString := 0
	for i, r := range rows {
		s, ok := str(t, r[0])
		if !ok {
			nonString++
			continue
		}
		reason, _ := str(t, r[1])
		if _, err := ParseLoose(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("invalid-versions.json[%d]: ParseLoose(%q) error = %v (%s)", i, s, err, reason)
		}
		_, err := Parse(s)
		npmLimit := reason == "too long" || reason == "too big"
		if npmLimit != (err == nil) {
			t.Errorf("invalid-versions.json[%d]: Parse(%q) error = %v (%s)", i, s, err, reason)
		}
	}
	if nonString != 3 {
		t.Errorf("%d non-string rows, want 3", nonString)
	}
	t.Logf("invalid-versions.json: %d vectors (%d non-string, not applicable to a Go string API)", len(rows), nonString)
}

func TestStrictInvalid(t *testing.T) {
	for _, s := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-01", "1.2.3-",
		"1.2.3+", "1.2.3-a..b", "1.2.3+a..b", "1.2.3-a_b", "v1.2.3", " 1.2.3", "1.2.3 ", "-1.2.3", "1.2.x", "a.b.c"} {
		if v, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, %v; want ErrInvalid", s, v, err)
		}
	}
	for _, s := range []string{"0.0.0", "1.2.3-0", "1.2.3-0a", "1.2.3-a.0", "1.2.3+01", "1.2.3-x-y-z.--", "99999999999999999999999.0.0"} {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}

func TestGoVectors(t *testing.T) {
	const file = "go/go-order.tsv"
	pairs := vectors.Load(t, file)
	for _, p := range pairs {
		got, err := CompareGo(p.A, p.B)
		if err != nil || got != p.Want {
			t.Errorf("%s:%d: CompareGo(%q, %q) = %d, %v; want %d", file, p.Line, p.A, p.B, got, err, p.Want)
		}
		if rev, _ := CompareGo(p.B, p.A); rev != -p.Want {
			t.Errorf("%s:%d: reversed = %d", file, p.Line, rev)
		}
	}
	t.Logf("%s: %d vectors", file, len(pairs))
	for _, s := range []string{"", "go", "go1.021", "go1.2.3.4", "vgo1.2", "go1.21rc", "go1.21rc01", "1.2.3.4", "go1.21.3 X", "v01.2.3"} {
		if _, err := ParseGo(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseGo(%q) error = %v, want ErrInvalid", s, err)
		}
	}
	if v, _ := ParseGo("go1.22rc1"); v.String() != "1.22.0-rc.1" {
		t.Errorf("ParseGo(go1.22rc1) = %s", v)
	}
}

func TestLaws(t *testing.T) {
	vs := vectors.Versions(vectors.Load(t, "semver-spec-precedence.tsv"))
	vs = append(vs, "1.2.3-a.10", "1.2.3-a.5", "1.2.3-a.b", "1.2.3-a", "1.2.3-R2", "1.2.3-r100", "0.0.0", "0.0.0-foo", "10.0.0")
	vectors.CheckLaws(t, vs, func(a, b string) int {
		r, err := Compare(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, 20000)
	gv := vectors.Versions(vectors.Load(t, "go/go-order.tsv"))
	vectors.CheckLaws(t, gv, func(a, b string) int {
		r, err := CompareGo(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}, 20000)
}
