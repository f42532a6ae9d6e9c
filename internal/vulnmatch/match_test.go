package vulnmatch

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// openFixtures imports testdata/osv into a fresh database, as
// `palisade db import` would.
func openFixtures(t *testing.T) *vulndb.DB {
	t.Helper()
	ctx := context.Background()
	c := vulndb.Cache{Dir: t.TempDir()}
	if _, err := c.ImportOSV(ctx, "testdata/osv", "fixtures", time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func deb(name, ver, src, srcVer string) sbom.Package {
	return sbom.Package{Name: name, Version: ver, Ecosystem: "Debian:12", Type: "deb", SourceName: src, SourceVersion: srcVer,
		PURL:        "pkg:deb/debian/" + name + "@" + ver + "?arch=amd64&distro=debian-12",
		LayerDigest: "sha256:1111", Locations: []string{"/var/lib/dpkg/status"}}
}

type want struct {
	pkg, id, fixed string
	sev            finding.Severity
	source         string
}

func summarize(fs []finding.Finding) []want {
	var out []want
	for _, f := range fs {
		out = append(out, want{f.Vulnerability.Package.Name, f.RuleID, f.Vulnerability.Fixed, f.Severity, f.Vulnerability.SeveritySource})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].pkg != out[j].pkg {
			return out[i].pkg < out[j].pkg
		}
		return out[i].id < out[j].id
	})
	return out
}

