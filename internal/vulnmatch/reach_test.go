package vulnmatch

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
)

// catalogBinary catalogs a binary as an image scan does, through the Go
// binary stream cataloger, symbols included.
func catalogBinary(t *testing.T, path string) []sbom.Package {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := catalog.GoBinary().CatalogStream(context.Background(), path, f)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// reachOf matches pkgs against db and returns the golang.org/x/text
// findings' reachability by advisory ID.
func reachOf(t *testing.T, db *vulndb.DB, pkgs []sbom.Package) map[string]*finding.Vulnerability {
	t.Helper()
	res, err := Match(context.Background(), db, pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*finding.Vulnerability{}
	for _, f := range res.Findings {
		if f.Vulnerability.Package.Name == "golang.org/x/text" {
			out[f.Vulnerability.ID] = f.Vulnerability
		}
	}
	return out
}

// govulncheckTextReach runs govulncheck on binary and returns, by
// advisory of golang.org/x/text, whether it found a vulnerable symbol.
func govulncheckTextReach(t *testing.T, tool, db, binary string) map[string]bool {
	t.Helper()
	v := runGovulncheck(t, tool, db, binary)
	found := map[string]bool{}
	for k := range v.fixed {
		if id, ok := strings.CutSuffix(k, " golang.org/x/text"); ok {
			found[id] = v.symbols[id] != nil
		}
	}
	return found
}

// TestReachabilityAgainstGovulncheck builds a binary that calls a
// vulnerable function of golang.org/x/text/language (inlined into main),
// the same stripped, and one that imports the package but calls none of
// them, and checks that every finding's reachability is govulncheck's
// verdict.
func TestReachabilityAgainstGovulncheck(t *testing.T) {
	db := openGoVulnDB(t)
	gvdb := govulncheckDB(t, vulndbtest.GoVulnDB(t))
	tool := installGovulncheck(t)
	tests := []struct {
		name  string
		dir   string
		flags []string
		// wantTrue are the advisories the binary reaches; at least one
		// other x/text advisory must be unreachable in each binary.
		wantTrue []string
	}{
		{"calls language.Parse", "testdata/vulnapp", nil, []string{"GO-2021-0113"}},
		{"calls language.Parse, stripped", "testdata/vulnapp", []string{"-ldflags=-s -w"}, []string{"GO-2021-0113"}},
		{"imports language only", "testdata/vulnapp-nosym", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := buildTestApp(t, tt.dir, tt.flags)
			pkgs := catalogBinary(t, bin)
			if len(pkgs) == 0 || pkgs[0].GoSymbols == nil {
				t.Fatalf("%s: no symbols read", bin)
			}
			got := reachOf(t, db, pkgs)
			// govulncheck reads no symbols from a stripped binary and
			// then reports every vulnerable symbol as found; the
			// reference for a stripped build is the unstripped one.
			ref := bin
			if len(tt.flags) > 0 {
				ref = buildTestApp(t, tt.dir, nil)
			}
			want := govulncheckTextReach(t, tool, gvdb, ref)
			if len(got) == 0 {
				t.Fatal("no golang.org/x/text findings")
			}
			var falses int
			for id, v := range got {
				if _, ok := want[id]; !ok {
					t.Errorf("%s: Palisade reports it, govulncheck does not", id)
				}
				if wantReach := map[bool]string{true: finding.ReachableTrue, false: finding.ReachableFalse}[want[id]]; v.Reachable != wantReach {
					t.Errorf("%s: reachable = %q, govulncheck says %q", id, v.Reachable, wantReach)
				}
				if v.Reachable == finding.ReachableFalse {
					falses++
				}
			}
			for id := range want {
				if _, ok := got[id]; !ok {
					t.Errorf("%s: govulncheck reports it, Palisade does not", id)
				}
			}
			for _, id := range tt.wantTrue {
				if v := got[id]; v == nil || v.Reachable != finding.ReachableTrue || !strings.Contains(strings.Join(v.Symbols, " "), "golang.org/x/text/language.Parse") {
					t.Errorf("%s: want reachable through golang.org/x/text/language.Parse, got %+v", id, v)
				}
			}
			if falses == 0 {
				t.Error("no unreachable advisory: the test binary no longer tells the two apart")
			}
		})
	}
}

func TestReachability(t *testing.T) {
	syms := map[string]struct{}{
		"example.com/m/a": {}, "example.com/m/a.F": {}, "example.com/m/a.T.M": {},
		"example.com/m/b": {}, "example.com/m/b.G": {},
	}
	rec := func(es string) *vulndb.Record {
		a := vulndb.Affected{Package: vulndb.Package{Ecosystem: "Go", Name: "example.com/m"}}
		if es != "" {
			a.EcosystemSpecific = json.RawMessage(es)
		}
		return &vulndb.Record{ID: "GO-TEST", Affected: []vulndb.Affected{a}}
	}
	goPkg := sbom.Package{Name: "example.com/m", Version: "v1.0.0", Ecosystem: sbom.EcosystemGo, Platform: "linux/amd64", GoSymbols: syms}
	tests := []struct {
		name     string
		es       string
		pkg      sbom.Package
		want     string
		wantSyms []string
	}{
		{"function linked", `{"imports":[{"path":"example.com/m/a","symbols":["F","H"]}]}`, goPkg, finding.ReachableTrue, []string{"example.com/m/a.F"}},
		{"method linked", `{"imports":[{"path":"example.com/m/a","symbols":["T.M"]}]}`, goPkg, finding.ReachableTrue, []string{"example.com/m/a.T.M"}},
		{"symbols not linked", `{"imports":[{"path":"example.com/m/a","symbols":["H","T.N"]}]}`, goPkg, finding.ReachableFalse, nil},
		{"package not linked", `{"imports":[{"path":"example.com/m/c","symbols":["F"]}]}`, goPkg, finding.ReachableFalse, nil},
		{"whole package, linked", `{"imports":[{"path":"example.com/m/b"}]}`, goPkg, finding.ReachableTrue, []string{"example.com/m/b"}},
		{"whole package, not linked", `{"imports":[{"path":"example.com/m/c"}]}`, goPkg, finding.ReachableFalse, nil},
		{"second import linked", `{"imports":[{"path":"example.com/m/c","symbols":["F"]},{"path":"example.com/m/b","symbols":["G"]}]}`, goPkg, finding.ReachableTrue, []string{"example.com/m/b.G"}},
		{"no imports", ``, goPkg, finding.ReachableUnknown, nil},
		{"empty imports", `{"imports":[]}`, goPkg, finding.ReachableUnknown, nil},
		{"imports not understood", `{"imports":"a"}`, goPkg, finding.ReachableUnknown, nil},
		{"symbols not read", `{"imports":[{"path":"example.com/m/a","symbols":["F"]}]}`, func() sbom.Package { p := goPkg; p.GoSymbols = nil; return p }(), finding.ReachableUnknown, nil},
		{"not Go", `{"imports":[{"path":"example.com/m/a","symbols":["F"]}]}`, sbom.Package{Name: "example.com/m", Ecosystem: "npm"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotSyms := reachability(rec(tt.es), &tt.pkg, queryOf(&tt.pkg))
			if got != tt.want || strings.Join(gotSyms, " ") != strings.Join(tt.wantSyms, " ") {
				t.Errorf("reachability = %q %v, want %q %v", got, gotSyms, tt.want, tt.wantSyms)
			}
		})
	}
}
