package imagescan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// zlibDB is a database of one Debian 12 advisory, about zlib (fixed in
// 1:1.3), that the zlib1g of these tests' images has.
func zlibDB(t *testing.T) string {
	t.Helper()
	const vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
	return debianDB(t, map[string][]byte{
		"DEBIAN-CVE-2026-1000": DebianRecord("DEBIAN-CVE-2026-1000", "CVE-2026-1000", "zlib", "1:1.3", vector),
	}, time.Now())
}

// TestUncataloguedSoftwareIsNotClean: software in an image that the
// catalogers could not read (a dpkg stanza without a version, a version
// dpkg cannot parse, an unreadable package.json, METADATA or gemspec) was
// not checked for vulnerabilities, so the scan must not come back clean:
// each is an error naming the file (exit 2), a warning under
// AllowMissingData, and the readable packages are still matched.
func TestUncataloguedSoftwareIsNotClean(t *testing.T) {
	cacheDir := zlibDB(t)
	zlib := DpkgStanza("zlib1g", "1:1.2.13.dfsg-1", "zlib")
	for _, tc := range []struct {
		name    string
		entries []Entry
		want    string // in the one error's text
	}{
		{"dpkg stanza without version", []Entry{File("var/lib/dpkg/status", DpkgStatus(zlib, "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\n"))},
			"var/lib/dpkg/status: stanza at line 9: package libc6: no Version: not catalogued"},
		{"dpkg version that does not parse", []Entry{File("var/lib/dpkg/status", DpkgStatus(zlib, DpkgStanza("libc6", "a:2.36-9", "glibc")))},
			"package libc6: invalid Debian version"},
		{"broken package.json", []Entry{File("var/lib/dpkg/status", DpkgStatus(zlib)), File("app/node_modules/lodash/package.json", `{"name":"lodash","version":`)},
			"app/node_modules/lodash/package.json: unexpected EOF"},
		{"python METADATA without a version", []Entry{File("var/lib/dpkg/status", DpkgStatus(zlib)), File("usr/lib/python3/dist-packages/foo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: foo\n")},
			"foo-1.0.dist-info/METADATA: no name or version"},
		{"unreadable gemspec", []Entry{File("var/lib/dpkg/status", DpkgStatus(zlib)), File("usr/lib/ruby/gems/3.1.0/specifications/rack-2.0.gemspec", "garbage\n")},
			"rack-2.0.gemspec: no gem name and version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := Layout(t, Image(t, "linux/amd64", Layer(t, append([]Entry{File("etc/os-release", OSRelease)}, tc.entries...)...)))
			for _, allow := range []bool{false, true} {
				res, err := Scan(context.Background(), "oci:"+dir, Options{CacheDir: cacheDir, Scanners: Scanners{Vuln: true}, AllowMissingData: allow, MaxDBAge: -1})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Report.Findings) != 1 || res.Report.Findings[0].RuleID != "DEBIAN-CVE-2026-1000" {
					t.Errorf("allow-missing-data %t: findings %v, want zlib's still matched", allow, res.Report.Findings)
				}
				var hits []finding.Problem
				for _, p := range res.Report.Problems {
					if strings.Contains(p.String(), tc.want) {
						hits = append(hits, p)
					}
				}
				wantLevel, wantErrors := finding.LevelError, 1
				if allow {
					wantLevel, wantErrors = finding.LevelWarning, 0
				}
				if len(hits) != 1 || hits[0].Level != wantLevel || !strings.Contains(hits[0].Message, "not checked for vulnerabilities") || res.Report.Summary.Errors != wantErrors {
					t.Errorf("allow-missing-data %t: problems %v (errors %d), want one %s with %q", allow, res.Report.Problems, res.Report.Summary.Errors, wantLevel, tc.want)
				}
			}
		})
	}
}

// TestApkEntryWithoutVersionIsNotClean: the known case of issue #17's
// hunt, an Alpine package database whose stanza has no V: line; the
// package used to vanish from the SBOM and the scan without a word.
func TestApkEntryWithoutVersionIsNotClean(t *testing.T) {
	dir := Layout(t, Image(t, "linux/amd64", Layer(t,
		File("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n"),
		File("lib/apk/db/installed", "P:musl\nV:1.2.5-r0\nA:x86_64\n\nP:openssl\nA:x86_64\no:openssl\n\n"))))
	inv, err := Catalog(context.Background(), "oci:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Packages) != 1 || inv.Packages[0].Name != "musl" {
		t.Errorf("packages %v, want musl alone", inv.Packages)
	}
	if len(inv.Problems) != 1 || inv.Problems[0].Level != finding.LevelError ||
		!strings.Contains(inv.Problems[0].Message, `lib/apk/db/installed: stanza at line 5: package "openssl" without name or version: not catalogued`) {
		t.Errorf("problems %v, want one error naming openssl's stanza", inv.Problems)
	}
}