func TestMatchDebianBySourcePackage(t *testing.T) {
	db := openFixtures(t)
	pkgs := []sbom.Package{
		// Binary packages of the openssl and glibc sources; libssl3 is a
		// binNMU (+b1) whose source version is the one advisories name.
		deb("libssl3", "3.0.11-1~deb12u2+b1", "openssl", "3.0.11-1~deb12u2"),
		deb("openssl", "3.0.11-1~deb12u2", "", ""),
		deb("libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4"),
		deb("login", "1:4.13+dfsg1-1", "shadow", "1:4.13+dfsg1-1"),
		// Fixed already: no findings.
		deb("perl-base", "5.36.0-7+deb12u1", "perl", ""),
		deb("libssl3-fixed", "3.0.13-1~deb12u1", "openssl", "3.0.13-1~deb12u1"),
	}
	res, err := Match(context.Background(), db, pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := summarize(res.Findings)
	expected := []want{
		{"libc6", "DEBIAN-CVE-2010-4756", "", finding.SeverityLow, "Debian"},
		{"libc6", "DEBIAN-CVE-2024-2961", "2.36-9+deb12u6", finding.SeverityHigh, "Debian"},
		{"libssl3", "DEBIAN-CVE-2024-0727", "3.0.13-1~deb12u1", finding.SeverityLow, "Debian"},
		{"libssl3", "DSA-5532-1", "3.0.11-1~deb12u2", finding.SeverityUnknown, ""},
		{"login", "DEBIAN-CVE-2023-4641", "1:4.13+dfsg1-1+deb12u1", finding.SeverityMedium, "Debian"},
		{"openssl", "DEBIAN-CVE-2024-0727", "3.0.13-1~deb12u1", finding.SeverityLow, "Debian"},
		{"openssl", "DSA-5532-1", "3.0.11-1~deb12u2", finding.SeverityUnknown, ""},
	}
	// DSA-5532-1 is fixed in 3.0.11-1~deb12u2, the installed source version:
	// it must not match.
	expected = filter(expected, func(w want) bool { return w.id != "DSA-5532-1" })
	// DEBIAN-CVE-2023-4911 is fixed in 2.36-9+deb12u3 < deb12u4.
	if !equalWants(got, expected) {
		t.Errorf("findings:\n got  %v\n want %v", got, expected)
	}
	for _, f := range res.Findings {
		v := f.Vulnerability
		if v.Layer != "sha256:1111" || f.File != "/var/lib/dpkg/status" || len(v.Links) == 0 {
			t.Errorf("%s: layer %q, file %q, links %v", f.RuleID, v.Layer, f.File, v.Links)
		}
		if f.Vulnerability.Package.Name == "libssl3" && (v.Package.SourceName != "openssl" || v.Installed != "3.0.11-1~deb12u2" || v.Package.Version != "3.0.11-1~deb12u2+b1") {
			t.Errorf("libssl3: %+v", v)
		}
		if v.Fixed == "" && !strings.Contains(f.Message, NoFix) {
			t.Errorf("%s: message %q does not say %q", f.RuleID, f.Message, NoFix)
		}
	}
	if len(res.Problems) != 0 {
		t.Errorf("problems: %v", res.Problems)
	}

	// An older glibc also matches Looney Tunables, rated by its CVSS vector.
	res, err = Match(context.Background(), db, []sbom.Package{deb("libc6", "2.36-9+deb12u1", "glibc", "2.36-9+deb12u1")}, Options{IgnoreUnfixed: true})
	if err != nil {
		t.Fatal(err)
	}
	got = summarize(res.Findings)
	expected = []want{
		{"libc6", "DEBIAN-CVE-2023-4911", "2.36-9+deb12u3", finding.SeverityHigh, "CVSS_V3"},
		{"libc6", "DEBIAN-CVE-2024-2961", "2.36-9+deb12u6", finding.SeverityHigh, "Debian"},
	}
	if !equalWants(got, expected) {
		t.Errorf("--ignore-unfixed findings:\n got  %v\n want %v", got, expected)
	}
	for _, f := range res.Findings {
		if f.RuleID == "DEBIAN-CVE-2023-4911" {
			if len(f.Vulnerability.CVSS) != 1 || f.Vulnerability.CVSS[0].Score != 7.8 || f.Vulnerability.CVSS[0].Version != "3.1" {
				t.Errorf("CVSS: %+v", f.Vulnerability.CVSS)
			}
			if !contains(f.Vulnerability.Aliases, "CVE-2023-4911") {
				t.Errorf("aliases %v lack the upstream CVE", f.Vulnerability.Aliases)
			}
		}
	}
}

func TestMatchReleases(t *testing.T) {
	db := openFixtures(t)
	pkgs := []sbom.Package{
		// Debian 11's openssl advisory names 1.1.1w-0+deb11u2.
		{Name: "libssl1.1", Version: "1.1.1n-0+deb11u5", Ecosystem: "Debian:11", SourceName: "openssl"},
		// Alpine: libcrypto3 comes from origin openssl.
		{Name: "libcrypto3", Version: "3.1.4-r3", Ecosystem: "Alpine:v3.19", SourceName: "openssl"},
		// The v3.20 fix does not apply to v3.19's package and vice versa.
		{Name: "libcrypto3", Version: "3.1.4-r6", Ecosystem: "Alpine:v3.20", SourceName: "openssl"},
		// Ubuntu's LTS release; the Pro (ESM) entry must not match.
		{Name: "libssl3", Version: "3.0.2-0ubuntu1.12", Ecosystem: "Ubuntu:22.04", SourceName: "openssl"},
		{Name: "libssl1.1", Version: "1.1.1-1ubuntu2.1~18.04.23", Ecosystem: "Ubuntu:18.04", SourceName: "openssl"},
	}
	res, err := Match(context.Background(), db, pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := summarize(res.Findings)
	expected := []want{
		{"libcrypto3", "ALPINE-CVE-2024-0727", "3.1.4-r5", finding.SeverityUnknown, ""},
		{"libcrypto3", "ALPINE-CVE-2024-0727", "3.3.0-r0", finding.SeverityUnknown, ""},
		{"libssl1.1", "DEBIAN-CVE-2024-0727", "1.1.1w-0+deb11u2", finding.SeverityLow, "Debian"},
		{"libssl3", "UBUNTU-CVE-2024-0727", "3.0.2-0ubuntu1.14", finding.SeverityLow, "Ubuntu"},
	}
	if !equalWants(got, expected) {
		t.Errorf("findings:\n got  %v\n want %v", got, expected)
	}
}

func TestMatchPyPIDedupesAliases(t *testing.T) {
	db := openFixtures(t)
	res, err := Match(context.Background(), db, []sbom.Package{{Name: "Requests", Version: "2.28.1", Ecosystem: "PyPI", Type: "pypi"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("%d findings, want the GHSA and PYSEC records merged into one: %v", len(res.Findings), summarize(res.Findings))
	}
	f := res.Findings[0]
	if f.RuleID != "GHSA-j8r2-6x86-q33q" || f.Severity != finding.SeverityMedium || f.Vulnerability.CVSS[0].Score != 6.1 ||
		!contains(f.Vulnerability.Aliases, "PYSEC-2023-74") || !contains(f.Vulnerability.Aliases, "CVE-2023-32681") {
		t.Errorf("finding: %+v %+v", f, f.Vulnerability)
	}
}

// TestMatchProblems: packages that cannot be checked are never silently
// clean. An ecosystem without advisories in the database, or whose
// versions cannot be compared, is one error per ecosystem counting its
// packages (a warning with AllowMissingData); a version that does not
// parse is a warning.
func TestMatchProblems(t *testing.T) {
	db := openFixtures(t)
	pkgs := []sbom.Package{
		{Name: "x", Version: "1", Ecosystem: "Slackware:15"},
		{Name: "y", Version: "2", Ecosystem: "Slackware:15"},
		{Name: "libc6", Version: "not a version!", Ecosystem: "Debian:12", SourceName: "glibc"},
		{Name: "busybox", Version: "1.36.1-r0", Ecosystem: "Wolfi"},
		{Name: "left-pad", Version: "1.3.0", Ecosystem: "npm"},
		{Name: "musl", Version: "1.2.5-r0", Ecosystem: "Alpine:v3.20"}, // the database has Alpine
	}
	obj := finding.ObjectRef{Kind: "Image", Name: "app@sha256:1"}
	for _, allow := range []bool{false, true} {
		res, err := Match(context.Background(), db, pkgs, Options{Object: obj, AllowMissingData: allow})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != 0 {
			t.Errorf("findings: %v", summarize(res.Findings))
		}
		level := finding.LevelError
		if allow {
			level = finding.LevelWarning
		}
		want := []finding.Problem{
			{Level: finding.LevelWarning, File: "", Message: "package libc6: not matched against vulnerabilities"},
			{Level: level, Message: "Image app@sha256:1: ecosystem Slackware:15 is not supported: Palisade cannot compare its versions (2 packages not checked)"},
			{Level: level, Message: "Image app@sha256:1: no vulnerability data for ecosystem Wolfi (1 package not checked); run `palisade db update` or `palisade db import` with advisories of Wolfi"},
			{Level: level, Message: "Image app@sha256:1: no vulnerability data for ecosystem npm (1 package not checked)"},
		}
		if len(res.Problems) != len(want) {
			t.Fatalf("allow %v: problems %+v, want %d", allow, res.Problems, len(want))
		}
		for i, w := range want {
			if got := res.Problems[i]; got.Level != w.Level || !strings.Contains(got.Message, w.Message) {
				t.Errorf("allow %v: problem %d = %s %q, want %s %q", allow, i, got.Level, got.Message, w.Level, w.Message)
			}
		}
		if len(res.Unchecked) != 3 || res.Unchecked[0] != (Unchecked{Ecosystem: "Slackware:15", Packages: 2, NoVersionOrder: true}) {
			t.Errorf("unchecked: %+v", res.Unchecked)
		}
	}
	// The advice names the binary the caller says it is.
	res, err := Match(context.Background(), db, pkgs, Options{Object: obj, Program: "palisade-scan"})
	if err != nil {
		t.Fatal(err)
	}
	want := "no vulnerability data for ecosystem Wolfi (1 package not checked); run `palisade-scan db update` or `palisade-scan db import` with advisories of Wolfi"
	if len(res.Problems) < 3 || !strings.Contains(res.Problems[2].Message, want) {
		t.Errorf("program palisade-scan: problems %+v, want %q", res.Problems, want)
	}
}

func filter(ws []want, keep func(want) bool) []want {
	var out []want
	for _, w := range ws {
		if keep(w) {
			out = append(out, w)
		}
	}
	return out
}

func equalWants(a, b []want) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
