package vulnmatch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// openRecords imports recs into a fresh database, each as its own OSV
// file, as `palisade db import` of a directory would.
func openRecords(t *testing.T, recs ...vulndb.Record) *vulndb.DB {
	t.Helper()
	dir := t.TempDir()
	for _, r := range recs {
		writeRecord(t, dir, r)
	}
	c := vulndb.Cache{Dir: t.TempDir()}
	if _, err := c.ImportOSV(context.Background(), dir, "records", time.Now()); err != nil {
		t.Fatal(err)
	}
	return openCache(t, c)
}

// writeRecord writes r as an OSV file into dir.
func writeRecord(t *testing.T, dir string, r vulndb.Record) {
	t.Helper()
	if r.Modified.IsZero() {
		r.Modified = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, r.ID+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// openCache opens the database of a cache for the test.
func openCache(t *testing.T, c vulndb.Cache) *vulndb.DB {
	t.Helper()
	db, err := c.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// affected is an OSV affected entry with one ECOSYSTEM range from
// "introduced: 0" to fixed (no fix when fixed is "").
func affected(ecosystem, name, fixed string) vulndb.Affected {
	ev := []vulndb.Event{{Introduced: "0"}}
	if fixed != "" {
		ev = append(ev, vulndb.Event{Fixed: fixed})
	}
	return vulndb.Affected{Package: vulndb.Package{Ecosystem: ecosystem, Name: name},
		Ranges: []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: ev}}}
}

// TestMatchRedHatStreams: OSV qualifies Red Hat's advisories by CPE
// product stream ("Red Hat:enterprise_linux:8::appstream"), while an
// image's rpm packages carry the plain "Red Hat" ecosystem and their
// release only in the purl's distro qualifier and the ".elN" of the rpm
// release. An el8 advisory must not match an el9 package, nor the
// extended-support streams (EUS, AUS, E4S) a standard image is not on.
func TestMatchRedHatStreams(t *testing.T) {
	db := openRecords(t,
		vulndb.Record{ID: "RHSA-2024:0001", Affected: []vulndb.Affected{
			affected("Red Hat:enterprise_linux:8::appstream", "python3.11", "0:3.11.7-1.el8_9"),
			affected("Red Hat:enterprise_linux:8::appstream", "python3.11-libs", "0:3.11.7-1.el8_9"),
		}},
		vulndb.Record{ID: "RHSA-2024:0002", Affected: []vulndb.Affected{
			affected("Red Hat:enterprise_linux:9::appstream", "python3.11", "0:3.11.5-1.el9_3"),
			affected("Red Hat:enterprise_linux:9::appstream", "python3.11-libs", "0:3.11.5-1.el9_3"),
		}},
		vulndb.Record{ID: "RHSA-2024:0003", Affected: []vulndb.Affected{
			affected("Red Hat:rhel_eus:9.2::appstream", "python3.11-libs", "0:3.11.9-1.el9_2"),
			affected("Red Hat:rhel_e4s:9.0::appstream", "python3.11-libs", "0:3.11.9-1.el9_0"),
		}},
	)
	rpm := func(name, ver, distro string) sbom.Package {
		purl := "pkg:rpm/redhat/" + name + "@" + ver + "?arch=x86_64"
		if distro != "" {
			purl += "&distro=" + distro
		}
		return sbom.Package{Name: name, Version: ver, Ecosystem: sbom.EcosystemRedHat, Type: "rpm", PURL: purl}
	}
	tests := []struct {
		name string
		pkg  sbom.Package
		want []want
	}{
		{"el9 by distro qualifier", rpm("python3.11-libs", "3.11.2-1.el9", "rhel-9.4"),
			[]want{{"python3.11-libs", "RHSA-2024:0002", "0:3.11.5-1.el9_3", finding.SeverityUnknown, ""}}},
		{"el9 fixed, el8 record not applied", rpm("python3.11-libs", "3.11.5-1.el9_3", "rhel-9.4"), nil},
		{"el9 by rpm release alone", rpm("python3.11", "3.11.5-1.el9_3", ""), nil},
		{"el8 by rpm release alone", rpm("python3.11", "3.11.5-1.el8", ""),
			[]want{{"python3.11", "RHSA-2024:0001", "0:3.11.7-1.el8_9", finding.SeverityUnknown, ""}}},
		{"centos stream 8", rpm("python3.11", "3.11.5-1.el8", "centos-8"),
			[]want{{"python3.11", "RHSA-2024:0001", "0:3.11.7-1.el8_9", finding.SeverityUnknown, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Match(context.Background(), db, []sbom.Package{tt.pkg}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(res.Findings); !equalWants(got, tt.want) {
				t.Errorf("findings:\n got  %v\n want %v", got, tt.want)
			}
		})
	}
}

// TestMatchAmazonLinux matches Amazon Linux rpms against ALAS advisories
// (imported from updateinfo.xml) with rpm's version order, epochs
// included, qualified by release: an Amazon Linux 2023 advisory says
// nothing of Amazon Linux 2 and the other way round. ALAS's own severity
// rates the finding.
func TestMatchAmazonLinux(t *testing.T) {
	ctx := context.Background()
	c := vulndb.Cache{Dir: t.TempDir()}
	for _, rel := range []string{"2", "2023"} {
		if _, err := c.Import(ctx, "../vulndb/testdata/alas/updateinfo-al"+rel+".xml", "alas-"+rel, "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	db := openCache(t, c)
	amzn := func(name, ver, release string) sbom.Package {
		return sbom.Package{Name: name, Version: ver, Ecosystem: "Amazon Linux:" + release, Type: "rpm"}
	}
	tests := []struct {
		pkg  sbom.Package
		want []want
	}{
		{amzn("openssl-libs", "1:3.0.8-1.amzn2023.0.1", "2023"),
			[]want{{"openssl-libs", "ALAS2023-2024-507", "1:3.0.8-1.amzn2023.0.3", finding.SeverityMedium, "Amazon Linux"}}},
		{amzn("openssl-libs", "1:3.0.8-1.amzn2023.0.3", "2023"), nil},
		{amzn("libcurl-minimal", "8.3.0-1.amzn2023.0.2", "2023"),
			[]want{{"libcurl-minimal", "ALAS2023-2024-600", "8.5.0-1.amzn2023.0.1", finding.SeverityHigh, "Amazon Linux"}}},
		{amzn("openssl-libs", "1:1.0.2k-24.amzn2.0.7", "2"),
			[]want{{"openssl-libs", "ALAS2-2024-2450", "1:1.0.2k-24.amzn2.0.8", finding.SeverityMedium, "Amazon Linux"}}},
		{amzn("openssl-libs", "1:1.0.2k-24.amzn2.0.8", "2"), nil},
		// rpm order: a package without an epoch is below any epoch 1.
		{amzn("openssl", "1.0.2k-24.amzn2.0.10", "2"),
			[]want{{"openssl", "ALAS2-2024-2450", "1:1.0.2k-24.amzn2.0.8", finding.SeverityMedium, "Amazon Linux"}}},
		{amzn("libcurl", "8.3.0-1.amzn2.0.15", "2"),
			[]want{{"libcurl", "ALAS2-2024-2512", "8.3.0-1.amzn2.0.16", finding.SeverityHigh, "Amazon Linux"}}},
		// AL2's curl advisory says nothing of AL2023's libcurl-minimal, nor
		// AL2023's of AL2's.
		{amzn("libcurl", "8.3.0-1.amzn2023.0.1", "2023"), nil},
		{amzn("libcurl-minimal", "8.3.0-1.amzn2.0.1", "2"), nil},
	}
	for _, tt := range tests {
		res, err := Match(ctx, db, []sbom.Package{tt.pkg}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := summarize(res.Findings); !equalWants(got, tt.want) {
			t.Errorf("%s %s (%s):\n got  %v\n want %v", tt.pkg.Name, tt.pkg.Version, tt.pkg.Ecosystem, got, tt.want)
		}
	}
}
