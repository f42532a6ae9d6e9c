package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// depsDB writes OSV records for lodash (npm) and requests (PyPI) and
// imports them into a new cache directory.
func depsDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rec := func(id, eco, name, fixed string) {
		r := vulndb.Record{ID: id, Modified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Summary: id,
			Severity: []vulndb.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			Affected: []vulndb.Affected{{Package: vulndb.Package{Ecosystem: eco, Name: name},
				Ranges: []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{{Introduced: "0"}, {Fixed: fixed}}}}}}}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec("GHSA-lodash", "npm", "lodash", "4.17.21")
	rec("PYSEC-requests", "PyPI", "requests", "2.20.0")
	cache := t.TempDir()
	if _, err := (vulndb.Cache{Dir: cache}).ImportOSV(context.Background(), dir, "records", time.Now()); err != nil {
		t.Fatal(err)
	}
	return cache
}

// TestScanRepoDependencies: scan repo matches the lock files of the
// repository beside its manifests; findings name the lock file and line;
// a missing database, a lock file that does not parse, and a repository
// with nothing to scan exit 2.
func TestScanRepoDependencies(t *testing.T) {
	repo := writeRepo(t)
	write := func(name, body string) {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("web/package-lock.json", "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {},\n    \"node_modules/lodash\": {\n      \"version\": \"4.17.20\",\n      \"dev\": true\n    }\n  }\n}\n")
	write("api/requirements.txt", "flask==2.3.3\nrequests==2.19.0\n")
	write("web/node_modules/x/package-lock.json", "{\"lockfileVersion\":3,\"packages\":{\"node_modules/lodash\":{\"version\":\"1.0.0\"}}}")
	cache := depsDB(t)

	out, stderr, code := palisade(t, "", "scan", "repo", repo, "-o", "json", "--cache-dir", cache, "--fail-on", "critical")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (critical dependency findings): %s", code, stderr)
	}
	var r finding.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	deps := map[string]finding.Finding{}
	config := 0
	for _, f := range r.Findings {
		if f.Vulnerability != nil {
			deps[f.RuleID] = f
		} else {
			config++
		}
	}
	lodash, requests := deps["GHSA-lodash"], deps["PYSEC-requests"]
	if len(deps) != 2 || config == 0 ||
		lodash.File != filepath.Join(repo, "web/package-lock.json") || lodash.Line != 5 || !lodash.Vulnerability.Package.Dev ||
		requests.File != filepath.Join(repo, "api/requirements.txt") || requests.Line != 2 || requests.Vulnerability.Package.Dev {
		t.Errorf("dependency findings %+v, %d config findings", deps, config)
	}
	for _, p := range r.Problems {
		if p.Level != finding.LevelNote {
			t.Errorf("problem %+v", p)
		}
	}

	// Table output names the lock file too.
	out, _, _ = palisade(t, "", "scan", "repo", repo, "--cache-dir", cache, "--scanners", "vuln", "--ci", "off")
	if !strings.Contains(out, "package-lock.json") || !strings.Contains(out, "GHSA-lodash") || strings.Contains(out, "privileged") {
		t.Errorf("--scanners vuln table:\n%s", out)
	}

	// No database: the dependencies are not checked, never clean.
	empty := t.TempDir()
	_, stderr, code = palisade(t, "", "scan", "repo", repo, "-o", "json", "--cache-dir", empty, "--scanners", "vuln")
	if code != 2 || !strings.Contains(stderr, "input error") {
		t.Errorf("no database: exit %d: %s", code, stderr)
	}
	if _, _, code = palisade(t, "", "scan", "repo", repo, "-o", "json", "--cache-dir", empty, "--scanners", "vuln", "--allow-missing-data"); code != 0 {
		t.Errorf("no database, --allow-missing-data: exit %d", code)
	}

	// An advisory without severity fails every --fail-on level but none,
	// unless --ignore-unknown-severity.
	unrated := t.TempDir()
	b, _ := json.Marshal(vulndb.Record{ID: "PYSEC-flask", Modified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Affected: []vulndb.Affected{{Package: vulndb.Package{Ecosystem: "PyPI", Name: "flask"},
			Ranges: []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{{Introduced: "0"}, {Fixed: "3.0.0"}}}}}}})
	if err := os.WriteFile(filepath.Join(unrated, "PYSEC-flask.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	unratedDB := t.TempDir()
	if _, err := (vulndb.Cache{Dir: unratedDB}).ImportOSV(context.Background(), unrated, "records", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags []string
		want  int
	}{
		{[]string{"--fail-on", "critical"}, 1},
		{[]string{"--fail-on", "critical", "--ignore-unknown-severity"}, 0},
	} {
		args := append([]string{"scan", "repo", repo, "-o", "json", "--cache-dir", unratedDB, "--scanners", "vuln", "--allow-missing-data"}, tc.flags...)
		if _, stderr, code := palisade(t, "", args...); code != tc.want {
			t.Errorf("%v: exit %d, want %d: %s", tc.flags, code, tc.want, stderr)
		}
	}

	// A lock file that does not parse is an error naming it.
	write("py/poetry.lock", "[[package]\n")
	out, _, code = palisade(t, "", "scan", "repo", repo, "-o", "json", "--cache-dir", cache, "--scanners", "vuln", "--fail-on", "none")
	if code != 2 || !strings.Contains(out, filepath.Join(repo, "py/poetry.lock")) {
		t.Errorf("broken lock file: exit %d\n%s", code, out)
	}

	// Only manifests and --scanners vuln: nothing to scan.
	bare := writeRepo(t)
	if out, _, code = palisade(t, "", "scan", "repo", bare, "-o", "json", "--scanners", "vuln"); code != 2 || !strings.Contains(out, "nothing to scan") {
		t.Errorf("no lock file: exit %d\n%s", code, out)
	}
	if _, stderr, code = palisade(t, "", "scan", "repo", bare, "--scanners", "sbom"); code != 2 || !strings.Contains(stderr, "unknown scanner") {
		t.Errorf("bad --scanners: exit %d: %s", code, stderr)
	}
}

// TestScanRepoVEX: --vex applies OpenVEX documents to the dependencies of
// lock files as scan image does: a not_affected statement naming the
// package by PURL suppresses its finding (kept in the report with the
// statement's justification, not failing --fail-on); a statement about
// another package or version suppresses nothing; a VEX file that cannot
// be read exits 2 naming the file.
func TestScanRepoVEX(t *testing.T) {
	repo := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("web/package-lock.json", "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {},\n    \"node_modules/lodash\": {\n      \"version\": \"4.17.20\"\n    }\n  }\n}\n")
	write("api/requirements.txt", "requests==2.19.0\n")
	cache := depsDB(t)
	vexDir := t.TempDir()
	vex := func(name, statements string) string {
		p := filepath.Join(vexDir, name)
		doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/` + name + `", "author": "test",
 "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": [` + statements + `]}`
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lodash := vex("lodash.json", `{"vulnerability": {"name": "GHSA-lodash"}, "products": [{"@id": "pkg:npm/lodash@4.17.20"}],
   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}`)
	otherVersion := vex("other.json", `{"vulnerability": {"name": "PYSEC-requests"}, "products": [{"@id": "pkg:pypi/requests@2.31.0"}],
   "status": "not_affected", "justification": "component_not_present"}`)

	for _, tc := range []struct {
		name       string
		vex        []string
		suppressed map[string]bool // rule ID -> suppressed
		code       int             // with --fail-on critical
	}{
		{"no VEX", nil, map[string]bool{"GHSA-lodash": false, "PYSEC-requests": false}, 1},
		{"lodash not affected", []string{lodash}, map[string]bool{"GHSA-lodash": true, "PYSEC-requests": false}, 1},
		{"another version named", []string{otherVersion}, map[string]bool{"GHSA-lodash": false, "PYSEC-requests": false}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"scan", "repo", repo, "-o", "json", "--cache-dir", cache, "--scanners", "vuln", "--fail-on", "critical"}
			for _, v := range tc.vex {
				args = append(args, "--vex", v)
			}
			out, stderr, code := palisade(t, "", args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			var r finding.Report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			suppressed := 0
			for _, f := range r.Findings {
				got[f.RuleID] = f.Suppressed
				if f.Suppressed {
					suppressed++
					if f.Suppression == nil || f.Suppression.Kind != "vex" ||
						!strings.Contains(f.Suppression.Reason, "not_affected: vulnerable_code_not_in_execute_path") ||
						!strings.Contains(f.Suppression.Reason, lodash) {
						t.Errorf("%s: suppression %+v", f.RuleID, f.Suppression)
					}
				}
			}
			if len(got) != len(tc.suppressed) || r.Summary.Suppressed != suppressed {
				t.Errorf("findings %v (summary %+v), want %v", got, r.Summary, tc.suppressed)
			}
			for id, want := range tc.suppressed {
				if s, ok := got[id]; !ok || s != want {
					t.Errorf("%s: suppressed %v (present %v), want %v", id, s, ok, want)
				}
			}
		})
	}

	// Only the suppressed finding is at critical: --fail-on passes.
	if err := os.Remove(filepath.Join(repo, "api/requirements.txt")); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := palisade(t, "", "scan", "repo", repo, "--cache-dir", cache, "--scanners", "vuln", "--fail-on", "critical", "--vex", lodash); code != 0 {
		t.Errorf("only a suppressed finding: exit %d: %s", code, stderr)
	}

	// A VEX file that cannot be read is an error naming it.
	malformed := filepath.Join(vexDir, "broken.json")
	if err := os.WriteFile(malformed, []byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	notVEX := filepath.Join(vexDir, "not-vex.json")
	if err := os.WriteFile(notVEX, []byte(`{"@context": "https://example.com/other", "statements": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{malformed, notVEX, filepath.Join(vexDir, "missing.json")} {
		if _, stderr, code := palisade(t, "", "scan", "repo", repo, "-o", "json", "--cache-dir", cache, "--scanners", "vuln", "--vex", bad); code != 2 || !strings.Contains(stderr, bad) {
			t.Errorf("--vex %s: exit %d: %s", filepath.Base(bad), code, stderr)
		}
	}
}
