package vulndb

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

// affectedSummary lists a database's entries for packages as
// "ID ecosystem name fixed/last_affected state severity".
func affectedSummary(t *testing.T, db *DB, eco string, names ...string) []string {
	t.Helper()
	var out []string
	for _, name := range names {
		recs, err := db.Lookup(eco, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			for i := range r.Affected {
				a := &r.Affected[i]
				if a.Package.Name != name {
					continue
				}
				ev := a.Ranges[0].Events
				bound := "-"
				if len(ev) > 1 {
					bound = ev[1].Fixed + ev[1].LastAffected
					if ev[1].LastAffected != "" {
						bound = "<=" + bound
					}
				}
				state, _ := a.SpecificFixState()
				out = append(out, strings.Join([]string{r.ID, a.Package.Ecosystem, name, bound, state, r.SpecificSeverity(a), strings.Join(r.Aliases, ",")}, " "))
			}
		}
	}
	return out
}

// TestOracleOVAL downloads Oracle's ELSA OVAL (compressed, as Oracle
// serves it) with `db update`: each patch definition is a record of its
// platform's release with the fixed evr of every rpminfo test, the CVE
// references as aliases and ELSA's severity. Inventory definitions give
// nothing; a definition without a release is skipped and counted.
func TestOracleOVAL(t *testing.T) {
	db, res := vendorUpdate(t, "oval-oracle", "/security/oval/com.oracle.elsa-all.xml.gz",
		gzipBytes(t, readFile(t, "testdata/oval/com.oracle.elsa-test.xml")))
	if res.Records != 2 || res.Skipped != 1 {
		t.Fatalf("update: %+v", res)
	}
	got := affectedSummary(t, db, "Oracle Linux", "openssl", "openssl-libs", "libuuid")
	want := []string{
		"ELSA-2024-2447 Oracle Linux:9 openssl 1:3.0.7-27.0.1.el9  MODERATE CVE-2024-0727",
		"ELSA-2024-2447 Oracle Linux:9 openssl-libs 1:3.0.7-27.0.1.el9  MODERATE CVE-2024-0727",
		"ELSA-2023-7877 Oracle Linux:8 libuuid 2.32.1-43.0.1.el8_9  LOW CVE-2022-0563",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestAzureLinuxOVAL: Microsoft's CBL-Mariner OVAL, one definition per
// CVE and package; a patchable one has a fixed version, one without a
// patch ("less than or equal") a last affected version and the state
// affected. The release comes from the source name.
func TestAzureLinuxOVAL(t *testing.T) {
	db, res := vendorUpdate(t, "oval-mariner-2.0", "/AzureLinuxVulnerabilityData/main/cbl-mariner-2.0-oval.xml",
		readFile(t, "testdata/oval/cbl-mariner-2.0-oval.xml"))
	if res.Records != 2 || res.Skipped != 0 {
		t.Fatalf("update: %+v", res)
	}
	got := affectedSummary(t, db, "Mariner", "curl", "openssl")
	want := []string{
		"MARINER-2.0-41001-1 Mariner:2.0 curl 7.76.0-7.cm2  High CVE-2022-22576",
		"MARINER-2.0-41002-1 Mariner:2.0 openssl <=1.1.1k-7.cm2 affected Medium CVE-2023-0464",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, bad := range []string{"oval", "oval-debian", "oval-mariner-x"} {
		if _, err := ovalEcosystem(bad); err == nil {
			t.Errorf("ovalEcosystem(%q) accepted", bad)
		}
	}
}

// TestPhoton: Photon OS's CVE metadata for a release, grouped by CVE;
// "NA" is no fix yet; the CVSS score gives the rating.
func TestPhoton(t *testing.T) {
	db, res := vendorUpdate(t, "photon-5.0", "/photon/photon_cve_metadata/cve_data_photon5.0.json",
		readFile(t, "testdata/photon/cve_data_photon5.0.json"))
	if res.Records != 2 || res.Skipped != 1 {
		t.Fatalf("update: %+v", res)
	}
	got := affectedSummary(t, db, "Photon OS", "openssl", "openssl-fips-provider", "glibc")
	want := []string{
		"PHOTON-5.0-CVE-2023-0464 Photon OS:5.0 openssl 3.0.8-2.ph5  high CVE-2023-0464",
		"PHOTON-5.0-CVE-2023-0464 Photon OS:5.0 openssl-fips-provider 3.0.8-2.ph5  high CVE-2023-0464",
		"PHOTON-5.0-CVE-2024-2961 Photon OS:5.0 glibc - affected high CVE-2024-2961",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if _, err := photonEcosystem("photon"); err == nil {
		t.Error("photon without a release accepted")
	}
}

// TestBodhi: a page of Fedora's Bodhi updates; stable security updates
// of Fedora (not EPEL, not testing, not enhancements) are records of
// their source packages, fixed at the build's epoch:version-release,
// with the CVEs their bugs name.
func TestBodhi(t *testing.T) {
	db, res := vendorUpdate(t, "bodhi-fedora", "/updates/page-1.json", readFile(t, "testdata/bodhi/updates-page-1.json"))
	if res.Records != 1 || res.Skipped != 1 {
		t.Fatalf("update: %+v", res)
	}
	got := affectedSummary(t, db, "Fedora", "openssl", "curl", "tzdata", "foo")
	want := []string{"FEDORA-2024-1b2d3c4e5f Fedora:40 openssl 1:3.1.4-3.fc40  medium CVE-2024-0727"}
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	c := Cache{Dir: t.TempDir()}
	for _, doc := range []string{`[]`, `{"page": 1}`, `{"updates": 5}`} {
		p := t.TempDir() + "/page.json"
		if err := writeFile(p, doc); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Import(context.Background(), p, "bodhi", "", testNow); err == nil {
			t.Errorf("import of %s succeeded", doc)
		}
	}
}

// FuzzVendorFormats feeds hostile documents to the OVAL, Photon and
// Bodhi readers: an error or valid records, never a panic.
func FuzzVendorFormats(f *testing.F) {
	f.Add(uint8(0), readFile(f, "testdata/oval/com.oracle.elsa-test.xml"))
	f.Add(uint8(1), readFile(f, "testdata/oval/cbl-mariner-2.0-oval.xml"))
	f.Add(uint8(2), readFile(f, "testdata/photon/cve_data_photon5.0.json"))
	f.Add(uint8(3), readFile(f, "testdata/bodhi/updates-page-1.json"))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		var st readStats
		var recs []*Record
		switch kind % 4 {
		case 0:
			recs, _ = parseOVAL(context.Background(), bytes.NewReader(data), "Oracle Linux", &st)
		case 1:
			recs, _ = parseOVAL(context.Background(), bytes.NewReader(data), "Mariner:2.0", &st)
		case 2:
			recs, _ = parsePhoton(bytes.NewReader(data), "Photon OS:5.0", &st)
		default:
			recs, _ = parseBodhiPage(data, &st)
		}
		for _, r := range recs {
			if len(r.Affected) == 0 || r.ID == "" {
				t.Fatalf("record without packages or ID: %+v", r)
			}
			_ = r.validate() // the readers skip invalid records
		}
	})
}
