package catalog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The oracle files under testdata/oracle are package lists written by the
// real dpkg-query and rpm (see testdata/README.md); these tests require
// the catalogers to reproduce them exactly.

const oracleDir = "testdata/oracle"

// txtarFile returns the section name of a txtar archive.
func txtarFile(t *testing.T, archive, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	in := false
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(strings.TrimRight(line, "\n"), " --") {
			in = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimRight(line, "\n"), "-- "), " --")) == name
			continue
		}
		if in {
			out = append(out, line...)
		}
	}
	if out == nil {
		t.Fatalf("%s: no section %s", archive, name)
	}
	return out
}

type dpkgQueryRow struct {
	Package      string `json:"package"`
	Version      string `json:"version"`
	Arch         string `json:"arch"`
	StatusAbbrev string `json:"status_abbrev"`
	Source       string `json:"source"`
}

func (r dpkgQueryRow) String() string {
	return fmt.Sprintf("%s %s %s %s src=%q", r.Package, r.Version, r.Arch, strings.TrimSpace(r.StatusAbbrev), r.Source)
}

// The inputs testdata/oracle/README.txt names as reliable oracles.
var reliableDpkg = map[string]int{
	"trivy/testdata/valid.txtar#var/lib/dpkg/status":              91,
	"trivy/testdata/third-party.txtar#var/lib/dpkg/status":        2,
	"trivy/testdata/digest.txtar#var/lib/dpkg/status":             2,
	"trivy/testdata/only-apt.txtar#var/lib/dpkg/status":           1,
	"trivy/testdata/md5sums.txtar#var/lib/dpkg/status":            1,
	"trivy/testdata/corrupsed.txtar#var/lib/dpkg/status":          4,
	"syft/testdata/var/lib/dpkg/status.d/single":                  1,
	"syft/testdata/var/lib/dpkg/status.d/deinstall":               2,
	"syft/testdata/var/lib/dpkg/status.d/installed-size-4KB":      1,
	"syft/testdata/var/lib/dpkg/status.d/coreutils-relationships": 9,
	"syft/testdata/var/lib/dpkg/status.d/libpam-runtime":          1,
}

