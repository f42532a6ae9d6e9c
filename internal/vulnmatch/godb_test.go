package vulnmatch

import (
	"context"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/version"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
)

// openGoVulnDB imports the real Go vulnerability database.
func openGoVulnDB(t *testing.T) *vulndb.DB {
	t.Helper()
	if testing.Short() {
		t.Skip("imports the whole Go vulnerability database")
	}
	dir := vulndbtest.GoVulnDB(t)
	ctx := context.Background()
	c := vulndb.Cache{Dir: t.TempDir()}
	if _, err := c.ImportOSV(ctx, dir, "go-vulndb", time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// buildVulnApp builds testdata/vulnapp, a program that depends on
// golang.org/x/text v0.3.5, and returns the binary's path.
func buildVulnApp(t *testing.T, env ...string) string {
	t.Helper()
	return buildTestApp(t, "testdata/vulnapp", nil, env...)
}

// buildTestApp builds the program in dir with extra go build flags.
func buildTestApp(t *testing.T, dir string, flags []string, env ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(dir))
	cmd := exec.Command("go", append(append([]string{"build", "-o", out}, flags...), ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	cmd.Env = append(cmd.Env, env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("PALISADE_REQUIRE_NETWORK_DATA") == "" {
			t.Skipf("go build %s (needs the module proxy): %v\n%s", dir, err, b)
		}
		t.Fatalf("go build %s: %v\n%s", dir, err, b)
	}
	return out
}

// goPackages lists a binary's modules and its standard library the way
// the Go binary cataloger does, read here with debug/buildinfo directly.
func goPackages(t *testing.T, binary string) []sbom.Package {
	t.Helper()
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := []sbom.Package{{Name: "stdlib", Version: bi.GoVersion, Ecosystem: sbom.EcosystemGo, Type: "golang", Locations: []string{binary}}}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		pkgs = append(pkgs, sbom.Package{Name: d.Path, Version: d.Version, Ecosystem: sbom.EcosystemGo, Type: "golang",
			PURL: "pkg:golang/" + d.Path + "@" + d.Version, Locations: []string{binary}})
	}
	return pkgs
}

func TestMatchGoBinaryAgainstGoVulnDB(t *testing.T) {
	db := openGoVulnDB(t)
	bin := buildVulnApp(t)
	pkgs := goPackages(t, bin)
	res, err := Match(context.Background(), db, pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	goCmp, err := version.For("Go")
	if err != nil {
		t.Fatal(err)
	}
	type hit struct{ id, fixed string }
	var text []hit
	for _, f := range res.Findings {
		v := f.Vulnerability
		switch v.Package.Name {
		case "golang.org/x/text":
			text = append(text, hit{f.RuleID, v.Fixed})
			if v.Installed != "v0.3.5" || f.File != bin {
				t.Errorf("%s: installed %q, file %q", f.RuleID, v.Installed, f.File)
			}
		case "stdlib":
			// The toolchain building the test is recent; whatever it is
			// affected by must have a fix above it.
			if v.Fixed != "" {
				if c, err := goCmp.Compare(v.Fixed, v.Installed); err != nil || c <= 0 {
					t.Errorf("stdlib %s: fixed %q is not above %q", f.RuleID, v.Fixed, v.Installed)
				}
			}
		}
	}
	sort.Slice(text, func(i, j int) bool { return text[i].id < text[j].id })
	expected := []hit{
		{"GO-2021-0113", "0.3.7"},  // CVE-2021-38561, out-of-bounds read in language.Parse
		{"GO-2022-1059", "0.3.8"},  // CVE-2022-32149, denial of service in language.ParseAcceptLanguage
		{"GO-2026-5970", "0.39.0"}, // CVE-2026-56852
		{"GO-2026-6629", "0.41.0"}, // CVE-2026-56851
	}
	if len(text) != len(expected) {
		t.Fatalf("golang.org/x/text v0.3.5: %v, want %v", text, expected)
	}
	for i := range text {
		if text[i] != expected[i] {
			t.Errorf("golang.org/x/text v0.3.5: %v, want %v", text, expected)
		}
	}
	for _, f := range res.Findings {
		if f.RuleID == "GO-2021-0113" {
			if !contains(f.Vulnerability.Aliases, "CVE-2021-38561") || !contains(f.Vulnerability.Aliases, "GHSA-ppp9-7jff-5vj2") ||
				f.Vulnerability.Links[0] != "https://pkg.go.dev/vuln/GO-2021-0113" {
				t.Errorf("GO-2021-0113: %+v", f.Vulnerability)
			}
		}
	}
}

func TestMatchGoStdlibVersions(t *testing.T) {
	db := openGoVulnDB(t)
	for _, tt := range []struct {
		goVersion, id, fixed string
		affected             bool
	}{
		{"go1.20.1", "GO-2023-1703", "1.20.3", true}, // CVE-2023-24538, second interval
		{"go1.19.7", "GO-2023-1703", "1.19.8", true}, // first interval
		{"go1.20.3", "GO-2023-1703", "", false},
		{"go1.18.5", "GO-2022-0969", "1.18.6", true}, // CVE-2022-27664
		{"go1.19.1", "GO-2022-0969", "", false},
	} {
		res, err := Match(context.Background(), db, []sbom.Package{{Name: "stdlib", Version: tt.goVersion, Ecosystem: "Go"}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range res.Findings {
			if f.RuleID == tt.id {
				found = true
				if f.Vulnerability.Fixed != tt.fixed {
					t.Errorf("stdlib %s: %s fixed %q, want %q", tt.goVersion, tt.id, f.Vulnerability.Fixed, tt.fixed)
				}
			}
		}
		if found != tt.affected {
			t.Errorf("stdlib %s: %s found %v, want %v (%d findings)", tt.goVersion, tt.id, found, tt.affected, len(res.Findings))
		}
	}
}

// TestMatchGoExperimentBinary builds vulnapp for linux/amd64 with a Go
// experiment (its Go version reads "go1.26.8-X:jsonv2"), catalogues it
// with the Go binary cataloger, and matches it against the real Go
// vulnerability database: the standard library is matched at its release
// (the same findings as a plain build of that release would have), with
// no problem, and records whose affected packages are all Windows-only
// (GO-2026-6604, os and syscall on windows) are not reported, as
// govulncheck does not report them.
func TestMatchGoExperimentBinary(t *testing.T) {
	db := openGoVulnDB(t)
	bin := buildVulnApp(t, "GOEXPERIMENT=jsonv2", "GOOS=linux", "GOARCH=amd64")
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bi.GoVersion, "X:jsonv2") {
		t.Fatalf("Go version %q: the experiment is not recorded", bi.GoVersion)
	}
	pkgs := catalog.GoPackages(bi, bin)
	var stdlib *sbom.Package
	for i := range pkgs {
		if pkgs[i].Name == "stdlib" {
			stdlib = &pkgs[i]
		}
	}
	if stdlib == nil || stdlib.Platform != "linux/amd64" {
		t.Fatalf("stdlib package %+v: want one, for linux/amd64", stdlib)
	}
	res, err := Match(context.Background(), db, []sbom.Package{*stdlib}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 {
		t.Errorf("problems: %+v", res.Problems)
	}
	release := strings.TrimPrefix(runtime.Version(), "go")
	if i := strings.IndexAny(release, " -"); i >= 0 {
		release = release[:i]
	}
	plain, err := Match(context.Background(), db, []sbom.Package{{Name: "stdlib", Version: release, Ecosystem: "Go", Platform: "linux/amd64"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(r *Result) []string {
		var out []string
		for _, f := range r.Findings {
			out = append(out, f.RuleID)
		}
		return out
	}
	if got, want := ids(res), ids(plain); !slices.Equal(got, want) {
		t.Errorf("go%s-X:jsonv2 findings %v, want those of go%s: %v", release, got, release, want)
	}
	if release == "1.26.8" {
		if len(res.Findings) == 0 || slices.Contains(ids(res), "GO-2026-6604") {
			t.Errorf("go1.26.8 on linux/amd64: findings %v; want several, and not the Windows-only GO-2026-6604", ids(res))
		}
		stdlib.Platform = "windows/amd64"
		win, err := Match(context.Background(), db, []sbom.Package{*stdlib}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ids(win), "GO-2026-6604") {
			t.Errorf("go1.26.8 on windows/amd64: findings %v lack GO-2026-6604", ids(win))
		}
	}
}
