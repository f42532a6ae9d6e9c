package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// TestScanImageEnrichment imports OSV records, NVD's feed, CISA KEV and
// the Debian Security Tracker's JSON with `db import`, scans a Debian 12
// root file system, and checks that findings name their severity source,
// carry KEV, have a fix state, and that --ignore-status filters by it.
func TestScanImageEnrichment(t *testing.T) {
	rootfs := t.TempDir()
	writeTree(t, rootfs, map[string]string{
		"etc/os-release": OSRelease,
		"var/lib/dpkg/status": DpkgStatus(
			DpkgStanza("libssl3", "3.0.11-1~deb12u2", "openssl"),
			DpkgStanza("libc6", "2.36-9+deb12u9", "glibc"),
			DpkgStanza("liblog4j2-java", "2.17.1-1", "apache-log4j2"),
		),
	})
	cache := t.TempDir()
	recs := WriteRecords(t, map[string][]byte{
		"DEBIAN-CVE-2024-0727":  DebianRecord("DEBIAN-CVE-2024-0727", "CVE-2024-0727", "openssl", "3.0.13-1~deb12u1", ""),
		"DEBIAN-CVE-2010-4756":  DebianRecord("DEBIAN-CVE-2010-4756", "CVE-2010-4756", "glibc", "", ""),
		"DEBIAN-CVE-2021-44228": DebianRecord("DEBIAN-CVE-2021-44228", "CVE-2021-44228", "apache-log4j2", "2.17.1-2", ""),
	})
	enrich := "../../internal/vulndb/testdata/enrich/"
	for _, args := range [][]string{
		{recs, "--name", "debian"},
		{enrich + "nvdcve-2.0-2024.json", "--name", "nvd-2024"},
		{enrich + "known_exploited_vulnerabilities.json", "--format", "kev"},
		{enrich + "debian-tracker.json", "--name", "debian-tracker"},
	} {
		if out, stderr, code := palisade(t, "", append([]string{"db", "import", "--cache-dir", cache}, args...)...); code != 0 {
			t.Fatalf("db import %v: exit %d: %s %s", args, code, out, stderr)
		}
	}
	if out, _, code := palisade(t, "", "db", "status", "--cache-dir", cache); code != 0 || !regexp.MustCompile(`nvd-2024 +file +nvd +0 +4 `).MatchString(out) {
		t.Errorf("db status: exit %d\n%s", code, out)
	}
	if _, stderr, code := palisade(t, "", "db", "import", "--cache-dir", cache, recs, "--format", "xml"); code != exitError || !strings.Contains(stderr, "unknown format") {
		t.Errorf("db import --format xml: exit %d: %s", code, stderr)
	}

	rep, stderr, code := scanJSON(t, "", "rootfs:"+rootfs, "--cache-dir", cache, "--scanners", "vuln")
	if rep == nil || code != exitFindings {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	type got struct {
		severity      finding.Severity
		source, state string
		kev           bool
	}
	want := map[string]got{
		"DEBIAN-CVE-2024-0727":  {finding.SeverityMedium, "NVD", finding.FixStateFixed, false},
		"DEBIAN-CVE-2010-4756":  {finding.SeverityMedium, "NVD", finding.FixStateWillNotFix, false},
		"DEBIAN-CVE-2021-44228": {finding.SeverityCritical, "NVD", finding.FixStateFixed, true},
	}
	if len(rep.Findings) != len(want) {
		t.Fatalf("findings: %+v", rep.Findings)
	}
	for _, f := range rep.Findings {
		v := f.Vulnerability
		if g := (got{f.Severity, v.SeveritySource, v.FixState, v.KEV != nil}); g != want[f.RuleID] {
			t.Errorf("%s: %+v, want %+v", f.RuleID, g, want[f.RuleID])
		}
	}

	rep, _, _ = scanJSON(t, "", "rootfs:"+rootfs, "--cache-dir", cache, "--scanners", "vuln", "--ignore-status", "will_not_fix,end_of_life")
	if rep == nil || len(rep.Findings) != 2 || byRule(rep)["DEBIAN-CVE-2010-4756"] != nil {
		t.Errorf("--ignore-status will_not_fix: %+v", rep)
	}
	if _, stderr, code := palisade(t, "", "scan", "image", "rootfs:"+rootfs, "--cache-dir", cache, "--ignore-status", "wontfix"); code != exitError || !strings.Contains(stderr, "unknown fix state") {
		t.Errorf("--ignore-status wontfix: exit %d: %s", code, stderr)
	}
}

// TestScanImageEndOfLife: an image of a release past its end of life
// (Debian 10, whose LTS ended on 2024-06-30) is a High finding.
func TestScanImageEndOfLife(t *testing.T) {
	rootfs := t.TempDir()
	writeTree(t, rootfs, map[string]string{
		"etc/os-release":      strings.ReplaceAll(OSRelease, "12", "10"),
		"var/lib/dpkg/status": DpkgStatus(DpkgStanza("zlib1g", "1:1.2.11.dfsg-1+deb10u2", "zlib")),
	})
	cache := t.TempDir()
	// The database must hold advisories of Debian 10, or its packages are
	// not checked (exit 2) rather than clean.
	rec := strings.ReplaceAll(string(DebianRecord("DEBIAN-CVE-2099-0001", "CVE-2099-0001", "other", "", "")), "Debian:12", "Debian:10")
	recs := WriteRecords(t, map[string][]byte{"DEBIAN-CVE-2099-0001": []byte(rec)})
	if _, stderr, code := palisade(t, "", "db", "import", "--cache-dir", cache, recs, "--name", "debian"); code != 0 {
		t.Fatalf("db import: %s", stderr)
	}
	rep, stderr, code := scanJSON(t, "", "rootfs:"+rootfs, "--cache-dir", cache, "--scanners", "vuln")
	if rep == nil {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	eol := byRule(rep)["os-end-of-life"]
	if len(eol) != 1 || eol[0].Severity != finding.SeverityHigh || !strings.Contains(eol[0].Message, "2024-06-30") || code != exitFindings {
		t.Errorf("exit %d, end-of-life findings %+v", code, eol)
	}
}

// TestScanImageApkDistributions scans root file systems assembled from a
// real Alpine installed database (Trivy's apk test data) under Wolfi's
// and Chainguard's os-release: packages are matched by origin against
// records of their own ecosystem only, never Alpine's.
func TestScanImageApkDistributions(t *testing.T) {
	installed, err := os.ReadFile("../../internal/sbom/catalog/testdata/oracle/apk/trivy/testdata/apk")
	if err != nil {
		t.Fatal(err)
	}
	osvRecord := func(id, eco, name, fixed string) []byte {
		return []byte(`{"id":"` + id + `","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"` + eco + `","name":"` + name +
			`"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"` + fixed + `"}]}]}]}`)
	}
	cache := t.TempDir()
	recs := WriteRecords(t, map[string][]byte{
		"CGA-wolfi-openssl":      osvRecord("CGA-wolfi-openssl", "Wolfi", "openssl", "1.0.2h-r3"),
		"CGA-chainguard-openssl": osvRecord("CGA-chainguard-openssl", "Chainguard", "openssl", "1.0.2h-r4"),
		"ALPINE-CVE-2099-1":      osvRecord("ALPINE-CVE-2099-1", "Alpine:v3.4", "musl", "1.1.14-r99"),
	})
	if _, stderr, code := palisade(t, "", "db", "import", "--cache-dir", cache, recs, "--name", "apk-distros"); code != 0 {
		t.Fatalf("db import: %s", stderr)
	}
	for _, tt := range []struct{ id, want string }{{"wolfi", "CGA-wolfi-openssl"}, {"chainguard", "CGA-chainguard-openssl"}} {
		rootfs := t.TempDir()
		writeTree(t, rootfs, map[string]string{
			"etc/os-release":       "ID=" + tt.id + "\nNAME=\"" + tt.id + "\"\nVERSION_ID=\"20230201\"\n",
			"lib/apk/db/installed": string(installed),
		})
		// Trivy's database keeps a stanza without V: on purpose: not
		// catalogued, an error that --allow-missing-data makes a warning.
		rep, stderr, code := scanJSON(t, "", "rootfs:"+rootfs, "--cache-dir", cache, "--scanners", "vuln", "--allow-missing-data")
		if rep == nil {
			t.Fatalf("%s: exit %d: %s", tt.id, code, stderr)
		}
		got := byRule(rep)
		if len(got) != 1 || len(got[tt.want]) == 0 || got[tt.want][0].Vulnerability.Package.SourceName != "openssl" {
			t.Errorf("%s: findings %v, want %s on the openssl origin's packages", tt.id, got, tt.want)
		}
	}
}

// writeTree writes files (path -> content) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
