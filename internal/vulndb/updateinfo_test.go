package vulndb

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestALAS reads Amazon Linux's updateinfo.xml (gzip-compressed, as the
// repositories serve it) of Amazon Linux 2 and 2023 from a local server
// with `db update`: security advisories become records of "Amazon
// Linux:2" or "Amazon Linux:2023" (the release comes from the source
// name) with their CVEs as aliases, the fixed epoch:version-release and
// ALAS's severity; bug fix and enhancement updates and invalid
// advisories are left out. Both releases live in one database apart.
func TestALAS(t *testing.T) {
	ctx := context.Background()
	srv, ts := newOSVServer(t)
	for _, f := range []string{"al2", "al2023"} {
		xml, err := os.ReadFile("testdata/alas/updateinfo-" + f + ".xml")
		if err != nil {
			t.Fatal(err)
		}
		srv.set("/"+f+"/updateinfo.xml.gz", gzipBytes(t, xml), `"`+f+`"`)
	}
	c := Cache{Dir: t.TempDir()}
	res, err := c.Update(ctx, UpdateOptions{Sources: []Source{
		{Name: "alas-2", URL: ts.URL + "/al2/updateinfo.xml.gz"},
		{Name: "alas-2023", URL: ts.URL + "/al2023/updateinfo.xml.gz"},
	}, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sources) != 2 || res.Sources[0].Records != 2 || res.Sources[0].Skipped != 0 ||
		res.Sources[1].Records != 2 || res.Sources[1].Skipped != 1 {
		t.Fatalf("update: %+v", res.Sources)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.HasEcosystem("Amazon Linux:2023") || !db.HasEcosystem("Amazon Linux:2") || db.Metadata().Ecosystems["Amazon Linux"] != 4 {
		t.Errorf("ecosystems: %v", db.Metadata().Ecosystems)
	}
	for _, tc := range []struct {
		release, id, fixed, severity string
		affected                     int
	}{
		{"2023", "ALAS2023-2024-507", "1:3.0.8-1.amzn2023.0.3", "medium", 2},
		{"2", "ALAS2-2024-2450", "1:1.0.2k-24.amzn2.0.8", "medium", 2},
	} {
		recs, err := db.Lookup("Amazon Linux:"+tc.release, "openssl-libs")
		if err != nil {
			t.Fatal(err)
		}
		var r *Record
		for _, x := range recs {
			if x.Affected[0].Package.Ecosystem == "Amazon Linux:"+tc.release {
				r = x
			}
		}
		if r == nil || len(recs) != 2 {
			t.Fatalf("lookup openssl-libs: %d records, none of %s", len(recs), tc.release)
		}
		a := r.Affected[0]
		if r.ID != tc.id || len(r.Aliases) != 1 || r.Aliases[0] != "CVE-2024-0727" || len(r.Affected) != tc.affected ||
			a.Ranges[0].Events[1].Fixed != tc.fixed || r.SpecificSeverity(&a) != tc.severity || r.Published == nil || r.Modified.IsZero() {
			t.Errorf("record: %+v", r)
		}
	}
	for _, name := range []string{"tzdata", "awscli"} {
		if recs, _ := db.Lookup("Amazon Linux:2", name); len(recs) != 0 {
			t.Errorf("%s: non-security update imported: %v", name, recs)
		}
	}

	for _, bad := range []string{"alas-amazon", "alas-20x3"} {
		if _, err := c.Update(ctx, UpdateOptions{Sources: []Source{{Name: bad, URL: ts.URL + "/al2023/updateinfo.xml.gz"}}}); err == nil {
			t.Errorf("source %q: no error for an unknown release", bad)
		}
	}
}
