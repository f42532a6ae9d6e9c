package main

import (
	"strings"
	"testing"

	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// gateFixture is a Debian 12 image whose one package, zlib, has a
// vulnerability of unknown severity (its advisory has no CVSS vector, as
// many Debian, Go and Alpine records have none), an Alpine image, and a
// database holding Debian records only.
type gateFixture struct {
	debian, alpine string
	cacheDir       string
}

func newGateFixture(t *testing.T) *gateFixture {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	fx := &gateFixture{cacheDir: t.TempDir()}
	fx.debian = "oci:" + Layout(t, Image(t, "linux/amd64", Layer(t,
		File("etc/os-release", OSRelease),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("zlib1g", "1:1.2.13.dfsg-1", "zlib"))),
	)))
	fx.alpine = "oci:" + Layout(t, Image(t, "linux/amd64", Layer(t,
		File("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.23.0\n"),
		File("lib/apk/db/installed", "P:musl\nV:1.2.5-r0\no:musl\n\nP:zlib\nV:1.3.1-r1\no:zlib\n\n"),
	)))
	recs := WriteRecords(t, map[string][]byte{
		"DEBIAN-CVE-2099-0777": DebianRecord("DEBIAN-CVE-2099-0777", "CVE-2099-0777", "zlib", "", ""),
	})
	if _, stderr, code := palisade(t, "", "db", "import", recs, "--name", "debian", "--cache-dir", fx.cacheDir); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, stderr)
	}
	return fx
}

// TestScanImageUnknownSeverity: a vulnerability of unknown severity fails
// --fail-on at every level but none, unless --ignore-unknown-severity.
func TestScanImageUnknownSeverity(t *testing.T) {
	fx := newGateFixture(t)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"default --fail-on low", nil, exitFindings},
		{"--fail-on critical", []string{"--fail-on", "critical"}, exitFindings},
		{"--fail-on high", []string{"--fail-on", "high"}, exitFindings},
		{"--fail-on unknown", []string{"--fail-on", "unknown"}, exitFindings},
		{"--fail-on none", []string{"--fail-on", "none"}, exitClean},
		{"--ignore-unknown-severity", []string{"--ignore-unknown-severity"}, exitClean},
		{"--fail-on critical --ignore-unknown-severity", []string{"--fail-on", "critical", "--ignore-unknown-severity"}, exitClean},
		{"--fail-on unknown fails on anything", []string{"--fail-on", "unknown", "--ignore-unknown-severity"}, exitFindings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "image", fx.debian, "--cache-dir", fx.cacheDir, "--scanners", "vuln"}, tt.args...)
			out, stderr, code := palisade(t, "", args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			// The finding is in the report whatever the gate says.
			if !strings.Contains(out, "DEBIAN-CVE-2099-0777") || !strings.Contains(out, "UNKNOWN") {
				t.Errorf("report lacks the UNKNOWN finding:\n%s", out)
			}
		})
	}
}

// TestScanImageMissingData: an image whose ecosystem has no advisories in
// the database is not "No findings", exit 0: each such ecosystem is an
// error counting the packages left unchecked, exit 2, unless
// --allow-missing-data.
func TestScanImageMissingData(t *testing.T) {
	fx := newGateFixture(t)
	want := "no vulnerability data for ecosystem Alpine:v3.23 (2 packages not checked)"
	for _, format := range []string{"table", "json", "sarif"} {
		out, stderr, code := palisade(t, "", "scan", "image", fx.alpine, "--cache-dir", fx.cacheDir, "--scanners", "vuln", "-o", format)
		if code != exitError {
			t.Errorf("-o %s: exit %d, want 2: %s", format, code, stderr)
		}
		if !strings.Contains(out, want) {
			t.Errorf("-o %s: report lacks %q:\n%s", format, want, out)
		}
	}
	out, stderr, code := palisade(t, "", "scan", "image", fx.alpine, "--cache-dir", fx.cacheDir, "--scanners", "vuln", "--allow-missing-data")
	if code != exitClean || !strings.Contains(out, "WARNING") || !strings.Contains(out, want) {
		t.Errorf("--allow-missing-data: exit %d, want 0 and a warning: %s%s", code, out, stderr)
	}
	// The Debian image is covered: its exit code is the gate's, not 2.
	if _, stderr, code := palisade(t, "", "scan", "image", fx.debian, "--cache-dir", fx.cacheDir, "--scanners", "vuln", "--fail-on", "none"); code != exitClean {
		t.Errorf("covered image: exit %d: %s", code, stderr)
	}
}

// TestScanImageFailOnPriority: the fixture's finding, of unknown severity
// (P3) and without a fix (one step lower), is P4. --fail-on-priority
// gates on it alone, both gates apply when --fail-on is given too,
// --fail-on P1..P4 is the same priority gate, and every format carries
// the priority.
func TestScanImageFailOnPriority(t *testing.T) {
	fx := newGateFixture(t)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"P4 fails", []string{"--fail-on-priority", "P4"}, exitFindings},
		{"P3 passes, replacing --fail-on low", []string{"--fail-on-priority", "p3"}, exitClean},
		{"P1 with --fail-on low: severity gate still fails", []string{"--fail-on-priority", "P1", "--fail-on", "low"}, exitFindings},
		{"P1 with --fail-on none", []string{"--fail-on-priority", "P1", "--fail-on", "none"}, exitClean},
		{"not a priority", []string{"--fail-on-priority", "high"}, exitError},
		{"--fail-on P4 fails", []string{"--fail-on", "P4"}, exitFindings},
		{"--fail-on p3 passes, replacing the severity gate", []string{"--fail-on", "p3"}, exitClean},
		{"--fail-on P2 and --fail-on-priority P2: ambiguous", []string{"--fail-on", "P2", "--fail-on-priority", "P2"}, exitError},
		{"--fail-on neither severity nor priority", []string{"--fail-on", "P5"}, exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "image", fx.debian, "--cache-dir", fx.cacheDir, "--scanners", "vuln"}, tt.args...)
			_, stderr, code := palisade(t, "", args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.want, stderr)
			}
		})
	}
	for format, want := range map[string]string{"table": "UNKNOWN P4", "json": `"priority": "P4"`, "sarif": `"priority": "P4"`, "yaml": "priority: P4"} {
		out, stderr, _ := palisade(t, "", "scan", "image", fx.debian, "--cache-dir", fx.cacheDir, "--scanners", "vuln", "-o", format)
		if !strings.Contains(out, want) {
			t.Errorf("-o %s lacks %q: %s\n%s", format, want, stderr, out)
		}
	}
}
