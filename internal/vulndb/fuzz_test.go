package vulndb

import (
	"encoding/json"
	"testing"
)

// FuzzParseRecord checks that hostile records are rejected or accepted
// without panicking, and that an accepted record survives the round trip
// through the stored form.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"id":"GO-2021-0113","modified":"2021-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := ParseRecord(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatalf("marshal accepted record: %v", err)
		}
		again, err := ParseRecord(b)
		if err != nil {
			t.Fatalf("stored form of an accepted record rejected: %v\n%s", err, b)
		}
		if again.ID != rec.ID || len(again.Affected) != len(rec.Affected) {
			t.Fatalf("round trip changed the record: %s", b)
		}
	})
}
