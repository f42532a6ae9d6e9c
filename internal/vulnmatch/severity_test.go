package vulnmatch

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// openEnriched imports recs and the vulndb package's NVD, KEV and EPSS
// fixtures (in their published formats) into one database.
func openEnriched(t *testing.T, recs ...vulndb.Record) *vulndb.DB {
	t.Helper()
	db := openRecords(t, recs...)
	dir := strings.TrimSuffix(db.Path(), "/vulndb/osv.db")
	db.Close()
	c := vulndb.Cache{Dir: dir}
	ctx := context.Background()
	for _, f := range []struct{ path, name string }{
		{"../vulndb/testdata/enrich/nvdcve-2.0-2024.json", "nvd"},
		{"../vulndb/testdata/enrich/known_exploited_vulnerabilities.json", "kev"},
		{"../vulndb/testdata/enrich/epss_scores.csv", "epss"},
	} {
		if _, err := c.Import(ctx, f.path, f.name, "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return openCache(t, c)
}

// TestMatchSeverityOrder: the severity of a finding comes from the first
// source that rates it: the distribution's own rating, the advisory's
// CVSS (4.0 before 3.x before 2), NVD's CVSS of a CVE alias (NVD's own
// score before a CNA's), then GitHub's rating; the finding names the
// source, and carries KEV and EPSS where they list a CVE alias.
func TestMatchSeverityOrder(t *testing.T) {
	deb := func(id, urgency string, sev []vulndb.Severity, upstream ...string) vulndb.Record {
		a := affected("Debian:12", "src-"+strings.ToLower(id), "")
		if urgency != "" {
			a.DatabaseSpecific = json.RawMessage(`{"urgency":"` + urgency + `"}`)
		}
		return vulndb.Record{ID: id, Upstream: upstream, Severity: sev, Affected: []vulndb.Affected{a}}
	}
	ghsa := func(id, word string, aliases ...string) vulndb.Record {
		return vulndb.Record{ID: id, Aliases: aliases, DatabaseSpecific: json.RawMessage(`{"severity":"` + word + `"}`),
			Affected: []vulndb.Affected{affected("PyPI", "pkg-"+strings.ToLower(id), "")}}
	}
	v3High := []vulndb.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}}
	v4 := []vulndb.Severity{{Type: "CVSS_V4", Score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
		{Type: "CVSS_V2", Score: "AV:N/AC:L/Au:N/C:N/I:N/A:P"}}
	db := openEnriched(t,
		deb("DEBIAN-VENDOR", "low", v3High),
		deb("DEBIAN-CVSS4", "not yet assigned", v4),
		deb("DEBIAN-NVD2", "not yet assigned", nil, "CVE-2010-4756"),
		deb("DEBIAN-NVD-KEV", "", nil, "CVE-2021-44228"),
		deb("DEBIAN-CNA4", "", nil, "CVE-2024-9999"),
		deb("DEBIAN-NONE", "", nil, "CVE-2099-0001"),
		ghsa("GHSA-nvd", "LOW", "CVE-2024-0727"),
		ghsa("GHSA-only", "HIGH"),
	)
	tests := []struct {
		pkg      sbom.Package
		severity finding.Severity
		source   string
		kev      bool
		epss     float64
	}{
		{sbom.Package{Name: "src-debian-vendor", Version: "1.0-1", Ecosystem: "Debian:12"}, finding.SeverityLow, "Debian", false, 0},
		{sbom.Package{Name: "src-debian-cvss4", Version: "1.0-1", Ecosystem: "Debian:12"}, finding.SeverityCritical, "CVSS_V4", false, 0},
		{sbom.Package{Name: "src-debian-nvd2", Version: "1.0-1", Ecosystem: "Debian:12"}, finding.SeverityMedium, "NVD", false, 0.00521},
		{sbom.Package{Name: "src-debian-nvd-kev", Version: "1.0-1", Ecosystem: "Debian:12"}, finding.SeverityCritical, "NVD", true, 0.94358},
		{sbom.Package{Name: "src-debian-cna4", Version: "1.0-1", Ecosystem: "Debian:12"}, finding.SeverityCritical, "NVD", false, 0},
		{sbom.Package{Name: "src-debian-none", Version: "1.0-1", Ecosystem: "Debian:12"}, finding.SeverityUnknown, "", false, 0},
		{sbom.Package{Name: "pkg-ghsa-nvd", Version: "1.0", Ecosystem: "PyPI"}, finding.SeverityMedium, "NVD", false, 0.00142},
		{sbom.Package{Name: "pkg-ghsa-only", Version: "1.0", Ecosystem: "PyPI"}, finding.SeverityHigh, "GitHub", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.pkg.Name, func(t *testing.T) {
			res, err := Match(context.Background(), db, []sbom.Package{tt.pkg}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings: %v", summarize(res.Findings))
			}
			f := res.Findings[0]
			v := f.Vulnerability
			if f.Severity != tt.severity || v.SeveritySource != tt.source {
				t.Errorf("severity %s from %q, want %s from %q (scores %+v)", f.Severity, v.SeveritySource, tt.severity, tt.source, v.CVSS)
			}
			if (v.KEV != nil) != tt.kev || (tt.epss == 0) != (v.EPSS == nil) || (v.EPSS != nil && v.EPSS.Score != tt.epss) {
				t.Errorf("KEV %+v, EPSS %+v; want KEV %v, EPSS %v", v.KEV, v.EPSS, tt.kev, tt.epss)
			}
			if tt.source != "" && !strings.Contains(f.Message, "severity from "+tt.source) {
				t.Errorf("message %q does not name the severity source", f.Message)
			}
		})
	}
}

// TestMatchUbuntuTrackerPriority: an Ubuntu package is rated by the
// Ubuntu CVE Tracker's priority (its published text files, imported as
// ubuntu-tracker), the most specific first: of the source package in its
// release ("Priority_linux_jammy"), of the source package
// ("Priority_linux"), of the CVE ("Priority"); "untriaged" rates nothing.
// The tracker outranks the advisory's own rating of the CVE; without a
// tracker entry the advisory's rating stays. The finding names the
// tracker and whose priority it used.
func TestMatchUbuntuTrackerPriority(t *testing.T) {
	ubuntuRec := func(id, pkg, release string, upstream ...string) vulndb.Record {
		return vulndb.Record{ID: id, Upstream: upstream, Severity: []vulndb.Severity{{Type: "Ubuntu", Score: "low"}},
			Affected: []vulndb.Affected{affected("Ubuntu:"+release, pkg, "")}}
	}
	db := openRecords(t,
		ubuntuRec("UBUNTU-CVE-2024-26925", "linux", "22.04:LTS", "CVE-2024-26925"),
		ubuntuRec("UBUNTU-CVE-2024-26925-noble", "linux", "24.04:LTS", "CVE-2024-26925"),
		ubuntuRec("UBUNTU-CVE-2024-26925-aws", "linux-aws", "22.04:LTS", "CVE-2024-26925"),
		ubuntuRec("UBUNTU-CVE-2024-26925-oem", "linux-oem", "22.04:LTS", "CVE-2024-26925"),
		ubuntuRec("UBUNTU-CVE-2024-0727", "openssl", "22.04:LTS", "CVE-2024-0727"),
		ubuntuRec("UBUNTU-CVE-2099-0001", "zlib", "22.04:LTS", "CVE-2099-0001"),
	)
	dir := strings.TrimSuffix(db.Path(), "/vulndb/osv.db")
	db.Close()
	c := vulndb.Cache{Dir: dir}
	if _, err := c.Import(context.Background(), "../vulndb/testdata/ubuntu-tracker", "ubuntu-tracker", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	db = openCache(t, c)
	tests := []struct {
		name, release string
		severity      finding.Severity
		source, note  string
	}{
		{"linux", "22.04:LTS", finding.SeverityCritical, vulndb.SourceUbuntuTracker, "(critical of linux in 22.04:LTS)"},
		{"linux", "24.04:LTS", finding.SeverityHigh, vulndb.SourceUbuntuTracker, "(high of linux)"},
		{"linux-aws", "22.04:LTS", finding.SeverityMedium, vulndb.SourceUbuntuTracker, "(medium of the CVE)"},
		{"linux-oem", "22.04:LTS", finding.SeverityMedium, vulndb.SourceUbuntuTracker, "(medium of the CVE)"},
		{"openssl", "22.04:LTS", finding.SeverityLow, vulndb.SourceUbuntuTracker, "(low of openssl)"},
		{"zlib", "22.04:LTS", finding.SeverityLow, "Ubuntu", "severity from Ubuntu"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"-"+tt.release, func(t *testing.T) {
			p := sbom.Package{Name: tt.name, Version: "1.0-1", Ecosystem: "Ubuntu:" + tt.release}
			res, err := Match(context.Background(), db, []sbom.Package{p}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings: %v", summarize(res.Findings))
			}
			f := res.Findings[0]
			if f.Severity != tt.severity || f.Vulnerability.SeveritySource != tt.source || !strings.Contains(f.Message, tt.note) {
				t.Errorf("%s from %q, message %q; want %s from %q with %q", f.Severity, f.Vulnerability.SeveritySource, f.Message, tt.severity, tt.source, tt.note)
			}
		})
	}
}
