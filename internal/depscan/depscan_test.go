package depscan

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// writeTree writes files (slash paths) under a new directory.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, body := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestFindEveryLockFormat lays the catalogers' lock file fixtures (one per
// format) out as one repository, with copies under node_modules, vendor
// and a hidden directory that must be skipped: every format is found, and
// every dependency has a line that names it.
func TestFindEveryLockFormat(t *testing.T) {
	const fixtures = "../sbom/catalog/testdata/fixtures"
	formats := []string{"npm-lock", "pnpm-lock", "yarn-lock", "poetry-lock", "uv-lock", "pipfile-lock", "requirements",
		"gemfile-lock", "composer-lock", "nuget-lock", "cargo-lock", "mix-lock", "conan-lock", "pub", "swift"}
	files := map[string]string{}
	for _, f := range formats {
		err := filepath.WalkDir(filepath.Join(fixtures, f), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(fixtures, p)
			files[filepath.ToSlash(rel)] = string(b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	lock := files["npm-lock/src/web/package-lock.json"]
	files["web/node_modules/dep/package-lock.json"] = lock
	files["php/vendor/x/y/package-lock.json"] = lock
	files[".git/package-lock.json"] = lock
	root := writeTree(t, files)

	got, problems, err := Find(context.Background(), root, catalog.LockFiles())
	if err != nil || len(problems) != 0 {
		t.Fatalf("Find: %v, problems %v", err, problems)
	}
	byCataloger := map[string]int{}
	for _, lf := range got {
		if strings.Contains(lf.Path, "node_modules/") || strings.Contains(lf.Path, "vendor/") || strings.HasPrefix(lf.Path, ".") {
			t.Errorf("%s read; it must be skipped", lf.Path)
		}
		byCataloger[lf.Cataloger] += len(lf.Dependencies)
		lines := strings.Split(strings.ToLower(files[lf.Path]), "\n")
		for _, d := range lf.Dependencies {
			if d.File != lf.Path || d.Line < 1 || d.Line > len(lines) || lineOf(lines[d.Line-1:d.Line], d.Name, "") != 1 {
				t.Errorf("%s: %s %s at line %d", lf.Path, d.Name, d.Version, d.Line)
			}
		}
	}
	for _, c := range catalog.LockFiles() {
		if byCataloger[c.Name()] == 0 {
			t.Errorf("cataloger %s found nothing in its fixture", c.Name())
		}
	}
}

func TestLineOf(t *testing.T) {
	yarn := "# yarn lockfile v1\n\nlodash.merge@^4.6.2:\n  version \"4.6.2\"\n\nlodash@^4.17.15:\n  version \"4.17.15\"\n\nlodash@^4.17.21:\n  version \"4.17.21\"\n"
	npm := "{\n  \"packages\": {\n    \"node_modules/a/node_modules/lodash\": {\n      \"version\": \"3.10.1\"\n    },\n    \"node_modules/lodash\": {\n      \"version\": \"4.17.21\"\n    }\n  }\n}\n"
	for _, tc := range []struct {
		text, name, version string
		want                int
	}{
		{yarn, "lodash", "4.17.15", 6},
		{yarn, "lodash", "4.17.21", 9},
		{yarn, "lodash.merge", "4.6.2", 3},
		{npm, "lodash", "4.17.21", 6},
		{npm, "lodash", "3.10.1", 3},
		{npm, "lodash", "9.9.9", 3}, // the version is nowhere: the first line naming it
		{npm, "lodash.merge", "4.6.2", 0},
		{"Django==4.2.1\nrequests==2.19.0 --hash=sha256:x\n", "Requests", "2.19.0", 2},
	} {
		if got := lineOf(strings.Split(strings.ToLower(tc.text), "\n"), tc.name, tc.version); got != tc.want {
			t.Errorf("%s %s: line %d, want %d", tc.name, tc.version, got, tc.want)
		}
	}
}

func osvRecord(id, eco, name, fixed string) vulndb.Record {
	return vulndb.Record{ID: id, Modified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Summary: id + " in " + name,
		Severity: []vulndb.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		Affected: []vulndb.Affected{{Package: vulndb.Package{Ecosystem: eco, Name: name},
			Ranges: []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{{Introduced: "0"}, {Fixed: fixed}}}}}}}
}

func openDB(t *testing.T, recs ...vulndb.Record) *vulndb.DB {
	t.Helper()
	dir := t.TempDir()
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, r.ID+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := vulndb.Cache{Dir: t.TempDir()}
	if _, err := c.ImportOSV(context.Background(), dir, "records", time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := c.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestScan matches a repository written here: findings name the lock file
// and the package's line and say when it is a development dependency;
// skipped directories give nothing; a lock file that does not parse and
// an ecosystem without advisories are errors naming the file; without a
// database nothing is called clean.
func TestScan(t *testing.T) {
	root := writeTree(t, map[string]string{
		"web/package-lock.json": `{
  "name": "web",
  "lockfileVersion": 3,
  "packages": {
    "": {"name": "web"},
    "node_modules/lodash": {
      "version": "4.17.20"
    },
    "node_modules/minimist": {
      "version": "1.2.5",
      "dev": true
    }
  }
}
`,
		"web/node_modules/old/package-lock.json": `{"lockfileVersion":3,"packages":{"node_modules/lodash":{"version":"4.17.4"}}}`,
		"api/requirements.txt":                   "# pinned\nflask==2.3.3\nrequests==2.19.0\n",
		"tools/Cargo.lock":                       "version = 3\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
		"ruby/Gemfile.lock":                      "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.3)\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  rack\n",
		"broken/poetry.lock":                     "[[package]\nname = ",
	})
	db := openDB(t,
		osvRecord("GHSA-lodash", "npm", "lodash", "4.17.21"),
		osvRecord("GHSA-minimist", "npm", "minimist", "1.2.6"),
		osvRecord("PYSEC-requests", "PyPI", "requests", "2.20.0"),
		osvRecord("RUSTSEC-smallvec", "crates.io", "smallvec", "1.6.1"),
	)
	res, err := Scan(context.Background(), root, db, vulnmatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, fmt.Sprintf("%s %s:%d dev=%v", f.RuleID, f.File, f.Line, f.Vulnerability.Package.Dev))
		if f.Vulnerability.Package.Dev != strings.Contains(f.Message, "development dependency") {
			t.Errorf("%s: message %q", f.RuleID, f.Message)
		}
	}
	slices.Sort(got)
	want := []string{
		"GHSA-lodash web/package-lock.json:6 dev=false",
		"GHSA-minimist web/package-lock.json:9 dev=true",
		"PYSEC-requests api/requirements.txt:3 dev=false",
		"RUSTSEC-smallvec tools/Cargo.lock:4 dev=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var probs []string
	for _, p := range res.Problems {
		probs = append(probs, p.Level+" "+p.File)
	}
	// RubyGems has no advisory in this database: rack is unchecked.
	if wantP := []string{"error broken/poetry.lock", "error ruby/Gemfile.lock"}; !slices.Equal(probs, wantP) {
		t.Errorf("problems %v (%+v), want %v", probs, res.Problems, wantP)
	}
	if len(res.Files) != 4 || res.Packages() != 6 {
		t.Errorf("%d files, %d packages", len(res.Files), res.Packages())
	}

	res, err = Scan(context.Background(), root, nil, vulnmatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || len(res.Problems) != 2 || res.Problems[0].Level != finding.LevelError || !strings.Contains(res.Problems[0].Message, "6 dependencies of 4 lock files not checked") {
		t.Errorf("without a database: %+v", res.Problems)
	}
}

// FuzzLineOf: hostile lock file text and names never panic the line
// finder, and a line found names the package.
func FuzzLineOf(f *testing.F) {
	f.Add("lodash@^4.17.21:\n  version \"4.17.21\"\n", "lodash", "4.17.21")
	f.Add("\"pin\": {\"location\": \"git@github.com:vapor/vapor.git\"}\n", "github.com/vapor/vapor", "4.92.1")
	f.Add("a.git\n.git\n", "x/.git", "")
	f.Fuzz(func(t *testing.T, text, name, version string) {
		lines := strings.Split(strings.ToLower(text), "\n")
		n := lineOf(lines, name, version)
		if n < 0 || n > len(lines) {
			t.Fatalf("line %d of %d", n, len(lines))
		}
		if n > 0 && lineOf(lines[n-1:n], name, "") != 1 {
			t.Fatalf("line %d (%q) does not name %q", n, lines[n-1], name)
		}
	})
}

// TestUnpinnedRequirements: a requirements file's requirements that pin
// no version are not checked, and the scan says so, naming the file and
// the line: an error (exit 2), a warning with AllowMissingData. Before,
// a requirements.txt of ranges only was "No findings" with exit 0 and no
// database even opened.
func TestUnpinnedRequirements(t *testing.T) {
	tests := []struct {
		name, body   string
		allowMissing bool
		noDB         bool
		wantLevel    string // "" for no problem
		wantLine     int
		want         []string // in the message
	}{
		{name: "ranges only", body: "flask>=2.0\nDjango\nrequests~=2.31\n",
			wantLevel: finding.LevelError, wantLine: 1, want: []string{"3 requirement(s)", `"flask>=2.0" (line 1)`, `"Django" (line 2)`, `"requests~=2.31" (line 3)`}},
		{name: "ranges only, no database", body: "flask>=2.0\n", noDB: true,
			wantLevel: finding.LevelError, wantLine: 1, want: []string{`"flask>=2.0" (line 1)`}},
		{name: "allowed missing data", body: "flask>=2.0\n", allowMissing: true,
			wantLevel: finding.LevelWarning, wantLine: 1, want: []string{`"flask>=2.0" (line 1)`}},
		{name: "pins with one range", body: "# locked\n-r requirements-base.txt\n--index-url https://pypi.org/simple\nflask==2.3.3 \\\n    --hash=sha256:00\nurllib3 >= 1.26 ; python_version > \"3\"  # any\n",
			wantLevel: finding.LevelError, wantLine: 6, want: []string{"1 requirement(s)", `"urllib3 >= 1.26 ; python_version > \"3\"" (line 6)`}},
		{name: "wildcard is not a pin", body: "requests==2.*\n", wantLevel: finding.LevelError, wantLine: 1, want: []string{`"requests==2.*"`}},
		{name: "direct reference", body: "pkg @ https://example.com/pkg-1.0.tar.gz\n", wantLevel: finding.LevelError, wantLine: 1, want: []string{`"pkg @ https://example.com/pkg-1.0.tar.gz"`}},
		{name: "continued range starts on its first line", body: "a==1\nflask \\\n  >=2\n", wantLevel: finding.LevelError, wantLine: 2, want: []string{`(line 2)`}},
		{name: "many, bounded", body: strings.Repeat("x>=1\n", 40), wantLevel: finding.LevelError, wantLine: 1, want: []string{"40 requirement(s)", "and 35 more"}},
		{name: "pins only", body: "# pinned\nflask==2.3.3\nzope.interface===6.1\n-e .\n./local/pkg\n"},
		// Includes and editable sources bring in packages the scan does not
		// read unless the included file is a requirements*.txt it reads on
		// its own (audit14: each was a clean answer).
		{name: "include of another file", body: "-r base.txt\n", wantLevel: finding.LevelError, wantLine: 1, want: []string{`"-r base.txt" (line 1)`}},
		{name: "include, long form", body: "flask==2.3.3\n--requirement=common.txt\n", wantLevel: finding.LevelError, wantLine: 2, want: []string{`"--requirement=common.txt"`}},
		{name: "include, joined", body: "-rbase.txt\n", wantLevel: finding.LevelError, wantLine: 1, want: []string{`"-rbase.txt"`}},
		{name: "constraints file", body: "-c constraints.txt\n", wantLevel: finding.LevelError, wantLine: 1, want: []string{`"-c constraints.txt"`}},
		{name: "include by URL", body: "-r https://example.com/requirements.txt\n", wantLevel: finding.LevelError, wantLine: 1, want: []string{`"-r https://example.com/requirements.txt"`}},
		{name: "editable VCS source", body: "-e git+https://github.com/org/pkg@main#egg=pkg\n", wantLevel: finding.LevelError, wantLine: 1, want: []string{`"-e git+https://github.com/org/pkg@main#egg=pkg"`}},
		{name: "includes the scan reads", body: "-r requirements-base.txt\n--requirement requirements/dev.txt\n-e ./libs/core\n--index-url https://pypi.org/simple\nflask==2.3.3\n"},
		{name: "empty", body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{"api/requirements.txt": tt.body})
			var src vulnmatch.Source
			if !tt.noDB {
				src = openDB(t, osvRecord("PYSEC-x", "PyPI", "flask", "9.0"))
			}
			res, err := Scan(context.Background(), root, src, vulnmatch.Options{AllowMissingData: tt.allowMissing})
			if err != nil {
				t.Fatal(err)
			}
			var got []finding.Problem
			for _, p := range res.Problems {
				if strings.Contains(p.Message, "not pinned") {
					got = append(got, p)
				}
			}
			if tt.wantLevel == "" {
				if len(got) != 0 {
					t.Fatalf("problems %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("problems %+v, want one about unpinned requirements", res.Problems)
			}
			p := got[0]
			if p.Level != tt.wantLevel || p.File != "api/requirements.txt" || p.Line != tt.wantLine {
				t.Errorf("problem %+v, want level %s at api/requirements.txt:%d", p, tt.wantLevel, tt.wantLine)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.Message, w) {
					t.Errorf("message %q lacks %q", p.Message, w)
				}
			}
		})
	}
}
