package vulnmatch

// The cross-check against govulncheck (golang.org/x/vuln, from the module
// proxy) with the whole Go vulnerability database: both read the same
// binaries and the same records, and their findings are compared at
// module level (advisory and module, with the fixed version) and at
// symbol level (which advisories the binary reaches, through which
// symbols).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
)

const govulncheck = "golang.org/x/vuln/cmd/govulncheck@v1.9.0"

// govulncheckDB writes the Go vulnerability database of osvDir in the
// offline layout govulncheck reads with `-db file://DIR` (x/vuln's v1
// schema: index/db.json, index/modules.json and ID/<id>.json); ID is a
// symbolic link to osvDir. The module index leaves out each advisory's
// "fixed" version, which the schema makes optional: govulncheck then
// fetches every advisory of a module and decides from its ranges, so no
// advisory is skipped because of an index this helper computed.
func govulncheckDB(t *testing.T, osvDir string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "index"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(osvDir, filepath.Join(dir, "ID")); err != nil {
		t.Fatal(err)
	}
	type vuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
	}
	modules := map[string][]vuln{}
	var latest time.Time
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID       string    `json:"id"`
			Modified time.Time `json:"modified"`
			Affected []struct {
				Package struct {
					Name      string `json:"name"`
					Ecosystem string `json:"ecosystem"`
				} `json:"package"`
			} `json:"affected"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rec.ID+".json" != filepath.Base(name) {
			t.Fatalf("%s holds %s", name, rec.ID)
		}
		if rec.Modified.After(latest) {
			latest = rec.Modified
		}
		seen := map[string]bool{}
		for _, a := range rec.Affected {
			if m := a.Package.Name; a.Package.Ecosystem == "Go" && !seen[m] {
				seen[m] = true
				modules[m] = append(modules[m], vuln{rec.ID, rec.Modified})
			}
		}
	}
	if len(modules) == 0 {
		t.Fatalf("%s: no Go advisories", osvDir)
	}
	type module struct {
		Path  string `json:"path"`
		Vulns []vuln `json:"vulns"`
	}
	index := make([]module, 0, len(modules))
	for path, vulns := range modules {
		index = append(index, module{path, vulns})
	}
	sort.Slice(index, func(i, j int) bool { return index[i].Path < index[j].Path })
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "index", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("db.json", map[string]time.Time{"modified": latest})
	write("modules.json", index)
	return dir
}

// installGovulncheck builds govulncheck from the module proxy into a
// temporary directory (the Go build cache makes it quick after the first
// time) and returns its path. Without the proxy the test is skipped, and
// fails when PALISADE_REQUIRE_NETWORK_DATA is set.
func installGovulncheck(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "install", govulncheck)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOBIN="+bin, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("PALISADE_REQUIRE_NETWORK_DATA") == "" {
			t.Skipf("go install %s (needs the module proxy): %v\n%s", govulncheck, err, b)
		}
		t.Fatalf("go install %s: %v\n%s", govulncheck, err, b)
	}
	return filepath.Join(bin, "govulncheck")
}

// verdict is one tool's findings on one binary.
type verdict struct {
	// goVersion is the standard library's version the tool read.
	goVersion string
	// fixed holds every finding, keyed by "advisory module", with its
	// fixed version ("" when none), without "v" or "go" prefix.
	fixed map[string]string
	// symbols holds the advisories the binary reaches, with the
	// vulnerable symbols found ("path.Func", "path.Type.Method").
	symbols map[string][]string
}

func newVerdict() verdict {
	return verdict{fixed: map[string]string{}, symbols: map[string][]string{}}
}

// runGovulncheck runs govulncheck's binary mode with db on binary.
func runGovulncheck(t *testing.T, tool, db, binary string) verdict {
	t.Helper()
	cmd := exec.Command(tool, "-mode=binary", "-format=json", "-db", "file://"+db, binary)
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("govulncheck %s: %v\n%s", binary, err, stderr.String())
	}
	v := newVerdict()
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var msg struct {
			SBOM *struct {
				GoVersion string `json:"go_version"`
			} `json:"SBOM"`
			Finding *struct {
				OSV   string `json:"osv"`
				Fixed string `json:"fixed_version"`
				Trace []struct {
					Module   string `json:"module"`
					Package  string `json:"package"`
					Function string `json:"function"`
					Receiver string `json:"receiver"`
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("govulncheck output: %v", err)
		}
		if msg.SBOM != nil {
			v.goVersion = msg.SBOM.GoVersion
		}
		f := msg.Finding
		if f == nil {
			continue
		}
		if len(f.Trace) == 0 || f.Trace[0].Module == "" {
			t.Fatalf("govulncheck finding %s without a module", f.OSV)
		}
		top := f.Trace[0]
		v.fixed[f.OSV+" "+top.Module] = bareVersion(f.Fixed)
		if top.Function != "" {
			sym := top.Function
			if top.Receiver != "" {
				sym = strings.TrimPrefix(top.Receiver, "*") + "." + sym
			}
			v.symbols[f.OSV] = append(v.symbols[f.OSV], top.Package+"."+sym)
		}
	}
	for id, syms := range v.symbols {
		slices.Sort(syms)
		v.symbols[id] = slices.Compact(syms)
	}
	return v
}

// palisadeVerdict catalogs binary as an image scan does and matches it
// against db.
func palisadeVerdict(t *testing.T, db *vulndb.DB, binary string) (verdict, []finding.Finding) {
	t.Helper()
	pkgs := catalogBinary(t, binary)
	v := newVerdict()
	for _, p := range pkgs {
		if p.Name == "stdlib" {
			v.goVersion = p.Version
		}
	}
	res, err := Match(context.Background(), db, pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 {
		t.Errorf("problems: %+v", res.Problems)
	}
	for _, f := range res.Findings {
		vu := f.Vulnerability
		v.fixed[vu.ID+" "+vu.Package.Name] = bareVersion(vu.Fixed)
		if vu.Reachable == finding.ReachableTrue {
			v.symbols[vu.ID] = append(v.symbols[vu.ID], shownSymbols(vu.Symbols)...)
		}
	}
	for id, syms := range v.symbols {
		slices.Sort(syms)
		v.symbols[id] = slices.Compact(syms)
	}
	return v, res.Findings
}

// shownSymbols keeps of syms ("path.Func", "path.Type.Method") those
// govulncheck's binary mode shows: it drops a package's unexported
// functions and methods when an exported one of the same package is
// found (uniqueVulns in x/vuln's internal/vulncheck), a choice of display
// that does not change whether the advisory is reachable.
func shownSymbols(syms []string) []string {
	split := func(s string) (pkg, name string) {
		slash := strings.LastIndexByte(s, '/') + 1
		dot := strings.IndexByte(s[slash:], '.')
		if dot < 0 {
			return s, ""
		}
		return s[:slash+dot], s[slash+dot+1:]
	}
	exported := func(name string) bool {
		last := name[strings.LastIndexByte(name, '.')+1:]
		return last != "" && last[0] >= 'A' && last[0] <= 'Z'
	}
	hasExported := map[string]bool{}
	for _, s := range syms {
		if pkg, name := split(s); exported(name) {
			hasExported[pkg] = true
		}
	}
	var out []string
	for _, s := range syms {
		if pkg, name := split(s); exported(name) || !hasExported[pkg] {
			out = append(out, s)
		}
	}
	return out
}

func bareVersion(v string) string {
	return strings.TrimPrefix(strings.TrimPrefix(v, "go"), "v")
}

// crossCheckCase is one binary of TestGovulncheckWholeDatabase.
type crossCheckCase struct {
	name string
	dir  string
	// env holds GOOS, GOARCH and GOEXPERIMENT.
	env []string
	// stamp, when set, is the Go version the linker writes into the
	// binary's build information (-X runtime.buildVersion): an older
	// release than the toolchain's, so that the standard library has the
	// findings an old toolchain's binary has. Both tools read the same
	// binary; only older toolchains themselves cannot be had here.
	stamp string
	// refStamp, when set, is the version govulncheck reads instead: the
	// same build stamped with it is govulncheck's reference, because
	// govulncheck cannot read this binary's version (see the test's comment).
	refStamp string
	// flags are more go build flags (-ldflags=-s -w).
	flags []string
	// refUnstripped, for a stripped build whose pclntab Palisade still
	// reads (ELF, Mach-O), makes govulncheck's reference the same build
	// without flags: govulncheck reads no symbols from a stripped binary
	// and reports every vulnerable symbol as found.
	refUnstripped bool
	// noSymbols, when set, says why Palisade reads no symbols from this
	// binary: its findings' reachability must all be unknown, and only
	// the findings themselves are compared.
	noSymbols string
	// want and notWant are advisories that must (must not) be among
	// Palisade's findings, so that the case keeps testing what it names.
	want, notWant []string
}

// strippedPE is why neither tool reads symbols from a stripped Windows
// binary: `-ldflags=-s` drops its COFF symbols, and with them
// runtime.pclntab, the only pointer to the pclntab inside .rdata.
const strippedPE = "a stripped PE binary has no COFF symbols: govulncheck reports every vulnerable symbol as found, Palisade reachability unknown"

// TestGovulncheckWholeDatabase builds a program linking vulnerable
// standard library packages and one linking vulnerable golang.org/x
// modules, for linux/amd64, windows/amd64, windows/386, windows/arm64
// (PE: the pclntab found through the COFF symbol runtime.pclntab),
// darwin/arm64 and darwin/amd64 (Mach-O: the __gopclntab section), and
// stripped builds of each format, with and without a Go
// experiment, runs govulncheck's binary mode with the whole Go
// vulnerability database in its offline layout and Palisade's matcher
// with the same database imported, and compares: the same advisories
// per module, with the same fixed versions, and the same reachable
// advisories through the same symbols.
//
// The differences between the two tools, each handled where it is
// decided and checked to still hold:
//   - govulncheck shows a package's unexported vulnerable symbols only
//     when no exported one is found (shownSymbols applies its rule);
//   - govulncheck v1.9.0 reads no standard library version from Go 1.26's
//     "go1.26.8-X:jsonv2" and reports nothing for it (refStamp);
//   - on a stripped PE binary govulncheck finds no symbols and reports
//     every vulnerable symbol as found, Palisade reads none and says
//     unknown (noSymbols): the findings themselves are compared;
//   - on a stripped ELF or Mach-O binary govulncheck finds no symbols
//     either, but Palisade reads the pclntab, which stripping keeps:
//     its symbols are compared with govulncheck's on the same build
//     unstripped (refUnstripped).
func TestGovulncheckWholeDatabase(t *testing.T) {
	db := openGoVulnDB(t)
	gvdb := govulncheckDB(t, vulndbtest.GoVulnDB(t))
	tool := installGovulncheck(t)
	release := goReleaseOf(runtime.Version())
	linux := []string{"GOOS=linux", "GOARCH=amd64"}
	windows := []string{"GOOS=windows", "GOARCH=amd64"}
	darwin := []string{"GOOS=darwin", "GOARCH=arm64"}
	stripped := []string{"-ldflags=-s -w"}
	jsonv2 := func(env []string) []string { return append(slices.Clone(env), "GOEXPERIMENT=jsonv2") }
	tests := []crossCheckCase{
		{name: "stdlib, " + release + ", linux", dir: "testdata/stdapp", env: linux},
		{name: "stdlib, as go1.22.0, linux", dir: "testdata/stdapp", env: linux, stamp: "go1.22.0",
			notWant: []string{"GO-2026-6604"}},
		{name: "stdlib, as go1.22.0, windows", dir: "testdata/stdapp", env: windows, stamp: "go1.22.0",
			want: []string{"GO-2026-6604"}},
		{name: "stdlib, " + release + "-X:jsonv2, linux", dir: "testdata/stdapp", env: jsonv2(linux), refStamp: release},
		{name: "stdlib, as go1.25.0 X:jsonv2, linux", dir: "testdata/stdapp", env: jsonv2(linux), stamp: "go1.25.0 X:jsonv2"},
		{name: "modules, linux", dir: "testdata/modapp", env: linux},
		{name: "modules, windows", dir: "testdata/modapp", env: windows},
		{name: "modules, windows/386", dir: "testdata/modapp", env: []string{"GOOS=windows", "GOARCH=386"}},
		{name: "modules, windows/arm64", dir: "testdata/modapp", env: []string{"GOOS=windows", "GOARCH=arm64"}},
		{name: "modules, windows, stripped", dir: "testdata/modapp", env: windows, flags: stripped, noSymbols: strippedPE},
		{name: "modules, linux, stripped", dir: "testdata/modapp", env: linux, flags: stripped, refUnstripped: true},
		{name: "stdlib, as go1.22.0, darwin/arm64", dir: "testdata/stdapp", env: darwin, stamp: "go1.22.0"},
		{name: "modules, darwin/arm64", dir: "testdata/modapp", env: darwin},
		{name: "modules, darwin/amd64", dir: "testdata/modapp", env: []string{"GOOS=darwin", "GOARCH=amd64"}},
		{name: "modules, darwin/arm64, stripped", dir: "testdata/modapp", env: darwin, flags: stripped, refUnstripped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := buildTestApp(t, tt.dir, append(stampFlags(tt.stamp), tt.flags...), tt.env...)
			got, findings := palisadeVerdict(t, db, bin)
			ref := bin
			if tt.refStamp != "" {
				ref = buildTestApp(t, tt.dir, stampFlags(tt.refStamp), tt.env...)
				// The reason refStamp is needed must still hold.
				if own := runGovulncheck(t, tool, gvdb, bin); len(own.fixed) != 0 || own.goVersion == got.goVersion {
					t.Errorf("govulncheck now reads %s (%d findings): compare it directly", own.goVersion, len(own.fixed))
				}
			}
			if tt.refUnstripped {
				ref = buildTestApp(t, tt.dir, stampFlags(tt.stamp), tt.env...)
				// The reason must still hold: govulncheck reads no
				// symbols from the stripped build.
				if own, full := runGovulncheck(t, tool, gvdb, bin), runGovulncheck(t, tool, gvdb, ref); len(diffVerdicts(own, full)) == 0 {
					t.Error("govulncheck reads the stripped build's symbols now: compare it directly")
				}
			}
			want := runGovulncheck(t, tool, gvdb, ref)
			if len(want.fixed) == 0 {
				t.Fatal("govulncheck reports nothing: the binary no longer tests anything")
			}
			if tt.noSymbols != "" {
				for _, f := range findings {
					if f.Vulnerability.Reachable != finding.ReachableUnknown {
						t.Errorf("%s: reachable %q; want unknown (%s)", f.RuleID, f.Vulnerability.Reachable, tt.noSymbols)
					}
				}
				if len(want.symbols) == 0 {
					t.Error("govulncheck finds no reachable advisory: the binary no longer tests reachability")
				}
				want.symbols = map[string][]string{}
			}
			for _, d := range diffVerdicts(got, want) {
				t.Error(d)
			}
			ids := map[string]bool{}
			for _, f := range findings {
				ids[f.RuleID] = true
			}
			for _, id := range tt.want {
				if !ids[id] {
					t.Errorf("%s: not reported", id)
				}
			}
			for _, id := range tt.notWant {
				if ids[id] {
					t.Errorf("%s: reported", id)
				}
			}
			t.Logf("%s: %d findings, %d reachable; Go version %q", filepath.Base(bin), len(got.fixed), len(got.symbols), got.goVersion)
		})
	}
}

// stampFlags returns the go build flags writing version as the binary's
// Go version, none when version is "".
func stampFlags(version string) []string {
	if version == "" {
		return nil
	}
	return []string{"-ldflags=-X 'runtime.buildVersion=" + version + "'"}
}

// goReleaseOf is the release of a Go version string: "go1.26.8" for
// "go1.26.8-X:jsonv2" or "go1.26.8 X:boringcrypto".
func goReleaseOf(v string) string {
	if i := strings.IndexAny(v, " -"); i >= 0 {
		return v[:i]
	}
	return v
}

// without returns the elements of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// diffVerdicts lists how got (Palisade) differs from want (govulncheck).
func diffVerdicts(got, want verdict) []string {
	var out []string
	if bareVersion(goReleaseOf(got.goVersion)) != bareVersion(goReleaseOf(want.goVersion)) {
		out = append(out, fmt.Sprintf("Go version %q, govulncheck read %q", got.goVersion, want.goVersion))
	}
	for k, fixed := range got.fixed {
		w, ok := want.fixed[k]
		switch {
		case !ok:
			out = append(out, "only Palisade: "+k)
		case w != fixed:
			out = append(out, fmt.Sprintf("fixed %s: %q, govulncheck %q", k, fixed, w))
		}
	}
	for k := range want.fixed {
		if _, ok := got.fixed[k]; !ok {
			out = append(out, "only govulncheck: "+k)
		}
	}
	for id, syms := range got.symbols {
		w, ok := want.symbols[id]
		switch {
		case !ok:
			out = append(out, "reachable only for Palisade: "+id)
		case !slices.Equal(syms, w):
			out = append(out, fmt.Sprintf("symbols %s: only Palisade %v, only govulncheck %v", id, without(syms, w), without(w, syms)))
		}
	}
	for id := range want.symbols {
		if _, ok := got.symbols[id]; !ok {
			out = append(out, "reachable only for govulncheck: "+id)
		}
	}
	sort.Strings(out)
	return out
}
