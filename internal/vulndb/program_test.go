package vulndb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestOpenOtherSchemaVersion: a database file of another schema version
// is refused, and the error tells the user to rebuild it with the binary
// the cache's caller names (palisade by default), the lean palisade-scan
// included.
func TestOpenOtherSchemaVersion(t *testing.T) {
	ctx := context.Background()
	c := Cache{Dir: t.TempDir()}
	if _, err := c.ImportOSV(ctx, "testdata/osv", "fixtures", testNow); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(c.DBPath(), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		var meta map[string]any
		if err := json.Unmarshal(m.Get(keyMeta), &meta); err != nil {
			return err
		}
		meta["schemaVersion"] = SchemaVersion + 1
		raw, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		return m.Put(keyMeta, raw)
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	for program, advice := range map[string]string{"": "run `palisade db update`", "palisade-scan": "run `palisade-scan db update`"} {
		want := fmt.Sprintf("schema version %d, want %d (%s)", SchemaVersion+1, SchemaVersion, advice)
		if _, err := (Cache{Dir: c.Dir, Program: program}).Open(ctx); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("program %q: Open: %v, want %q in the error", program, err, want)
		}
	}
}
