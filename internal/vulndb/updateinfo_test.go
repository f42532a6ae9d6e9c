package vulndb

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestALAS reads Amazon Linux's updateinfo.xml (gzip-compressed, as the
// repositories serve it) from a local server with `db update`: security
// advisories become records of "Amazon Linux:2023" with their CVEs as
// aliases, the fixed epoch:version-release and ALAS's severity; bug fix
// updates and invalid advisories are left out. The release comes from
// the source name.
func TestALAS(t *testing.T) {
	ctx := context.Background()
	srv, ts := newOSVServer(t)
	xml, err := os.ReadFile("testdata/alas/updateinfo-al2023.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv.set("/al2023/updateinfo.xml.gz", gzipBytes(t, xml), `"a1"`)
	c := Cache{Dir: t.TempDir()}
	res, err := c.Update(ctx, UpdateOptions{Sources: []Source{{Name: "alas-2023", URL: ts.URL + "/al2023/updateinfo.xml.gz"}}, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sources) != 1 || res.Sources[0].Records != 2 || res.Sources[0].Skipped != 1 {
		t.Fatalf("update: %+v", res.Sources)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.HasEcosystem("Amazon Linux:2023") || db.Metadata().Ecosystems["Amazon Linux"] != 2 {
		t.Errorf("ecosystems: %v", db.Metadata().Ecosystems)
	}
	recs, err := db.Lookup("Amazon Linux:2023", "openssl-libs")
	if err != nil || len(recs) != 1 {
		t.Fatalf("lookup openssl-libs: %v %v", recs, err)
	}
	r := recs[0]
	a := r.Affected[0]
	if r.ID != "ALAS2023-2024-507" || len(r.Aliases) != 1 || r.Aliases[0] != "CVE-2024-0727" || len(r.Affected) != 2 ||
		a.Package.Ecosystem != "Amazon Linux:2023" || a.Ranges[0].Events[1].Fixed != "1:3.0.8-1.amzn2023.0.3" ||
		r.SpecificSeverity(&a) != "medium" || r.Published == nil || r.Modified.IsZero() {
		t.Errorf("record: %+v", r)
	}
	if recs, _ := db.Lookup("Amazon Linux:2023", "tzdata"); len(recs) != 0 {
		t.Errorf("bug fix update imported: %v", recs)
	}

	for _, bad := range []string{"alas-amazon", "alas-20x3"} {
		if _, err := c.Update(ctx, UpdateOptions{Sources: []Source{{Name: bad, URL: ts.URL + "/al2023/updateinfo.xml.gz"}}}); err == nil {
			t.Errorf("source %q: no error for an unknown release", bad)
		}
	}
	if _, err := alasEcosystem("alas-2"); err != nil {
		t.Error(err)
	}
}
