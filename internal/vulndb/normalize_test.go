package vulndb

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestLookupNormalisedNames: NuGet and Packagist names are
// case-insensitive and SwiftURL names are repository URLs; a lookup finds
// the record however the package spells them, and a file built before
// the names were normalised (its index key as the record spelled it) is
// still read.
func TestLookupNormalisedNames(t *testing.T) {
	ctx := context.Background()
	c := Cache{Dir: t.TempDir()}
	if _, err := c.ImportOSV(ctx, writeZip(t, map[string]string{
		"a.json": recordJSON("GHSA-a", "NuGet", "Newtonsoft.Json"),
		"b.json": recordJSON("GHSA-b", "Packagist", "Symfony/Http-Kernel"),
		"c.json": recordJSON("GHSA-c", "SwiftURL", "github.com/Vapor/vapor"),
	}), "ghsa", time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ eco, name, id string }{
		{"NuGet", "newtonsoft.json", "GHSA-a"},
		{"NuGet", "NEWTONSOFT.JSON", "GHSA-a"},
		{"Packagist", "symfony/http-kernel", "GHSA-b"},
		{"SwiftURL", "https://github.com/vapor/vapor.git", "GHSA-c"},
	} {
		assertIDs(t, db, tc.eco, tc.name, tc.id)
	}
	db.Close()

	// Re-key the index as an older build wrote it.
	b, err := bolt.Open(c.DBPath(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketIndex)
		ids := idx.Get([]byte("nuget\x00newtonsoft.json"))
		if err := idx.Put([]byte("nuget\x00Newtonsoft.Json"), append([]byte(nil), ids...)); err != nil {
			return err
		}
		return idx.Delete([]byte("nuget\x00newtonsoft.json"))
	}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	db, err = c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	assertIDs(t, db, "NuGet", "Newtonsoft.Json", "GHSA-a")
}

// FuzzAppendStripped: for every valid JSON document, stripping the
// whitespace between tokens gives exactly what json.Compact gives (the
// stored form of an imported record).
func FuzzAppendStripped(f *testing.F) {
	for _, s := range []string{
		`{ "id" : "X-1", "details": "a \"quoted\" \\ word\n\t with  spaces" ,"affected":[ {"versions" :[ "1" , "2" ]} ] }`,
		"[\r\n 1 ,\t2 ]", `"\\"`, `{"a":"\\\" b"}`, " null ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, data); err != nil {
			t.Fatal(err)
		}
		if got := appendStripped([]byte("p"), data); string(got) != "p"+want.String() {
			t.Fatalf("appendStripped(%q) = %q, want %q", data, got[1:], want.Bytes())
		}
	})
}
