package main

import (
	"os"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestScanImageEndOfLifeRPM scans root file systems holding an rpm
// database written by the real rpm (internal/imagescan/testdata/rpmdb):
// Fedora 40, past its end of life since 2025-05-13, is a High finding
// beside its packages' advisories; Photon OS 5.0, whose end Palisade
// does not know, is a warning "end of life unknown" in the report's
// problems, its findings still reported, never exit 2.
func TestScanImageEndOfLifeRPM(t *testing.T) {
	const rpmdb = "../../internal/imagescan/testdata/rpmdb/"
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tt := range []struct {
		name, osRelease, dbPath, db string
		source, sourceName          string
		vuln                        string // a finding expected beside
		eol                         string // in the end-of-life finding; "" for the warning
	}{
		{"Fedora 40", "ID=fedora\nVERSION_ID=40\nPRETTY_NAME=\"Fedora Linux 40 (Container Image)\"\n",
			"usr/lib/sysimage/rpm/rpmdb.sqlite", read(rpmdb + "fedora-40/rpmdb.sqlite"),
			"../../internal/imagescan/testdata/distros/bodhi-f40/updates-page-1.json", "bodhi-f40",
			"FEDORA-2099-f40a000001", "Fedora Linux 40 (Container Image) reached the end of its security support on 2025-05-13"},
		{"Photon OS 5.0", "ID=photon\nVERSION_ID=5.0\nPRETTY_NAME=\"VMware Photon OS/Linux\"\n",
			"var/lib/rpm/rpmdb.sqlite", read(rpmdb + "photon-5.0/rpmdb.sqlite"),
			"../../internal/vulndb/testdata/photon/cve_data_photon5.0.json", "photon-5.0",
			"PHOTON-5.0-CVE-2023-0464", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			writeTree(t, rootfs, map[string]string{"etc/os-release": tt.osRelease, tt.dbPath: tt.db})
			cache := t.TempDir()
			if _, stderr, code := palisade(t, "", "db", "import", "--cache-dir", cache, tt.source, "--name", tt.sourceName); code != 0 {
				t.Fatalf("db import: %s", stderr)
			}
			rep, stderr, code := scanJSON(t, "", "rootfs:"+rootfs, "--cache-dir", cache, "--scanners", "vuln")
			if rep == nil {
				t.Fatalf("scan: exit %d: %s", code, stderr)
			}
			rules := byRule(rep)
			if len(rules[tt.vuln]) == 0 || code != exitFindings {
				t.Errorf("exit %d, findings %v; want %s", code, rules, tt.vuln)
			}
			eol := rules["os-end-of-life"]
			var unknown []string
			for _, p := range rep.Problems {
				if strings.Contains(p.Message, "end of life unknown") {
					unknown = append(unknown, p.Level+": "+p.Message)
				}
			}
			if tt.eol != "" {
				if len(eol) != 1 || eol[0].Severity != finding.SeverityHigh || !strings.Contains(eol[0].Message, tt.eol) ||
					!strings.Contains(eol[0].Message, "source: https://endoflife.date/fedora") || len(unknown) != 0 {
					t.Errorf("end-of-life findings %+v, unknown %q", eol, unknown)
				}
				return
			}
			if len(eol) != 0 || len(unknown) != 1 || !strings.HasPrefix(unknown[0], finding.LevelWarning+": VMware Photon OS/Linux") {
				t.Errorf("end-of-life findings %+v, unknown %q; want one warning", eol, unknown)
			}
		})
	}
}