func readDpkgInput(t *testing.T, input string) []byte {
	t.Helper()
	file, section, ok := strings.Cut(input, "#")
	p := filepath.Join(oracleDir, "dpkg", file)
	if ok {
		return txtarFile(t, p, section)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compareDpkg checks that entries are exactly what dpkg-query -W lists,
// and that the cataloger reports exactly the rows whose state keeps the
// package's files.
func compareDpkg(t *testing.T, input string, data []byte, want []dpkgQueryRow) {
	t.Helper()
	entries, skipped, err := parseDpkgStatus(strings.NewReader(string(data)), false)
	if err != nil {
		t.Fatalf("%s: %v", input, err)
	}
	var got []string
	for _, e := range entries {
		if e.listed() {
			got = append(got, dpkgQueryRow{e.Package, e.Version, e.Architecture, e.Want[:1] + e.State[:1], e.Source}.String())
		}
	}
	var exp, expInstalled []string
	for _, r := range want {
		abbrev := strings.TrimSpace(r.StatusAbbrev)
		r.StatusAbbrev = abbrev[:2]
		exp = append(exp, r.String())
		if abbrev[1] != 'n' && abbrev[1] != 'c' {
			expInstalled = append(expInstalled, r.Package+" "+r.Version)
		}
	}
	// dpkg's status abbreviation uses one letter per word; map ours.
	for i, g := range got {
		got[i] = strings.NewReplacer(" ic ", " rc ", " dc ", " rc ", " pc ", " pc ").Replace(g)
	}
	sort.Strings(got)
	sort.Strings(exp)
	if strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Errorf("%s: parsed entries differ from dpkg-query -W\ngot:\n%s\nwant:\n%s", input, strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
	// Stanzas of installed packages that dpkg-query drops (with a
	// warning) are said by the cataloger, one error each.
	pkgs, err := parseDpkg(t.Context(), Env{}, nil, "var/lib/dpkg/status", strings.NewReader(string(data)))
	var partial *PartialError
	if errors.As(err, &partial) && len(partial.Errs) == len(skipped) {
		err = nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var gotInstalled []string
	for _, p := range pkgs {
		gotInstalled = append(gotInstalled, p.Name+" "+p.Version)
	}
	sort.Strings(gotInstalled)
	sort.Strings(expInstalled)
	if strings.Join(gotInstalled, "\n") != strings.Join(expInstalled, "\n") {
		t.Errorf("%s: installed packages differ\ngot:\n%s\nwant:\n%s", input, strings.Join(gotInstalled, "\n"), strings.Join(expInstalled, "\n"))
	}
}

func TestDpkgOracle(t *testing.T) {
	f, err := os.Open(filepath.Join(oracleDir, "dpkg/expected-dpkg-query.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	seen := map[string]bool{}
	for sc.Scan() {
		var rec struct {
			Input    string         `json:"input"`
			RC       int            `json:"dpkg_query_rc"`
			N        int            `json:"n"`
			Packages []dpkgQueryRow `json:"packages"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		t.Run(rec.Input, func(t *testing.T) {
			data := readDpkgInput(t, rec.Input)
			n, reliable := reliableDpkg[rec.Input]
			if !reliable {
				// dpkg-query rejects these (malformed on purpose, or
				// distroless entries without Status); the parser must
				// still return cleanly, with or without an error.
				_, _, _ = parseDpkgStatus(strings.NewReader(string(data)), strings.Contains(rec.Input, "status.d"))
				return
			}
			seen[rec.Input] = true
			if rec.N != n || len(rec.Packages) != n {
				t.Fatalf("oracle lists %d packages, README says %d", rec.N, n)
			}
			compareDpkg(t, rec.Input, data, rec.Packages)
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for in := range reliableDpkg {
		if !seen[in] {
			t.Errorf("reliable oracle %s not in expected-dpkg-query.jsonl", in)
		}
	}
}

// TestDpkgOracleLocalDebian12 compares a whole Debian 12 system's status
// file (745 packages) with dpkg-query -W taken at the same time.
func TestDpkgOracleLocalDebian12(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(oracleDir, "dpkg/local-debian12/status"))
	if err != nil {
		t.Fatal(err)
	}
	tsv, err := os.ReadFile(filepath.Join(oracleDir, "dpkg/local-debian12/dpkg-query-W.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var want []dpkgQueryRow
	for _, line := range strings.Split(strings.TrimRight(string(tsv), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("bad oracle line %q", line)
		}
		want = append(want, dpkgQueryRow{f[0], f[1], f[2], f[3], f[4]})
	}
	if len(want) != 745 {
		t.Fatalf("oracle has %d rows, want 745", len(want))
	}
	compareDpkg(t, "local-debian12", data, want)
}

// TestDpkgDistroless: status.d entries without Status are installed.
func TestDpkgDistroless(t *testing.T) {
	fsys := os.DirFS(filepath.Join(oracleDir, "dpkg/syft/testdata/image-distroless-deb"))
	res, err := (&Set{Catalogers: []Cataloger{Dpkg()}}).Run(t.Context(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != 1 || res.Packages[0].Name != "libsqlite3-0" || res.Packages[0].SourceName != "sqlite3" {
		t.Fatalf("got %+v, want libsqlite3-0 from source sqlite3 (the .md5sums and .preinst files are not stanzas)", res.Packages)
	}
}

func TestApkOracle(t *testing.T) {
	var exp struct {
		Packages []struct {
			Name       string `json:"name"`
			Version    string `json:"version"`
			SrcName    string `json:"src_name"`
			SrcVersion string `json:"src_version"`
			Arch       string `json:"arch"`
		} `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(oracleDir, "apk/expected-trivy.apk.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(oracleDir, "apk/trivy/testdata/apk"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The database holds one stanza without V:, which Trivy drops; it is
	// said here (the package was not catalogued), not dropped in silence.
	pkgs, err := parseApk(t.Context(), Env{}, nil, "lib/apk/db/installed", f)
	var partial *PartialError
	if !errors.As(err, &partial) || len(partial.Errs) != 1 || !strings.Contains(partial.Errs[0].Error(), `package "invalidPackageWithoutAVersion" without name or version`) {
		t.Fatalf("error %v, want the stanza without a version named", err)
	}
	var got, want []string
	for _, p := range pkgs {
		got = append(got, strings.Join([]string{p.Name, p.Version, p.SourceName, p.SourceVersion, p.Arch}, " "))
	}
	for _, p := range exp.Packages {
		want = append(want, strings.Join([]string{p.Name, p.Version, p.SrcName, p.SrcVersion, p.Arch}, " "))
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) != 15 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant (%d):\n%s", strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
}

// TestApkSyftFixtures: every stanza with P: and V: is a package (counted
// with a plain text scan), and the corrupt database still yields its
// well-formed stanzas.
func TestApkSyftFixtures(t *testing.T) {
	tests := []struct {
		file string
		want int
	}{
		{"base", 1}, {"single", 1}, {"empty-deps-and-provides", 1}, {"extra-file-attributes", 1},
		{"multiple-1/lib/apk/db/installed", 4}, {"multiple-2/lib/apk/db/installed", 14},
		{"corrupt/lib/apk/db/installed", 1}, {"glob-paths/lib/apk/db/installed", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(oracleDir, "apk/syft/testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			entries, _, err := parseApkInstalled(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != tt.want {
				t.Errorf("%d packages, want %d: %+v", len(entries), tt.want, entries)
			}
		})
	}
}

// TestRPMOracle compares every rpm database format with rpm -qa (and, for
// NDB, which Debian's rpm cannot read, go-rpmdb's test table).
func TestRPMOracle(t *testing.T) {
	tests := []struct {
		db, expected string
		// columns of the expected file: name, epoch, version, release,
		// arch, sourcerpm, license
		cols [7]int
		want int
	}{
		{"go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite", "expected-rpm-qa.go-rpmdb_cbl-mariner-2.0_rpmdb.sqlite.tsv", [7]int{0, 1, 2, 3, 4, 5, 6}, 129},
		{"go-rpmdb/libuuid/Packages", "expected-rpm-qa.go-rpmdb_libuuid_Packages.tsv", [7]int{0, 1, 2, 3, 4, 5, 6}, 1},
		{"syft/testdata/Packages", "expected-rpm-qa.syft_testdata_Packages.tsv", [7]int{0, 1, 2, 3, 4, 5, 6}, 1},
		{"go-rpmdb/sle15-bci/Packages.db", "expected-go-rpmdb-testcase.sle15-bci.tsv", [7]int{0, 1, 2, 3, 4, 5, 7}, 35},
	}
	for _, tt := range tests {
		t.Run(tt.db, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(oracleDir, "rpm", tt.expected))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, line := range strings.Split(string(b), "\n") {
				if line == "" || line[0] == '#' {
					continue
				}
				f := strings.Split(line, "\t")
				var row []string
				for _, c := range tt.cols {
					row = append(row, f[c])
				}
				want = append(want, strings.Join(row, "|"))
			}
			pkgs, err := rpmdbReadForTest(t, filepath.Join(oracleDir, "rpm", tt.db))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				epoch := "0"
				if p.Epoch != nil {
					epoch = fmt.Sprint(*p.Epoch)
				}
				got = append(got, strings.Join([]string{p.Name, epoch, p.Version, p.Release, p.Arch, p.SourceRPM, p.License}, "|"))
			}
			sort.Strings(got)
			sort.Strings(want)
			if len(want) != tt.want || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got %d:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
			}
		})
	}
}

// TestRPMCataloger runs the cataloger on an image-like tree holding the
// SQLite database and a zero-length Packages placeholder.
func TestRPMCataloger(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "var/lib/rpm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(oracleDir, "rpm/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rpmdb.sqlite"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Packages"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=mariner\nVERSION_ID=\"2.0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Default().Run(t.Context(), os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != 129 {
		t.Fatalf("%d packages, want 129", len(res.Packages))
	}
	for _, p := range res.Packages {
		if p.Name == "bash" {
			want := "pkg:rpm/mariner/bash@5.1.8-1.cm2?arch=x86_64&distro=mariner-2.0&upstream=bash-5.1.8-1.cm2.src.rpm"
			if p.PURL != want || p.Version != "5.1.8-1.cm2" || p.SourceName != "bash" || p.SourceVersion != "5.1.8-1.cm2" || p.Ecosystem != "Mariner:2.0" {
				t.Errorf("bash: %+v, want PURL %s", p, want)
			}
		}
	}
}
