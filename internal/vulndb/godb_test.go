package vulndb

import (
	"context"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
)

// TestImportGoVulnDB imports the real Go vulnerability database and checks
// well-known records.
func TestImportGoVulnDB(t *testing.T) {
	if testing.Short() {
		t.Skip("imports the whole Go vulnerability database")
	}
	dir := vulndbtest.GoVulnDB(t)
	ctx := context.Background()
	c := Cache{Dir: t.TempDir()}
	start := time.Now()
	res, err := c.ImportOSV(ctx, dir, "go-vulndb", testNow)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("imported %d records (%d skipped, %d withdrawn) in %v", res.Source.Records, res.Source.Skipped, res.Withdrawn, time.Since(start))
	if res.Source.Records < 4500 || res.Source.Skipped != 0 {
		t.Errorf("records %d, skipped %d (%v); want the whole database", res.Source.Records, res.Source.Skipped, res.Errors)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct{ pkg, id string }{
		{"golang.org/x/text", "GO-2021-0113"},
		{"stdlib", "GO-2022-0969"},
		{"golang.org/x/net", "GO-2023-2102"},
	} {
		recs, err := db.Lookup("Go", tt.pkg)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range recs {
			found = found || r.ID == tt.id
		}
		if !found {
			t.Errorf("Lookup(Go, %s): %d records, none is %s", tt.pkg, len(recs), tt.id)
		}
	}
}
